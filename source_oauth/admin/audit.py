"""The audit trail, read-only, its details in words."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .. import audit
from ..models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit trail, read-only: it is a record, not something to edit."""

    list_display = ["created", "action", "actor", "client_name", "client_identifier", "details"]
    list_filter = ["action"]
    search_fields = ["client_name", "client_identifier", "actor"]
    fields = ["created", "action", "actor", "client", "client_name", "client_identifier", "details"]
    readonly_fields = fields
    date_hierarchy = "created"

    @admin.display(description=_("details"))
    def details(self, obj: AuditEvent) -> str:
        return audit.describe_detail(obj) or "—"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
