"""The OAuth endpoints: DOT's views with the product's response rules.

The protocol work is DOT's; these subclasses only set the consent template
and what it shows (``pages``), check an authorization request before the
person signs in, and set the response headers RFC 6749/RFC 9700 ask for and
a correct ``WWW-Authenticate`` challenge for failed client authentication.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import parse_qs, unquote_to_bytes, urlsplit

from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_deny
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider import views as dot_views
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.http import OAuth2ResponseRedirect
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.signals import app_authorized
from oauthlib.common import add_params_to_uri, urldecode

from . import outages, pages, ratelimit
from .conf import conf
from .consent.authorize import RememberedConsentMixin
from .models import ApiClient
from .oidc.authorize import OIDCAuthorizationMixin
from .scopes import all_scopes

# RFC 8707 §2: a client may name several resources, one ``resource`` parameter each.
REPEATABLE = {"resource"}
# RFC 6749 §3.2 asks for the first; the second is what a browser's FormData sends, and
# Django reads it as well.
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
UNREADABLE_BODY = (BadRequest, SuspiciousOperation, MultiPartParserError, ValueError, LookupError)


def unreadable(request: HttpRequest) -> tuple[str, str] | None:
    """Say why a POST body is not readable form data in UTF-8 (RFC 6749 Appendix B).

    Parses the body now, so that nothing later (the CSRF middleware, DOT,
    ``malformed``) meets a parsing error: Django would answer it with an HTML
    400, or a 500 with DEBUG on.
    """
    if request.method != "POST":
        return None
    try:
        if request.body and request.content_type not in FORMS:
            return "invalid_request", f"The request body must be {FORMS[0]} (RFC 6749 §3.2)."
        charset = request.content_params.get("charset", "utf-8").lower()
        if charset not in ("utf-8", "utf8"):
            return "invalid_request", "The request body must be encoded in UTF-8."
        if request.content_type == FORMS[0] and not _utf8_form(request.body):
            # Django would decode it with replacement characters, and the damaged
            # value would be refused as something else (an unknown scope, say).
            return "invalid_request", "The request body must be encoded in UTF-8."
        request.POST  # noqa: B018  (parsed here, where a failure is answered)
    except UNREADABLE_BODY:
        return "invalid_request", "The request body is not readable form data."
    return None


def _utf8_form(body: bytes) -> bool:
    """Whether each name and value of a URL-encoded body, once decoded, is UTF-8."""
    try:
        unquote_to_bytes(body.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def two_client_authentications(request: HttpRequest) -> tuple[str, str] | None:
    """A client that authenticates twice in one request (RFC 6749 §2.3: "MUST NOT").

    HTTP Basic and a ``client_secret`` in the body: which one counts would be
    the server's guess, so neither does.
    """
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header[:6].lower() == "basic " and "client_secret" in request.POST:
        return (
            "invalid_request",
            "The client authenticated twice: use HTTP Basic or client_secret, not both.",
        )
    return None


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
            if len(values) > 1 and key not in REPEATABLE:
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


# The Referrer-Policy of every page a person uses during authorization. Its URL
# carries the request's state and code challenge, which must not leave the site;
# "same-origin" keeps them in, and still lets a browser send the real Origin with
# the page's own form posts. "no-referrer" would make it send "Origin: null",
# which Django's CSRF check refuses: nobody could sign in or click Allow.
REFERRER_POLICY = "same-origin"


def user_facing(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Protect a page of the authorization flow (authorize, consent, login).

    Never framed (clickjacking of the consent button), never cached, and its
    URL is never sent to another site in a Referer (``REFERRER_POLICY``).
    A host wraps its login view in it too; check ``source_oauth.W003`` looks
    for the mark it leaves.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["Referrer-Policy"] = REFERRER_POLICY
        return response

    wrapper.source_oauth_user_facing = True  # type: ignore[attr-defined]
    return xframe_options_deny(never_cache(wrapper))


def with_issuer(request: HttpRequest, redirect_to: str) -> str:
    """Name this server in an authorization response, errors included (RFC 9207 §2).

    DOT adds ``iss`` to a successful response only; a client that checks it
    (as RFC 9700 §4.4 has it do) would then take a denial for a mix-up.
    """
    if not oauth2_settings.COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS:
        return redirect_to
    if "iss" in parse_qs(urlsplit(redirect_to).query):
        return redirect_to
    issuer = oauth2_settings.oauth2_authorization_server_issuer(request)
    return add_params_to_uri(redirect_to, [("iss", issuer)])


@method_decorator([user_facing, outages.page_when_database_down], name="dispatch")
class AuthorizationView(
    RememberedConsentMixin, OIDCAuthorizationMixin, dot_views.AuthorizationView
):
    """Login, then consent for third-party clients; first-party clients skip consent.

    A remembered approval skips it too (``consent.authorize``); OpenID Connect's
    ``prompt``, ``max_age`` and ``id_token_hint`` are honoured (``oidc.authorize``).
    """

    template_name = "source_oauth/authorize.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        problem = malformed(request)
        if problem:
            return self.error_page(*problem)
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if "approval_prompt" in request.GET:
            # DOT honours a client's ``approval_prompt=auto``: a third-party client would skip
            # the consent screen for any user holding one of its live tokens. Whether consent
            # may be reused is the server's decision, never the client's.
            request.GET = request.GET.copy()
            del request.GET["approval_prompt"]
        return super().get(request, *args, **kwargs)

    def handle_no_permission(self) -> HttpResponse:
        """Check the request before asking for a password (DOT signs the person in first).

        A request that cannot succeed is refused at once: an unknown client or
        an unregistered redirect URI gets the error page (never a redirect to
        that URI), any other error goes back to the client (RFC 6749 §4.1.2.1),
        and nobody types a password for nothing.
        """
        if self.request.method == "GET":
            try:
                self.validate_authorization_request(self.request)
            except OAuthToolkitError as error:
                return self.error_response(error, application=None)
        return super().handle_no_permission()

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if "switch_account" in request.POST:
            # "Not you?": sign out, sign in as someone else, come back to this request.
            logout(request)
            return redirect_to_login(
                request.get_full_path(), self.get_login_url(), self.get_redirect_field_name()
            )
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        """What the consent page says besides DOT's context: account, scopes, destination."""
        context = super().get_context_data(**kwargs)
        if context.get("application") is not None:
            context["account"] = self.request.user
            context["scope_items"] = pages.scope_items(
                context.get("scopes", []), context.get("scopes_descriptions", [])
            )
            context["destination"] = pages.destination(context.get("redirect_uri") or "")
        return context

    def render_to_response(self, context: dict[str, Any], **response_kwargs: Any) -> HttpResponse:
        # The consent page and the error page both name the site.
        context.setdefault("site_name", pages.site_name(self.request))
        return super().render_to_response(context, **response_kwargs)

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
        return OAuth2ResponseRedirect(
            with_issuer(self.request, redirect_to), application.get_allowed_schemes()
        )


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


