"""A cache of API clients, so a warm token request costs one SQL statement: its INSERT.

A client is looked up on every request that authenticates one (token,
revocation, introspection). Entries live in the shared cache
(``cache.shared``) under the SHA-256 of the client ID, for at most
``CLIENT_CACHE_SECONDS``; an entry is the ``ApiClient`` with the names of its
allowed scopes. It holds what the database row holds, secret hashes included:
SHA-256 digests of 256-bit secrets (see ``secrets``), useless to a reader.

Invalidation is immediate and explicit: saving or deleting a client (its
settings changed, its secret regenerated or rotated), changing its allowed
scopes, or changing or deleting any scope drops the entries concerned on
every server sharing the cache.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from django.db.models.signals import m2m_changed, post_delete, post_save

from ..conf import conf
from ..models import ApiClient, Scope
from . import shared

PREFIX = "source_oauth:client:"


def key(client_id: str) -> str:
    # Hashed: a client ID can be any string, a cache key cannot.
    return PREFIX + hashlib.sha256(client_id.encode()).hexdigest()


def get_client(client_id: str) -> ApiClient | None:
    """The client with this ID, its allowed scope names loaded; None if unknown.

    A hit costs no SQL; a miss costs two queries (the client, its scopes),
    whose result is cached. Unknown IDs are not cached: anyone can make them up.
    """

    def load() -> ApiClient | None:
        client = ApiClient.objects.filter(client_id=client_id).first()
        if client is not None:
            client.allowed_scope_names  # noqa: B018  (loaded now, so the entry carries it)
        return client

    return shared.fetch(key(client_id), load, conf.CLIENT_CACHE_SECONDS)


def forget(client_ids: Iterable[str]) -> None:
    shared.forget(key(client_id) for client_id in client_ids if client_id)


def _client_changed(sender: Any, instance: ApiClient, created: bool = False, **kwargs: Any) -> None:
    # A client just created cannot be cached yet (unknown IDs never are).
    if not created:
        forget([instance.client_id])


def _client_scopes_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any
) -> None:
    if not action.startswith("post_"):
        return
    if not reverse:
        forget([instance.client_id])
    else:  # scope.api_clients.add(...): pk_set holds clients, or None on clear()
        _forget_all()


def _forget_all(**kwargs: Any) -> None:
    # A scope renamed or deleted: rare, and an admin's doing; drop every entry.
    forget(ApiClient.objects.values_list("client_id", flat=True))


def connect() -> None:
    """Connect the invalidation receivers (from ``AppConfig.ready()``)."""
    post_save.connect(_client_changed, sender=ApiClient, dispatch_uid="source_oauth_cc_client_s")
    post_delete.connect(_client_changed, sender=ApiClient, dispatch_uid="source_oauth_cc_client_d")
    m2m_changed.connect(
        _client_scopes_changed,
        sender=ApiClient.allowed_scopes.through,
        dispatch_uid="source_oauth_cc_scopes",
    )
    post_save.connect(_forget_all, sender=Scope, dispatch_uid="source_oauth_cc_scope_s")
    post_delete.connect(_forget_all, sender=Scope, dispatch_uid="source_oauth_cc_scope_d")
