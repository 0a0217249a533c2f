"""The audit trail, read-only, its details in words."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .. import audit
from ..models import AuditEvent
from .mixins import RecordAdminMixin


@admin.register(AuditEvent)
class AuditEventAdmin(RecordAdminMixin, admin.ModelAdmin):
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
