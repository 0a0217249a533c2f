"""The "Connected apps" page: the third-party clients a signed-in user gave access, revocable."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from .. import outages
from ..views import user_facing
from .connected import connected_apps, disconnect


@method_decorator([user_facing, outages.page_when_database_down], name="dispatch")
class ConnectedAppsView(LoginRequiredMixin, TemplateView):
    """List the user's connected apps (GET); revoke one (POST ``client_id``), then list again."""

    template_name = "source_oauth/connected_apps.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "apps": connected_apps(self.request.user)}

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        client_id = request.POST.get("client_id", "")
        app = next(
            (app for app in connected_apps(request.user) if app.client.client_id == client_id),
            None,
        )
        if app is None:
            messages.error(
                request, _("That application has no access to your account."), fail_silently=True
            )
        else:
            disconnect(request.user, app.client)
            messages.success(
                request,
                _("“%(name)s” no longer has access to your account.") % {"name": app.client.name},
                fail_silently=True,
            )
        return HttpResponseRedirect(request.path)
