"""When a client's allowed scopes shrink, so do the tokens it already holds.

"A token never carries a scope outside them" (the API client's allowed
scopes) must hold after an administrator takes a scope away too, not only
when the next token is issued. So a removed scope is struck from the client's
live access tokens, and from those a live refresh token will be refreshed
from (DOT takes a refresh's scopes from its access token). Each token is
saved, so the token cache drops it on every server at once (``cache.tokens``).

The scope is taken away by: removing it from the client's allowed scopes
(either side of the relation, ``remove``, ``set`` or ``clear``), deleting the
scope (its relation rows go without a signal), or renaming it (tokens carry
the old name, which no client is allowed any more).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Q
from django.db.models.signals import m2m_changed, pre_delete, pre_save
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from .models import ApiClient, Scope

AccessToken = get_access_token_model()
Allowance = ApiClient.allowed_scopes.through


def strike(client_ids: Iterable[int], removed: Iterable[str]) -> int:
    """Remove the ``removed`` scopes from these clients' tokens still in use; how many changed."""
    client_ids, removed = list(client_ids), set(removed)
    if not client_ids or not removed:
        return 0
    in_use = Q(expires__gt=timezone.now()) | Q(
        refresh_token__isnull=False, refresh_token__revoked__isnull=True
    )
    mentions = Q()
    for name in removed:
        mentions |= Q(scope__contains=name)
    changed = 0
    tokens = AccessToken.objects.filter(in_use, mentions, application_id__in=client_ids)
    for token in tokens.distinct():
        scopes = token.scope.split()
        kept = [scope for scope in scopes if scope not in removed]
        if kept != scopes:
            token.scope = " ".join(kept)
            token.save(update_fields=["scope", "updated"])  # and out of the token cache
            changed += 1
    return changed


def _allowance_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: set | None, **kwargs: Any
) -> None:
    if action == "pre_clear":
        # What is about to go, before it is gone (post_clear carries no pk_set).
        if reverse:  # scope.api_clients.clear()
            clients = list(instance.api_clients.values_list("pk", flat=True))
            instance._narrowing = ({instance.name}, clients)
        else:  # client.allowed_scopes.clear()
            names = set(instance.allowed_scopes.values_list("name", flat=True))
            instance._narrowing = (names, [instance.pk])
    elif action == "post_clear":
        removed, client_ids = getattr(instance, "_narrowing", (set(), []))
        strike(client_ids, removed)
    elif action == "post_remove" and pk_set:
        if reverse:  # scope.api_clients.remove(*clients)
            strike(pk_set, {instance.name})
        else:  # client.allowed_scopes.remove(*scopes), or set()
            strike(
                [instance.pk], Scope.objects.filter(pk__in=pk_set).values_list("name", flat=True)
            )


def _scope_deleted(sender: Any, instance: Scope, **kwargs: Any) -> None:
    strike(instance.api_clients.values_list("pk", flat=True), {instance.name})


def _scope_renamed(sender: Any, instance: Scope, raw: bool = False, **kwargs: Any) -> None:
    if raw or instance.pk is None:
        return
    old = Scope.objects.filter(pk=instance.pk).values_list("name", flat=True).first()
    if old is not None and old != instance.name:
        strike(instance.api_clients.values_list("pk", flat=True), {old})


m2m_changed.connect(_allowance_changed, sender=Allowance, dispatch_uid="source_oauth_narrowing")
pre_delete.connect(_scope_deleted, sender=Scope, dispatch_uid="source_oauth_narrowing_deleted")
pre_save.connect(_scope_renamed, sender=Scope, dispatch_uid="source_oauth_narrowing_renamed")