def client_endpoint(
    request: HttpRequest,
    respond: Callable[[], HttpResponse],
    check: Callable[[HttpRequest], tuple[str, str] | None] | None = None,
) -> HttpResponse:
    """Answer a request to an endpoint where clients authenticate (token, revoke, introspect).

    Unreadable requests, and those ``check`` finds fault with, are refused
    before oauthlib sees them; a failed
    authentication from an address past its limit becomes a 429 (see
    ``ratelimit``); a database outage is a 503 (see ``outages``); every
    answer is JSON and never cached.
    """
    problem = (
        unreadable(request)
        or malformed(request)
        or two_client_authentications(request)
        or (check and check(request))
    )
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


def token_request_problem(request: HttpRequest) -> tuple[str, str] | None:
    """What oauthlib would answer wrongly in a token request, answered first.

    A missing ``grant_type`` is a missing parameter, ``invalid_request``
    (RFC 6749 §5.2), where oauthlib says ``unsupported_grant_type``. A
    ``scope`` of more names than the catalogue holds is no set of scopes
    (RFC 6749 §3.3): refused before it is parsed, stored or cached.
    """
    if not request.POST.get("grant_type"):
        return "invalid_request", "The grant_type parameter is missing."
    scope = request.POST.get("scope")
    if scope and len(scope.split()) > len(all_scopes()):
        return "invalid_scope", "The scope names more scopes than exist."
    return None


class PostOnlyMixin:
    """A client endpoint answers any other method as an API does: JSON, 405, ``Allow``."""

    def http_method_not_allowed(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        response = JsonResponse(
            {
                "error": "invalid_request",
                "error_description": f"Use POST, not {request.method}.",
            },
            status=405,
        )
        response["Allow"] = ", ".join(m.upper() for m in self._allowed_methods())
        return no_store(response)


# Values a debug page or an error report must never show.
SENSITIVE = ("client_secret", "code", "code_verifier", "refresh_token", "token", "password")


@method_decorator(sensitive_post_parameters(*SENSITIVE), name="dispatch")
class TokenView(PostOnlyMixin, dot_views.TokenView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Not DOT's post(): it routes the device grant to its own flow before oauthlib
        # sees it. The device grant is not offered, so oauthlib answers every grant type.
        return client_endpoint(request, lambda: self.token_response(request), token_request_problem)

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
class RevokeTokenView(PostOnlyMixin, dot_views.RevokeTokenView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        parent = super().post
        return client_endpoint(request, lambda: parent(request, *args, **kwargs))


@method_decorator([csrf_exempt, sensitive_post_parameters(*SENSITIVE)], name="dispatch")
class IntrospectTokenView(PostOnlyMixin, dot_views.IntrospectTokenView):
    """RFC 7662 introspection, for authenticated confidential clients, by POST only."""

    http_method_names = ["post", "options"]

    def unauthenticated_response(
        self, request: HttpRequest, oauthlib_request: Any = None
    ) -> HttpResponse:
        return JsonResponse({"error": "invalid_client"}, status=401)

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method.lower() not in self.http_method_names:
            # Before DOT's protected-resource check, which would answer 401 first.
            return self.http_method_not_allowed(request)
        parent = super().dispatch
        return client_endpoint(request, lambda: parent(request, *args, **kwargs))


@method_decorator(outages.json_when_database_down, name="dispatch")
class ServerMetadataView(dot_views.OAuthServerMetadataView):
    """RFC 8414 metadata that says only what this server does (§2).

    DOT advertises its token endpoint's authentication methods for
    introspection too, ``none`` included; introspection here answers only
    authenticated confidential clients. The JWKS is named whenever a key
    signs ID tokens, from settings or the database.
    """

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        metadata = json.loads(response.content)
        if "introspection_endpoint" in metadata:
            metadata["introspection_endpoint_auth_methods_supported"] = [
                method
                for method in metadata["token_endpoint_auth_methods_supported"]
                if method != "none"
            ]
        # DOT names the JWKS only for a key in settings; keys may live in the database.
        metadata.pop("jwks_uri", None)
        from .oidc import keys

        if oauth2_settings.OIDC_ENABLED and keys.published_keys():
            metadata["jwks_uri"] = self._get_endpoint_url(request, "jwks-info")
        response.content = json.dumps(metadata)
        return response
