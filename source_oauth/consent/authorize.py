"""The authorization view's use of remembered approvals.

``RememberedConsentMixin`` is mixed into ``source_oauth.views.AuthorizationView``
ahead of DOT's view. Where DOT would show the consent page, a live approval
covering the requested scopes answers instead, exactly as if the user had
pressed "Allow" (unless the client sent ``prompt=consent``). A user pressing
"Allow" is remembered. Whether an approval is reused is the server's decision
alone: a client's ``approval_prompt`` is ignored (``AuthorizationView.get``).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.urls import reverse

from ..models import ApiClient
from ..oidc.authorize import is_consent_page, prompt_values
from . import records


class RememberedConsentMixin:
    _approved_by_record = False

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        if (
            is_consent_page(self.request, context)
            and "consent" not in prompt_values(self.request)
            and records.covering(self.request.user, context["application"], context["scopes"])
        ):
            form = self.get_form_class()(
                data={
                    **{name: value for name, value in self.get_initial().items() if value},
                    "allow": "on",
                }
            )
            if form.is_valid():
                self._approved_by_record = True
                return self.form_valid(form)
        return super().render_to_response(context, **kwargs)

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        approved = form.cleaned_data.get("allow") and getattr(self, "success_url", None)
        if approved and not self._approved_by_record:
            application = ApiClient.objects.filter(
                client_id=form.cleaned_data.get("client_id")
            ).first()
            if application is not None:
                records.remember(
                    self.request.user, application, form.cleaned_data.get("scope", "").split()
                )
        return response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["connected_apps_url"] = reverse("oauth2_provider:connected-apps")
        return context
