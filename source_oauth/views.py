"""The OAuth endpoints: DOT's views with the product's response rules.

The protocol work is DOT's; these subclasses only set the consent template,
the response headers RFC 6749/RFC 9700 ask for, and a correct
``WWW-Authenticate`` challenge for failed client authentication.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_deny
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider import views as dot_views
from oauth2_provider.http import OAuth2ResponseRedirect
from oauth2_provider.signals import app_authorized
from oauthlib.common import urldecode

from . import outages, ratelimit
from .conf import conf
from .models import ApiClient


def malformed(request: HttpRequest) -> tuple[str, str] | None:
    """Say (error code, description) what makes a request unreadable, before oauthlib sees it.

    Each of these would otherwise surface as a 500 from below (oauthlib's
    query-string decoder, a NUL byte reaching PostgreSQL, DOT's unguarded
    ``urlsplit`` of a ``resource``) or be silently accepted (DOT keeps the
    last of repeated parameters, which RFC 6749 §3.1 forbids).
    """
    try:
        urldecode(request.META.get("QUERY_STRING", ""))
    except ValueError:
        return "invalid_request", "The query string is not valid URL encoding."
    for params in (request.GET, request.POST):
        for key, values in params.lists():
            if len(values) > 1:
                return "invalid_request", f"The parameter {key!r} is repeated."
            if "\x00" in key or "\x00" in values[0]:
                return "invalid_request", "Parameters must not contain NUL characters."
    if "\x00" in request.META.get("HTTP_AUTHORIZATION", ""):
        return "invalid_request", "The Authorization header must not contain NUL characters."
    try:
        for value in (*request.GET.getlist("resource"), *request.POST.getlist("resource")):
            urlsplit(value)
    except ValueError:
        return "invalid_target", "The resource parameter is not a valid URI (RFC 8707)."
    return None


def refusal(problem: tuple[str, str]) -> HttpResponse:
    error, description = problem
    return no_store(JsonResponse({"error": error, "error_description": description}, status=400))


def no_store(response: HttpResponse) -> HttpResponse:
    """Mark a response that may hold a token or a secret as never cacheable (RFC 6749 §5.1)."""
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def challenge_client_auth(response: HttpResponse) -> HttpResponse:
    """Answer a failed client authentication with the scheme clients authenticate by.

    oauthlib sends ``WWW-Authenticate: Bearer`` with ``invalid_client``, but a
    client authenticates to the token endpoint with HTTP Basic (RFC 6749 §5.2,
    RFC 7617), so that is the challenge a 401 must carry.
    """
    if response.status_code == 401:
        response["WWW-Authenticate"] = f'Basic realm="{conf.REALM}", charset="UTF-8"'
    return response


def user_facing(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Protect a page of the authorization flow (authorize, consent, login).

    Never framed (clickjacking of the consent button), never cached, and no
    Referer leaves it: its URL carries the request's state and code challenge.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["Referrer-Policy"] = "no-referrer"
        return response

    return xframe_options_deny(never_cache(wrapper))


@method_decorator(user_facing, name="dispatch")
class AuthorizationView(dot_views.AuthorizationView):
    """Login, then consent for third-party clients; first-party clients skip consent."""

    template_name = "source_oauth/authorize.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        problem = malformed(request)
        if problem:
            return self.error_page(*problem)
        try:
            return super().dispatch(request, *args, **kwargs)
        except outages.DATABASE_ERRORS as error:
            outages.database.failed(error)
            return outages.unavailable_page()

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if "approval_prompt" in request.GET:
            # DOT honours a client's ``approval_prompt=auto``: a third-party client would skip
            # the consent screen for any user holding one of its live tokens. Whether consent
            # may be reused is the server's decision, never the client's.
            request.GET = request.GET.copy()
            del request.GET["approval_prompt"]
        return super().get(request, *args, **kwargs)

    def error_page(self, error: str, description: str) -> HttpResponse:
        """An error shown to the user, never a redirect: the request named no safe target."""
        self.oauth2_data = {}
        return self.render_to_response(
            {"error": {"error": error, "description": description}}, status=400
        )

    def form_valid(self, form: Any) -> HttpResponse:
        # DOT trusts the posted client_id and redirect_uri (it would 500 on an unknown
        # client and redirect a denial to any URI); check them as the GET did.
        client = ApiClient.objects.filter(client_id=form.cleaned_data.get("client_id")).first()
        if client is None:
            return self.error_page("invalid_request", "Unknown client.")
        if not client.redirect_uri_allowed(form.cleaned_data.get("redirect_uri") or ""):
            return self.error_page(
                "invalid_request", "The redirect URI is not registered for this client."
            )
        return super().form_valid(form)

    def redirect(self, redirect_to: str, application: ApiClient | None) -> HttpResponse:
        if application is None:
            # DOT falls back to global schemes; a validated client knows its own.
            client_id = self.request.GET.get("client_id") or self.request.POST.get("client_id")
            application = (
                ApiClient.objects.filter(client_id=client_id).first() if client_id else None
            )
        if application is None:
            return super().redirect(redirect_to, application)
        return OAuth2ResponseRedirect(redirect_to, application.get_allowed_schemes())


def too_many_failures() -> HttpResponse:
    """A 429 for a failed client authentication from an address past its limit."""
    response = JsonResponse(
        {
            "error": "slow_down",
            "error_description": "Too many failed client authentications; retry later.",
        },
        status=429,
    )
    response["Retry-After"] = str(conf.AUTH_FAILURE_WINDOW_SECONDS)
    return response


def client_endpoint(request: HttpRequest, respond: Callable[[], HttpResponse]) -> HttpResponse:
    """Answer a request to an endpoint where clients authenticate (token, revoke, introspect).

    Unreadable requests are refused before oauthlib sees them; a failed
    authentication from an address past its limit becomes a 429 (see
    ``ratelimit``); a database outage is a 503 (see ``outages``); every
    answer is JSON and never cached.
    """
    problem = malformed(request)
    if problem:
        return refusal(problem)
    with ratelimit.watching() as over_limit:
        response = outages.json_when_database_down(respond)()
        if response.status_code == 401 and over_limit():
            response = too_many_failures()
    if response.content:
        # JSON even when DOT builds the response from an oauthlib error's headers.
        response["Content-Type"] = "application/json"
    return no_store(challenge_client_auth(response))


# Values a debug page or an error report must never show.
SENSITIVE = ("client_secret", "code", "code_verifier", "refresh_token", "token", "password")


@method_decorator(sensitive_post_parameters(*SENSITIVE), name="dispatch")
class TokenView(dot_views.TokenView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Not DOT's post(): it routes the device grant to its own flow before oauthlib
        # sees it. The device grant is not offered, so oauthlib answers every grant type.
        return client_endpoint(request, lambda: self.token_response(request))

    def token_response(self, request: HttpRequest) -> HttpResponse:
        """DOT's token response, without re-reading the new token when nobody listens.

        DOT loads the token it just saved to send ``app_authorized``; that SELECT
        is a third of a client_credentials request's queries, so it is only paid
        when a receiver is connected.
        """
        if app_authorized.has_listeners():
            return self.authorization_flow_token_response(request)
        _url, headers, body, status = self.create_token_response(request)
        response = HttpResponse(content=body, status=status)
        for name, value in headers.items():
            response[name] = value
        return response


@method_decorator(sensitive_post_parameters(*SENSITIVE), name="dispatch")
class RevokeTokenView(dot_views.RevokeTokenView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        parent = super().post
        return client_endpoint(request, lambda: parent(request, *args, **kwargs))


@method_decorator([csrf_exempt, sensitive_post_parameters(*SENSITIVE)], name="dispatch")
class IntrospectTokenView(dot_views.IntrospectTokenView):
    """RFC 7662 introspection, for authenticated confidential clients, by POST only."""

    http_method_names = ["post", "options"]

    def unauthenticated_response(
        self, request: HttpRequest, oauthlib_request: Any = None
    ) -> HttpResponse:
        return JsonResponse({"error": "invalid_client"}, status=401)

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        parent = super().dispatch
        return client_endpoint(request, lambda: parent(request, *args, **kwargs))


class ServerMetadataView(dot_views.OAuthServerMetadataView):
    """RFC 8414 metadata."""
