"""The audit trail: recording who created, changed, rotated, revoked or deleted what.

Client changes are recorded from model signals, so every path (admin,
commands, code) is covered; the actor comes from ``acting_as()``, which the
admin and the commands set around their work. Inside ``one_event()`` (an
admin save, a command) a client's saves and its scope and image-style changes
become one event, recorded at the end. Details name fields, their old and new
values, and token types; never a secret or a token. ``describe_detail()``
says them in words for the admin.
"""

from __future__ import annotations

import contextvars
import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver
from django.utils.dateparse import parse_datetime
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .models import ApiClient, AuditEvent

Action = AuditEvent.Action

_actor: contextvars.ContextVar[str] = contextvars.ContextVar("source_oauth_actor", default="system")
# Client events waiting for the end of ``one_event()``, by client pk; None outside it.
_pending: contextvars.ContextVar[dict[int, dict[str, Any]] | None] = contextvars.ContextVar(
    "source_oauth_pending_events", default=None
)

# Fields whose change is not a settings change (secrets are audited as rotations).
_UNAUDITED = {
    "id",
    "created",
    "updated",
    "client_secret",
    "previous_client_secret",
    "previous_secret_expires",
    "cimd_expires_at",
}
_RELATIONS = ("allowed_scopes", "image_styles")


@contextmanager
def acting_as(actor: Any) -> Iterator[None]:
    """Attribute the audit events recorded inside the block to ``actor`` (a user or a label)."""
    token = _actor.set(describe(actor))
    try:
        yield
    finally:
        _actor.reset(token)


def command_line(command: Any) -> str:
    """The actor of a management command: "command line (manage.py NAME, OS user USER)"."""
    name = type(command).__module__.rsplit(".", 1)[-1]
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name: a container without a passwd entry
        return _("command line (manage.py %(command)s)") % {"command": name}
    return _("command line (manage.py %(command)s, OS user %(user)s)") % {
        "command": name,
        "user": user,
    }


def describe(actor: Any) -> str:
    if isinstance(actor, ApiClient):
        return f"API client {actor.client_id}"
    if hasattr(actor, "get_username"):
        return f"user {actor.get_username()} (#{actor.pk})"
    return str(actor)


@contextmanager
def one_event() -> Iterator[None]:
    """Record what the block does to each client as one event (created or changed), at its end.

    Nested blocks join the outermost. Nothing is recorded if the block raises
    (its transaction is rolled back too).
    """
    if _pending.get() is not None:
        yield
        return
    token = _pending.set({})
    try:
        yield
        for entry in _pending.get().values():
            if entry["action"] == Action.CLIENT_CREATED or entry["detail"]["changes"]:
                _write(entry["action"], entry["client"], entry["actor"], entry["detail"])
    finally:
        _pending.reset(token)


def record(action: str, client: ApiClient | None = None, actor: Any = None, **detail: Any) -> None:
    _write(action, client, describe(actor) if actor is not None else _actor.get(), detail)


def _write(
    action: str, client: ApiClient | None, actor: str, detail: dict[str, Any], *, link: bool = True
) -> None:
    AuditEvent.objects.create(
        action=action,
        actor=actor,
        client=client if link and client is not None and client.pk else None,
        client_name=client.name if client is not None else "",
        client_identifier=client.client_id if client is not None else "",
        detail=detail,
    )


def _client_event(action: str, client: ApiClient, changes: dict[str, Any]) -> None:
    """Record a client's creation or change, or add it to the block's pending event."""
    pending = _pending.get()
    if pending is None:
        if action == Action.CLIENT_CREATED or changes:
            _write(action, client, _actor.get(), _detail(changes))
        return
    entry = pending.setdefault(
        client.pk,
        {"action": action, "client": client, "actor": _actor.get(), "detail": _detail({})},
    )
    entry["client"] = client
    merged = entry["detail"]["changes"]
    for field, change in changes.items():
        if field in _RELATIONS and field in merged:
            for key in ("added", "removed"):
                merged[field][key] = sorted({*merged[field].get(key, []), *change.get(key, [])})
        elif field in merged:
            merged[field] = {"from": merged[field]["from"], "to": change["to"]}
        else:
            merged[field] = change
    entry["detail"]["fields"] = sorted(merged)


def _detail(changes: dict[str, Any]) -> dict[str, Any]:
    return {"fields": sorted(changes), "changes": changes}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


