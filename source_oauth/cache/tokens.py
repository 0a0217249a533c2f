"""A cache of access tokens, so a protected request costs no SQL when warm.

Entries live in the shared cache (``cache.shared``) under the token's SHA-256
checksum, never the token itself. An entry holds the ``AccessToken`` with its
client and user, and lives at most ``TOKEN_CACHE_SECONDS`` and never past the
token's expiry.

Invalidation is immediate and explicit: deleting or saving a token (DOT
revokes an access token by deleting it), saving or deleting its client
(settings changed, secret rotated) or saving its user drops the entries
concerned, so revocation is honoured at once by every server sharing the
cache.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from ..conf import conf
from ..models import ApiClient
from . import shared
from .compiled import CompiledLookup

AccessToken = get_access_token_model()
PREFIX = "source_oauth:token:"
# A miss loads the token with its client and user: one statement, compiled once.
_by_checksum = CompiledLookup(
    AccessToken.objects.select_related("application", "user"), "token_checksum"
)


def key(token_checksum: str) -> str:
    return PREFIX + token_checksum


def get_access_token(token_checksum: str) -> Any:
    """The access token with this checksum, its client and user loaded; None if unknown.

    A hit costs no SQL; a miss costs one query, whose result is cached.
    """

    def load() -> Any:
        return _by_checksum.first(token_checksum)

    seconds = conf.TOKEN_CACHE_SECONDS  # read once: every protected request comes here

    def timeout(token: Any) -> int:
        remaining = int((token.expires - timezone.now()).total_seconds())
        return min(seconds, remaining)

    return shared.fetch(key(token_checksum), load, timeout if seconds else 0)


def forget(checksums: Iterable[str]) -> None:
    shared.forget(key(checksum) for checksum in checksums if checksum)


def forget_tokens_of(**lookup: Any) -> None:
    """Drop the cached entries of every live token matching ``lookup`` (one query)."""
    forget(
        AccessToken.objects.filter(expires__gt=timezone.now(), **lookup).values_list(
            "token_checksum", flat=True
        )
    )


def _token_changed(sender: Any, instance: Any, created: bool = False, **kwargs: Any) -> None:
    # A token just created cannot be cached yet: no round trip for it on issuance.
    if not created:
        forget([instance.token_checksum])


def _client_changed(sender: Any, instance: ApiClient, **kwargs: Any) -> None:
    if instance.pk:
        forget_tokens_of(application_id=instance.pk)


def _user_changed(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    # A login only touches last_login: nothing a token depends on.
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    forget_tokens_of(user_id=instance.pk)


def token_models() -> list[type]:
    """DOT's access token model and the admin's proxy of it.

    Django sends a model's signals with the class of the instances deleted or
    saved: a token the admin revokes (through its proxy, ``models.AccessToken``)
    is not announced as DOT's model, so receivers must listen to both.
    """
    from ..models import AccessToken as AdminAccessToken

    return [AccessToken] if AdminAccessToken is AccessToken else [AccessToken, AdminAccessToken]


def connect() -> None:
    """Connect the invalidation receivers (from ``AppConfig.ready()``)."""
    for model in token_models():
        label = model._meta.label_lower
        post_save.connect(_token_changed, sender=model, dispatch_uid=f"source_oauth_tc_s_{label}")
        post_delete.connect(_token_changed, sender=model, dispatch_uid=f"source_oauth_tc_d_{label}")
    post_save.connect(_client_changed, sender=ApiClient, dispatch_uid="source_oauth_tc_client_s")
    # A deleted client's tokens are cascade-deleted, each one sending post_delete.
    post_save.connect(
        _user_changed, sender=settings.AUTH_USER_MODEL, dispatch_uid="source_oauth_tc_user_s"
    )
