"""The third-party clients that hold access to a user's account, and revoking one.

A client holds access while it has a live access token, an unrevoked refresh
token or a live remembered approval for the user. Revoking deletes its access
tokens one by one (each deletion drops the token from the token cache on every
server at once, see ``cache.tokens``), revokes its refresh tokens (DOT keeps
them as revoked rows, so a replay is recognised), deletes its ID tokens and
authorization codes in flight, and forgets the remembered approval: the
client must ask the user again. All in one transaction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from .. import audit
from ..models import ApiClient
from ..scopes import all_scopes
from . import records
from .models import ConsentRecord

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
IDToken = get_id_token_model()
Grant = get_grant_model()


@dataclass
class ConnectedApp:
    """A third-party client with access to one user's account."""

    client: ApiClient
    scope_names: set[str] = field(default_factory=set)
    last_used: datetime | None = None
    remembered_until: datetime | None = None

    @property
    def scopes(self) -> list[dict[str, str]]:
        """The scopes it holds, with what each gives, as the consent page words them."""
        described = all_scopes()
        return [
            {"name": name, "description": described.get(name, name)}
            for name in sorted(self.scope_names)
        ]


def connected_apps(user: Any) -> list[ConnectedApp]:
    """The third-party clients holding access to ``user``'s account, by name (five queries).

    "Last used" is when the client last obtained an access token for the
    user: the server sees each token issued, not each API call.
    """
    now = timezone.now()
    scopes: defaultdict[int, set[str]] = defaultdict(set)
    remembered: dict[int, datetime] = {}
    third_party = {"user": user, "application__third_party": True}
    live_access = AccessToken.objects.filter(expires__gt=now, **third_party)
    for client_id, scope in live_access.values_list("application_id", "scope"):
        scopes[client_id].update(scope.split())
    live_refresh = RefreshToken.objects.filter(
        revoked__isnull=True, access_token__isnull=False, **third_party
    )
    for client_id, scope in live_refresh.values_list("application_id", "access_token__scope"):
        scopes[client_id].update((scope or "").split())
    approvals = ConsentRecord.objects.filter(user=user, client__third_party=True, expires__gt=now)
    for record in approvals:
        scopes[record.client_id].update(record.scopes)
        remembered[record.client_id] = record.expires
    last_used = dict(
        AccessToken.objects.filter(user=user, application_id__in=list(scopes))
        .values("application_id")
        .annotate(last=Max("created"))
        .values_list("application_id", "last")
    )
    apps = [
        ConnectedApp(client, scopes[client.pk], last_used.get(client.pk), remembered.get(client.pk))
        for client in ApiClient.objects.filter(pk__in=list(scopes))
    ]
    return sorted(apps, key=lambda app: (app.client.name.lower(), app.client.pk))


@transaction.atomic
def disconnect(user: Any, client: ApiClient) -> dict[str, int]:
    """Revoke everything ``client`` holds for ``user``; say how many of each went."""
    access_tokens = AccessToken.objects.filter(user=user, application=client).count()
    refresh_tokens = 0
    for token in RefreshToken.objects.filter(user=user, application=client, revoked__isnull=True):
        token.revoke()  # deletes its access token too
        refresh_tokens += 1
    for token in AccessToken.objects.filter(user=user, application=client):
        token.revoke()  # one by one: each deletion reaches the token cache
    IDToken.objects.filter(user=user, application=client).delete()
    Grant.objects.filter(user=user, application=client).delete()
    approvals = records.forget(user, client)
    counts = {
        "access_tokens": access_tokens,
        "refresh_tokens": refresh_tokens,
        "remembered_approvals": approvals,
    }
    audit.record(
        audit.Action.TOKEN_REVOKED,
        client,
        actor=user,
        tokens=[kind for kind in ("access_token", "refresh_token") if counts[f"{kind}s"]],
        remembered_approval_forgotten=bool(approvals),
        via="connected apps",
    )
    return counts
