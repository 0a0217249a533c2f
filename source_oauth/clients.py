"""Creating API clients and rotating their secrets: one code path for admin and commands."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction

from . import audit
from .models import ApiClient, ImageStyle, Scope


@dataclass(frozen=True)
class Credentials:
    """What a person must copy once: the client ID and, for confidential clients, the secret."""

    client_id: str
    client_secret: str | None

    def as_dict(self) -> dict[str, str | None]:
        return {"client_id": self.client_id, "client_secret": self.client_secret}


@transaction.atomic
def create_api_client(
    name: str,
    *,
    grant_types: Iterable[str],
    scopes: Iterable[str] = (),
    confidential: bool = True,
    third_party: bool = False,
    require_pkce: bool = True,
    redirect_uris: Iterable[str] = (),
    image_styles: Iterable[str] = (),
) -> tuple[ApiClient, Credentials]:
    """Validate and save a new client; return it with its one-time credentials.

    Raises ``django.core.exceptions.ValidationError`` (field errors) for bad
    settings, ``Scope.DoesNotExist``/``ImageStyle.DoesNotExist`` for unknown names.
    """
    client = ApiClient(
        name=name,
        grant_types=list(grant_types),
        confidential=confidential,
        third_party=third_party,
        require_pkce=require_pkce,
        redirect_uris=" ".join(redirect_uris),
    )
    client.full_clean(exclude=["client_secret"])
    secret = client.set_new_secret() if confidential else None
    with audit.one_event():  # created with its scopes and styles: one event
        client.save()
        client.allowed_scopes.set(_named(Scope, scopes))
        client.image_styles.set(_named(ImageStyle, image_styles))
    return client, Credentials(client.client_id, secret)


@transaction.atomic
def rotate_client_secret(client: ApiClient, overlap: timedelta | None = None) -> Credentials:
    """Give a confidential client a new secret.

    The previous secret keeps working for ``overlap`` (default:
    ``SECRET_ROTATION_OVERLAP_SECONDS``), so servers switch without downtime;
    pass ``timedelta(0)`` when the old secret leaked.
    """
    if not client.confidential:
        raise ValueError("A public client has no secret to rotate.")
    secret = client.set_new_secret(overlap)
    client.save(
        update_fields=[
            "client_secret",
            "previous_client_secret",
            "previous_secret_expires",
            "updated",
        ]
    )
    until = client.previous_secret_expires
    audit.record(
        audit.Action.SECRET_ROTATED,
        client,
        previous_secret_valid_until=until.isoformat() if until else None,
    )
    return Credentials(client.client_id, secret)


def _named(model: type[Scope] | type[ImageStyle], names: Iterable[str]) -> list:
    names = list(dict.fromkeys(names))
    found = {obj.name: obj for obj in model.objects.filter(name__in=names)}
    missing = [name for name in names if name not in found]
    if missing:
        raise model.DoesNotExist(f"Unknown {model._meta.verbose_name}: {', '.join(missing)}")
    return [found[name] for name in names]
