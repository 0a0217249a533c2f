"""Revoked access tokens remembered: DOT deletes them, the admin still lists them.

A deletion is a revocation when a token still valid is deleted for its own
sake: by ``AccessToken.revoke()`` or a delete of access tokens (the revocation
endpoint, the admin's "Revoke", a replayed code or refresh token, a refresh
that replaces the token). A token that had expired is not revoked, and the
tokens of a deleted client or user go with it (their deletion's ``origin``
is that client or user), so neither is recorded.

``revoked_meanwhile()`` tells which kinds of token a block of code revoked
(the revocation endpoint records them in the audit trail) from the same
signals, rather than with queries of its own before DOT's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from .cache.tokens import token_models
from .lifetimes import refresh_token_life
from .models import RevokedAccessToken

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
_revoked: ContextVar[set[str] | None] = ContextVar("source_oauth_revoked", default=None)


@contextmanager
def revoked_meanwhile() -> Iterator[set[str]]:
    """The kinds of token (``access_token``, ``refresh_token``) revoked inside the block."""
    kinds: set[str] = set()
    reset = _revoked.set(kinds)
    try:
        yield kinds
    finally:
        _revoked.reset(reset)


def _deleted_for_its_own_sake(origin: Any) -> bool:
    if isinstance(origin, QuerySet):
        return issubclass(origin.model, AccessToken)
    return isinstance(origin, AccessToken)


def forgotten_revocations(now: datetime) -> QuerySet:
    """Records kept past the refresh token life: no token they name can be presented any more."""
    kept = refresh_token_life()
    if kept is None:
        return RevokedAccessToken.objects.none()
    return RevokedAccessToken.objects.filter(revoked__lt=now - kept)


def _remember_revoked(sender: type, instance: Any, origin: Any = None, **kwargs: Any) -> None:
    now = timezone.now()
    if instance.expires <= now or not _deleted_for_its_own_sake(origin):
        return
    if (kinds := _revoked.get()) is not None:
        kinds.add("access_token")
    # Records past the refresh token life go with clear_expired_oauth, in batches, never
    # in a request: a revocation costs the same however many have built up.
    RevokedAccessToken.objects.create(
        token_checksum=instance.token_checksum,
        application_id=instance.application_id,
        user_id=instance.user_id,
        scope=instance.scope,
        created=instance.created,
        expires=instance.expires,
        revoked=now,
    )


def _refresh_token_saved(sender: type, instance: Any, **kwargs: Any) -> None:
    # DOT revokes a refresh token by saving it with ``revoked`` set.
    if instance.revoked is not None and (kinds := _revoked.get()) is not None:
        kinds.add("refresh_token")


post_save.connect(
    _refresh_token_saved, sender=RefreshToken, dispatch_uid="source_oauth_revoked_refresh_token"
)
for _model in token_models():
    post_delete.connect(
        _remember_revoked,
        sender=_model,
        dispatch_uid=f"source_oauth_revoked_access_token_{_model._meta.label_lower}",
    )