def _settings(client: ApiClient) -> dict[str, Any]:
    return {
        field.attname: _jsonable(field.value_from_object(client))
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
    current = _settings(instance)
    if created:
        # What it was created with: every setting that has a value.
        initial = {
            name: {"from": None, "to": value}
            for name, value in current.items()
            if value not in (None, "", []) and name not in ("client_id", "is_default")
        }
        _client_event(Action.CLIENT_CREATED, instance, initial)
        return
    previous = getattr(instance, "_audit_previous", None)
    if previous is None:
        return
    changes = {
        name: {"from": previous.get(name), "to": value}
        for name, value in current.items()
        if previous.get(name) != value
    }
    _client_event(Action.CLIENT_CHANGED, instance, changes)


@receiver(post_delete, sender=ApiClient, dispatch_uid="source_oauth_audit_post_delete")
def _client_deleted(sender: type[ApiClient], instance: ApiClient, **kwargs: Any) -> None:
    _write(Action.CLIENT_DELETED, instance, _actor.get(), {}, link=False)


def _relation_changed(field: str):
    def handler(sender: Any, instance: Any, action: str, pk_set: set | None, **kwargs: Any) -> None:
        if not isinstance(instance, ApiClient) or action not in ("post_add", "post_remove"):
            return  # post_clear: never sent by ``set()``, which the admin and commands use
        if not pk_set:
            return
        model = ApiClient._meta.get_field(field).related_model
        names = sorted(model.objects.filter(pk__in=pk_set).values_list("name", flat=True))
        key = "added" if action == "post_add" else "removed"
        _client_event(Action.CLIENT_CHANGED, instance, {field: {key: names}})

    return handler


for _field in _RELATIONS:
    m2m_changed.connect(
        _relation_changed(_field),
        sender=getattr(ApiClient, _field).through,
        weak=False,
        dispatch_uid=f"source_oauth_audit_{_field}",
    )


# --- in words, for the admin -------------------------------------------------------------


def describe_detail(event: AuditEvent) -> str:
    """The event's details as a person reads them, e.g. "3rd Party: No → Yes"."""
    detail = event.detail or {}
    if "changes" in detail:
        return "; ".join(
            _describe_change(field, change) for field, change in detail["changes"].items()
        )
    if "tokens" in detail:
        names = {"access_token": _("access token"), "refresh_token": _("refresh token")}
        return capfirst(_(" and ").join(str(names.get(t, t)) for t in detail["tokens"]))
    if event.action == Action.SECRET_ROTATED:
        until = parse_datetime(detail.get("previous_secret_valid_until") or "")
        if until is None:
            return _("The previous secret stopped working at once.")
        return _("The previous secret keeps working until %(when)s.") % {
            "when": until.strftime("%Y-%m-%d %H:%M %Z")
        }
    if event.action == Action.CLIENT_AUTH_THROTTLED:
        failures = detail.get("failures", 0)
        return ngettext(
            "%(failures)d failed authentication from %(address)s in %(seconds)s s.",
            "%(failures)d failed authentications from %(address)s in %(seconds)s s.",
            failures,
        ) % {
            "failures": failures,
            "address": detail.get("address", "?"),
            "seconds": detail.get("window_seconds", "?"),
        }
    return "; ".join(f"{key}: {value}" for key, value in detail.items())


def _label(field: str) -> str:
    from .forms import LABELS

    name = field.removesuffix("_id")
    if name in LABELS:
        return str(LABELS[name])
    try:
        return capfirst(str(ApiClient._meta.get_field(name).verbose_name))
    except FieldDoesNotExist:  # a field since removed from the model
        return field


def _value(field: str, value: Any) -> str:
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if value in (None, "", []):
        return _("(none)")
    if field == "grant_types":
        labels = dict(ApiClient.GrantType.choices)
        return ", ".join(str(labels.get(v, v)) for v in value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return f"“{value}”" if isinstance(value, str) else str(value)


def _describe_change(field: str, change: dict[str, Any]) -> str:
    if field in _RELATIONS:
        parts = [f"+ {name}" for name in change.get("added", [])]
        parts += [f"− {name}" for name in change.get("removed", [])]
        return f"{_label(field)}: {', '.join(parts)}"
    if change.get("from") is None:
        return f"{_label(field)}: {_value(field, change.get('to'))}"
    return (
        f"{_label(field)}: {_value(field, change.get('from'))} → {_value(field, change.get('to'))}"
    )
