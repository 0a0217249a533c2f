"""DOT's applications as stored, and what each becomes as an API client.

The stock ``oauth2_provider.Application`` model is swapped out once the
settings name ``source_oauth.ApiClient``: its manager is gone. Its table is
read, and named as the old target of the foreign keys that move, through a
stand-in model (``application_table``) that Django's app registry never sees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.apps.registry import Apps
from django.contrib.auth.hashers import identify_hasher
from django.core.exceptions import ValidationError
from django.db import models

from ..models import ApiClient
from ..secrets import hash_secret, legacy_algorithm
from ..validation import validate_api_client

TABLE = "oauth2_provider_application"
GrantType = ApiClient.GrantType

# DOT's one grant type per application -> the grant types of the API client. DOT gave
# refresh tokens to every grant but client credentials and implicit, so the clients
# that had them keep refreshing the tokens they hold.
GRANTS: dict[str, list[str]] = {
    "authorization-code": [GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN],
    "client-credentials": [GrantType.CLIENT_CREDENTIALS],
    "openid-hybrid": [GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN],
    "password": [GrantType.REFRESH_TOKEN],
    "urn:ietf:params:oauth:grant-type:device_code": [GrantType.REFRESH_TOKEN],
    "implicit": [],
}
# Grants source_oauth does not offer (RFC 9700 §2.1.2, §2.4; no device flow): said aloud.
DROPPED_GRANTS = {
    "openid-hybrid": "the OpenID Connect hybrid flow (its code flow is kept)",
    "password": "the password grant (RFC 9700 §2.4)",
    "urn:ietf:params:oauth:grant-type:device_code": "the device authorization grant",
    "implicit": "the implicit grant (RFC 9700 §2.1.2)",
}
# Columns copied unchanged: those ApiClient inherits from DOT's AbstractApplication.
COPIED = [
    "client_id",
    "name",
    "user_id",
    "redirect_uris",
    "post_logout_redirect_uris",
    "algorithm",
    "allowed_origins",
    "registration_source",
    "cimd_expires_at",
]


def read_applications(using: str) -> list[dict[str, Any]]:
    """Every row of DOT's application table (DOT 3.4's columns), by primary key."""
    return list(application_table()._base_manager.using(using).order_by("pk").values())


@dataclass
class AdoptedClient:
    """One DOT application, as the API client it becomes."""

    pk: int
    values: dict[str, Any]  # ApiClient fields of its first migration
    client_secret: str  # stored as it is: a legacy hash, our hash, or ""
    secret: str  # what happens to the secret, for the report
    grant_types: list[str]
    require_pkce: bool
    created: datetime
    updated: datetime
    warnings: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"#{self.pk} “{self.values['name']}” ({self.values['client_id']})"


def adopt_application(
    row: dict[str, Any], pkce_required: bool | Callable[[str], bool]
) -> AdoptedClient:
    """Turn one row of DOT's application table into the API client that replaces it."""
    confidential = row["client_type"] == "confidential"
    grant = row["authorization_grant_type"]
    client = AdoptedClient(
        pk=row["id"],
        values={name: row[name] for name in COPIED}
        | {"confidential": confidential, "third_party": not row["skip_authorization"]},
        client_secret="",
        secret="",
        grant_types=list(GRANTS.get(grant, [])),
        require_pkce=True,
        created=row["created"],
        updated=row["updated"],
    )
    _adopt_secret(client, row["client_secret"] or "", confidential, row["hash_client_secret"])
    if confidential:
        required = pkce_required(row["client_id"]) if callable(pkce_required) else pkce_required
        client.require_pkce = bool(required)
    if grant in DROPPED_GRANTS:
        client.warnings.append(
            f"used {DROPPED_GRANTS[grant]}, which source_oauth does not offer: the tokens it "
            f"holds keep working; its grant types become {', '.join(client.grant_types) or 'none'}."
        )
    elif grant not in GRANTS:
        client.warnings.append(f"had the unknown grant type {grant!r}: it gets no grant type.")
    client.warnings.extend(_rule_breaks(client))
    return client


def _adopt_secret(client: AdoptedClient, stored: str, confidential: bool, hashed: bool) -> None:
    """Keep what DOT stored if it is a hash (as DOT checks it: any hasher Django identifies)."""
    if not confidential:
        # DOT gives public applications a secret too; they never authenticate with it.
        client.secret = "none (public client)"
        return
    if not stored:
        client.secret = "none: it cannot authenticate until an admin generates one"
        return
    algorithm = legacy_algorithm(stored)
    if algorithm is not None:
        client.client_secret = stored
        client.secret = f"{algorithm} hash, replaced by source_oauth's at its first use"
        try:
            identify_hasher(stored).decode(stored)
        except ValueError:
            client.warnings.append(
                f"has a secret hashed with {algorithm}, whose library is not installed: it "
                "cannot authenticate until it is (or an admin generates a new secret)."
            )
        return
    if hashed:
        # DOT hashed it with a hasher PASSWORD_HASHERS no longer lists: kept, unusable until
        # the hasher is back (DOT could not check it either).
        client.client_secret = stored
        client.secret = "a hash of an unknown hasher"
        client.warnings.append(
            "has a secret hashed by a hasher missing from PASSWORD_HASHERS: it cannot "
            "authenticate. Add that hasher back, or generate a new secret in the admin."
        )
        return
    # DOT stored it in plain text (hash_client_secret off): hashed now, as source_oauth does.
    client.client_secret = hash_secret(stored)
    client.secret = "plain text in DOT's table, stored hashed from now on"


def _rule_breaks(client: AdoptedClient) -> list[str]:
    """What source_oauth's rules refuse in the adopted settings (fixed when next edited)."""
    candidate = ApiClient(
        confidential=client.values["confidential"],
        grant_types=client.grant_types,
        redirect_uris=client.values.get("redirect_uris") or "",
        client_secret=client.client_secret,
    )
    try:
        validate_api_client(candidate)
    except ValidationError as error:
        messages = [message for messages in error.message_dict.values() for message in messages]
        return [
            "breaks a rule of source_oauth, to be fixed when an admin next saves it "
            f"(until then it works as before): {message}"
            for message in messages
        ]
    return []


def application_table() -> type[models.Model]:
    """A stand-in for DOT's swapped-out Application model, as DOT 3.4 left its table.

    In a registry of its own, so Django's app registry never sees it. The
    user column is read as it is (the user model's key may be of any type).
    """
    meta = type("Meta", (), {"apps": Apps([]), "app_label": "oauth2_provider", "db_table": TABLE})
    text = {"blank": True, "default": ""}
    columns: dict[str, Any] = {
        "id": models.BigAutoField(primary_key=True),
        "client_id": models.CharField(max_length=255),
        "name": models.CharField(max_length=255),
        "user_id": models.Field(null=True),
        "redirect_uris": models.TextField(**text),
        "post_logout_redirect_uris": models.TextField(**text),
        "client_type": models.CharField(max_length=32),
        "authorization_grant_type": models.CharField(max_length=44),
        "client_secret": models.CharField(max_length=255, **text),
        "hash_client_secret": models.BooleanField(default=True),
        "skip_authorization": models.BooleanField(default=False),
        "created": models.DateTimeField(),
        "updated": models.DateTimeField(),
        "algorithm": models.CharField(max_length=5, **text),
        "allowed_origins": models.TextField(**text),
        "registration_source": models.CharField(max_length=32, default="manual"),
        "cimd_expires_at": models.DateTimeField(null=True),
    }
    return type("Application", (models.Model,), {"__module__": __name__, "Meta": meta, **columns})
