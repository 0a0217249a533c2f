"""Remembered approvals: who approved which scopes for which third-party client, until when.

Read-only: an approval is given by a user on the consent page. Deleting one
("Delete selected remembered approvals") makes the client ask that user again;
it does not revoke tokens (the user's "Connected apps" page, or the token
screens, do that).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from ..models import ConsentRecord


@admin.register(ConsentRecord)
class ConsentRecordAdmin(admin.ModelAdmin):
    list_display = ["user", "client", "scope", "approved", "expires", "is_live"]
    list_filter = [("client", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["client__name", "client__client_id", "scope"]
    list_select_related = ["user", "client"]
    fields = ["user", "client", "scope", "created", "approved", "expires"]
    readonly_fields = fields
    date_hierarchy = "approved"

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        from django.contrib.auth import get_user_model

        username = get_user_model().USERNAME_FIELD
        return [f"user__{username}", *self.search_fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
