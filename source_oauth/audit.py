"""The audit trail: recording who created, changed, rotated, revoked or deleted what.

Client changes are recorded from model signals, so every path (admin,
commands, code) is covered; the actor comes from ``acting_as()``, which the
admin and the commands set around their work. Details name fields and
token types, never a secret or a token.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver

from .models import ApiClient, AuditEvent

Action = AuditEvent.Action

_actor: contextvars.ContextVar[str] = contextvars.ContextVar("source_oauth_actor", default="system")

# Fields whose change is not a settings change (secrets are audited as rotations).
_UNAUDITED = {"updated", "client_secret", "previous_client_secret", "previous_secret_expires"}


@contextmanager
def acting_as(actor: Any) -> Iterator[None]:
    """Attribute the audit events recorded inside the block to ``actor`` (a user or a label)."""
    token = _actor.set(describe(actor))
    try:
        yield
    finally:
        _actor.reset(token)


def describe(actor: Any) -> str:
    if isinstance(actor, ApiClient):
        return f"API client {actor.client_id}"
    if hasattr(actor, "get_username"):
        return f"user {actor.get_username()} (#{actor.pk})"
    return str(actor)


def record(action: str, client: ApiClient | None = None, actor: Any = None, **detail: Any) -> None:
    AuditEvent.objects.create(
        action=action,
        actor=describe(actor) if actor is not None else _actor.get(),
        client=client if client is not None and client.pk else None,
        client_name=client.name if client is not None else "",
        client_identifier=client.client_id if client is not None else "",
        detail=detail,
    )


def _settings(client: ApiClient) -> dict[str, Any]:
    return {
        field.attname: field.value_from_object(client)
        for field in client._meta.concrete_fields
        if field.attname not in _UNAUDITED
    }


@receiver(pre_save, sender=ApiClient, dispatch_uid="source_oauth_audit_pre_save")
def _remember_previous(sender: type[ApiClient], instance: ApiClient, **kwargs: Any) -> None:
    if instance.pk and not kwargs.get("raw"):
        previous = ApiClient.objects.filter(pk=instance.pk).first()
        instance._audit_previous = _settings(previous) if previous else None


@receiver(post_save, sender=ApiClient, dispatch_uid="source_oauth_audit_post_save")
def _client_saved(
    sender: type[ApiClient], instance: ApiClient, created: bool, **kwargs: Any
) -> None:
    if kwargs.get("raw"):
        return
    if created:
        record(Action.CLIENT_CREATED, instance)
        return
    previous = getattr(instance, "_audit_previous", None)
    if previous is None:
        return
    current = _settings(instance)
    changed = sorted(name for name, value in current.items() if previous.get(name) != value)
    if changed:
        record(Action.CLIENT_CHANGED, instance, fields=changed)


@receiver(post_delete, sender=ApiClient, dispatch_uid="source_oauth_audit_post_delete")
def _client_deleted(sender: type[ApiClient], instance: ApiClient, **kwargs: Any) -> None:
    AuditEvent.objects.create(
        action=Action.CLIENT_DELETED,
        actor=_actor.get(),
        client=None,
        client_name=instance.name,
        client_identifier=instance.client_id,
    )


def _relation_changed(field: str):
    def handler(sender: Any, instance: Any, action: str, pk_set: set | None, **kwargs: Any) -> None:
        if isinstance(instance, ApiClient) and action in ("post_add", "post_remove", "post_clear"):
            model = ApiClient._meta.get_field(field).related_model
            names = sorted(model.objects.filter(pk__in=pk_set or ()).values_list("name", flat=True))
            verb = {"post_add": "added", "post_remove": "removed", "post_clear": "cleared"}[action]
            record(Action.CLIENT_CHANGED, instance, fields=[field], **{verb: names})

    return handler


for _field in ("allowed_scopes", "image_styles"):
    m2m_changed.connect(
        _relation_changed(_field),
        sender=getattr(ApiClient, _field).through,
        weak=False,
        dispatch_uid=f"source_oauth_audit_{_field}",
    )
