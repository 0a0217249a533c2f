"""What several admin screens of the "API" section share."""

from __future__ import annotations

from typing import Any

from django.db import router, transaction
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from .. import audit


class ActingUserMixin:
    """Attribute the audit events an admin page causes to the logged-in user.

    The audit trail records client changes from model signals; without this
    they would be recorded as done by "system". A save is one event (its
    fields, scopes and image styles together), written in the save's
    transaction.
    """

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        database = router.db_for_write(self.model)  # type: ignore[attr-defined]
        with transaction.atomic(using=database), audit.acting_as(request.user), audit.one_event():
            return super().changeform_view(request, *args, **kwargs)

    def changelist_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with audit.acting_as(request.user):  # admin actions run here
            return super().changelist_view(request, *args, **kwargs)

    def delete_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with audit.acting_as(request.user):
            return super().delete_view(request, *args, **kwargs)


class RecordAdminMixin:
    """A record, not something to edit: nothing is added, changed or deleted here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyDetailMixin:
    """Tokens are issued by the OAuth flows; their detail page is read-only."""

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Without an object, this is what actions such as "Revoke" require.
        return obj is None and super().has_change_permission(request)


COPY_ICON = (
    '<svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true" focusable="false">'
    '<rect x="5" y="5" width="9" height="9" rx="1.5" fill="none" stroke="currentColor"/>'
    '<path d="M11 3.5V3a1 1 0 0 0-1-1H3a1 1 0 0 0-1 1v7a1 1 0 0 0 1 1h.5" fill="none" '
    'stroke="currentColor"/></svg>'
)


def copyable(value: str, *, label: str) -> str:
    """The first characters of ``value``, and an icon button that copies all of it.

    For a long value in a list column, such as a client ID: the whole value
    stays in the title and is what is copied (``source_oauth/admin.js``).
    """
    shown = f"{value[:8]}…" if len(value) > 12 else value
    return format_html(
        '<span class="source-oauth-copyable"><code title="{}">{}</code>'
        '<button type="button" class="source-oauth-copy source-oauth-copy-icon" data-copy="{}" '
        'aria-label="{}" title="{}" data-copied="✓">{}</button></span>',
        value,
        shown,
        value,
        label,
        label,
        mark_safe(COPY_ICON),  # a constant
    )
