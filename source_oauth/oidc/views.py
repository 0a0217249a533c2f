"""The OpenID Connect endpoints: DOT's views, with the product's keys, claims and rules.

- ``DiscoveryView`` (``/.well-known/openid-configuration``): DOT's document,
  corrected to say what this server does, field for field as in RFC 8414's;
- ``JwksView`` (``/oauth/jwks``): every published key (``oidc.keys``);
- ``UserInfoView`` (``/oauth/userinfo``): DOT's, never cached, Bearer header or
  form body only;
- ``LogoutView`` (``/oauth/logout``): DOT's RP-initiated logout, with
  ``post_logout_redirect_uri`` matched exactly (``ApiClient``) and a page of ours.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider import views as dot_views
from oauth2_provider.compat import login_not_required
from oauth2_provider.exceptions import InvalidOIDCClientError
from oauth2_provider.settings import oauth2_settings

from .. import outages
from ..authentication import bearer_challenge
from ..models import ApiClient
from ..views import malformed, no_store, unreadable, user_facing
from . import keys


@method_decorator(outages.json_when_database_down, name="dispatch")
class DiscoveryView(dot_views.ConnectDiscoveryInfoView):
    """OpenID Connect Discovery 1.0 §3, consistent with the RFC 8414 document and behaviour."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        data = json.loads(super().get(request, *args, **kwargs).content)
        auth_methods = list(oauth2_settings.OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED)
        data.update(
            {
                "scopes_supported": sorted(data["scopes_supported"]),
                "response_types_supported": list(oauth2_settings.OAUTH2_RESPONSE_TYPES_SUPPORTED),
                "response_modes_supported": ["query"],
                "grant_types_supported": list(oauth2_settings.OAUTH2_GRANT_TYPES_SUPPORTED),
                "token_endpoint_auth_methods_supported": auth_methods,
                "revocation_endpoint": self._get_endpoint_url(request, "revoke-token", True),
                "revocation_endpoint_auth_methods_supported": auth_methods,
                "introspection_endpoint": self._get_endpoint_url(request, "introspect", True),
                # Introspection answers authenticated confidential clients only.
                "introspection_endpoint_auth_methods_supported": [
                    method for method in auth_methods if method != "none"
                ],
                "id_token_signing_alg_values_supported": keys.available_algorithms()
                or [keys.RS256],
                "claims_supported": sorted(data["claims_supported"]),
                "prompt_values_supported": ["none", "login", "consent"],
                "claims_parameter_supported": False,
                "request_parameter_supported": False,
                "request_uri_parameter_supported": False,
            }
        )
        response = JsonResponse(data)
        response["Access-Control-Allow-Origin"] = "*"
        return response


@method_decorator(outages.json_when_database_down, name="dispatch")
class JwksView(dot_views.JwksInfoView):
    """The public keys that verify ID tokens (RFC 7517), rotated-out ones until they expire."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().get(request, *args, **kwargs)  # DOT's headers: CORS, Cache-Control
        response.content = json.dumps({"keys": [key.public for key in keys.published_keys()]})
        return response


# DOT marks its dispatch(); this one replaces it, so it is marked again.
@method_decorator(
    [csrf_exempt, login_not_required, outages.json_when_database_down], name="dispatch"
)
class UserInfoView(dot_views.UserInfoView):
    """The claims the access token's scopes allow (OpenID Connect Core §5.3), never cached."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        problem = unreadable(request) or malformed(request)
        if problem is None and "access_token" in request.GET:
            problem = (
                "invalid_request",
                "Access tokens are not accepted in the query string; send them in an "
                "Authorization: Bearer header.",
            )
        if problem is not None:
            error, description = problem
            response = JsonResponse({"error": error, "error_description": description}, status=400)
            response["WWW-Authenticate"] = bearer_challenge(
                error=error, error_description=description
            )
            return no_store(response)
        response = super().dispatch(request, *args, **kwargs)
        if response.status_code in (401, 403):
            # oauthlib's challenge has no realm; RFC 6750's names it.
            body = json.loads(response.content or b"{}")
            response["WWW-Authenticate"] = bearer_challenge(
                **{k: body[k] for k in ("error", "error_description") if k in body}
            )
        return no_store(response)


@method_decorator(
    [user_facing, login_not_required, outages.page_when_database_down], name="dispatch"
)
class LogoutView(dot_views.RPInitiatedLogoutView):
    """RP-initiated logout 1.0: ends the CMS session; tokens are left alone.

    ``post_logout_redirect_uri`` must be one the client registered, character
    for character (``ApiClient.post_logout_redirect_uri_allowed``); a client is
    named by ``client_id`` or by the ``id_token_hint`` it holds.
    """

    template_name = "source_oauth/logout.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        problem = malformed(request)
        if problem is not None:
            self.oidc_data = {}
            error = InvalidOIDCClientError()
            error.error, error.description = problem
            return self.error_response(error)
        return super().dispatch(request, *args, **kwargs)

    def get_request_application(self, id_token: Any, client_id: str | None) -> Any:
        # DOT's get() of an unknown client_id would be a 500.
        if client_id:
            application = ApiClient.objects.filter(client_id=client_id).first()
            if application is None:
                raise InvalidOIDCClientError()
            return application
        return id_token.application if id_token else None
