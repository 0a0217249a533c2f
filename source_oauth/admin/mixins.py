"""What several admin screens of the "API" section share."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from .. import audit


class ActingUserMixin:
    """Attribute the audit events an admin page causes to the logged-in user.

    The audit trail records client changes from model signals; without this
    they would be recorded as done by "system".
    """

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with audit.acting_as(request.user):
            return super().changeform_view(request, *args, **kwargs)

    def changelist_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with audit.acting_as(request.user):  # admin actions run here
            return super().changelist_view(request, *args, **kwargs)

    def delete_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with audit.acting_as(request.user):
            return super().delete_view(request, *args, **kwargs)


class ReadOnlyDetailMixin:
    """Tokens are issued by the OAuth flows; their detail page is read-only."""

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Without an object, this is what actions such as "Revoke" require.
        return obj is None and super().has_change_permission(request)
