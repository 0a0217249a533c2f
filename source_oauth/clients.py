"""Creating API clients and rotating their secrets: one code path for admin and commands."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction

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
        redirect_uris=" ".join(redirect_uris),
    )
    client.full_clean(exclude=["client_secret"])
    secret = client.set_new_secret() if confidential else None
    client.save()
    client.allowed_scopes.set(_named(Scope, scopes))
    client.image_styles.set(_named(ImageStyle, image_styles))
    return client, Credentials(client.client_id, secret)


def rotate_client_secret(client: ApiClient) -> Credentials:
    """Give a confidential client a new secret; the old one works for the configured overlap."""
    if not client.confidential:
        raise ValueError("A public client has no secret to rotate.")
    secret = client.set_new_secret()
    client.save(
        update_fields=[
            "client_secret",
            "previous_client_secret",
            "previous_secret_expires",
            "updated",
        ]
    )
    return Credentials(client.client_id, secret)


def _named(model: type[Scope] | type[ImageStyle], names: Iterable[str]) -> list:
    names = list(dict.fromkeys(names))
    found = {obj.name: obj for obj in model.objects.filter(name__in=names)}
    missing = [name for name in names if name not in found]
    if missing:
        raise model.DoesNotExist(f"Unknown {model._meta.verbose_name}: {', '.join(missing)}")
    return [found[name] for name in names]
