"""OpenID Connect at the authorization endpoint: ``prompt``, ``max_age``, ``id_token_hint``.

``OIDCAuthorizationMixin`` is mixed into ``source_oauth.views.AuthorizationView``
ahead of DOT's view, which already answers ``prompt=none`` for a signed-out
user (``login_required``) and sends ``prompt=login`` to the login page. This adds:

- ``max_age``: a session that signed in longer ago than ``max_age`` seconds
  signs in again (OpenID Connect Core §3.1.2.1);
- ``id_token_hint`` naming another user than the signed-in one: sign in again;
- ``prompt=none`` with a signed-in user: ``login_required`` where the user
  would have to sign in again, ``consent_required`` where the consent page
  would be shown (after the view's own rules: first-party clients and
  remembered approvals never show it);
- the time this session signed in (``auth_time``): noted in the session at
  login, carried on the authorization code into the ID token.

Signing in again drops ``prompt``, ``max_age`` and ``id_token_hint`` from the
request the login page returns to: a fresh sign-in satisfies all three, and
nobody is sent round in a loop (``max_age=0`` is ``prompt=login``).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from jwcrypto import jwt
from jwcrypto.common import JWException
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import add_params_to_uri

from . import claims, keys

SESSION_KEY = "source_oauth_auth_time"
DROPPED_ON_LOGIN = ("prompt", "max_age", "id_token_hint")
MAX_AGE = re.compile(r"[0-9]{1,10}")
UNSUPPORTED = ("request", "request_uri")  # discovery: request_(uri_)parameter_supported false


def remember_auth_time(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Receiver of ``user_logged_in``: note when this session signed in."""
    session = getattr(request, "session", None)
    if session is not None:
        session[SESSION_KEY] = int(time.time())


def session_auth_time(request: HttpRequest) -> int | None:
    """When the user of this session signed in (their ``last_login`` for older sessions)."""
    value = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    if isinstance(value, int):
        return value
    last_login = getattr(request.user, "last_login", None)
    return int(last_login.timestamp()) if last_login else None


def prompt_values(request: HttpRequest) -> set[str]:
    return set(request.GET.get("prompt", "").split())


def is_consent_page(request: HttpRequest, context: dict[str, Any]) -> bool:
    """Whether DOT is about to show the consent page (not an error, not a POST's answer)."""
    return request.method == "GET" and "form" in context and not context.get("error")


def hint_names(hint: str, user: Any, request: HttpRequest) -> bool:
    """Whether ``hint`` is an ID token this server issued about ``user`` (expired or not)."""
    key = keys.verification_key(hint)
    if key is None:
        return False
    try:
        token_claims = json.loads(jwt.JWT(key=key, jwt=hint, check_claims={}).claims)
    except (JWException, ValueError, TypeError):
        return False
    return (
        isinstance(token_claims, dict)
        and token_claims.get("iss") == oauth2_settings.oidc_issuer(request)
        and token_claims.get("sub") == claims.subject(user)
    )


class OIDCAuthorizationMixin:
    """The authorization view's OpenID Connect request parameters (see the module)."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        for name in UNSUPPORTED:
            if name in request.GET:  # OpenID Connect Core §6: request objects
                return self.silent_error(f"{name}_not_supported", f"{name} is not supported.")
        if request.GET.get("response_mode", "query") != "query":
            # The consent form would not carry it: each answer goes in the query.
            return self.silent_error("invalid_request", "response_mode must be query.")
        prompt = prompt_values(request)
        if "login" in prompt and "none" not in prompt:
            return self.handle_prompt_login()
        max_age = request.GET.get("max_age")
        if max_age is not None and not MAX_AGE.fullmatch(max_age):
            return self.silent_error("invalid_request", "max_age must be a number of seconds.")
        if max_age is not None:
            auth_time = session_auth_time(request)
            if auth_time is None or time.time() - auth_time > int(max_age):
                return self.sign_in_again(prompt, "The last sign-in is older than max_age.")
        hint = request.GET.get("id_token_hint")
        if hint and not hint_names(hint, request.user, request):
            return self.sign_in_again(prompt, "The id_token_hint does not name the signed-in user.")
        return super().get(request, *args, **kwargs)

    def sign_in_again(self, prompt: set[str], reason: str) -> HttpResponse:
        if "none" in prompt:
            return self.silent_error("login_required", reason)
        return self.handle_prompt_login()

    def handle_prompt_login(self) -> HttpResponse:
        """To the login page, back to this request without what a fresh sign-in satisfies."""
        query = self.request.GET.copy()
        for name in DROPPED_ON_LOGIN:
            query.pop(name, None)
        next_url = self.request.path + (f"?{query.urlencode()}" if query else "")
        login_url = resolve_url(self.get_login_url())
        if urlsplit(login_url).netloc not in ("", self.request.get_host()):
            next_url = self.request.build_absolute_uri(next_url)
        return redirect_to_login(next_url, login_url, self.get_redirect_field_name())

    def handle_no_permission(self) -> HttpResponse:
        """A signed-out user: DOT answers ``prompt=none`` (and ``create``); others sign in."""
        prompt = prompt_values(self.request)
        if "none" in prompt or "create" in prompt:
            return super().handle_no_permission()
        return self.handle_prompt_login()

    def silent_error(self, error: str, description: str) -> HttpResponse:
        """Send ``error`` to the client's redirect URI, once the request is known to be valid."""
        try:
            _scopes, credentials = self.validate_authorization_request(self.request)
        except OAuthToolkitError as failure:
            return self.error_response(failure, application=None)
        return self.error_redirect(
            credentials["redirect_uri"], credentials.get("state"), error, description
        )

    def error_redirect(
        self, redirect_uri: str, state: str | None, error: str, description: str
    ) -> HttpResponse:
        params = [("error", error), ("error_description", description)]
        if state:
            params.append(("state", state))
        return self.redirect(add_params_to_uri(redirect_uri, params), None)

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        if is_consent_page(self.request, context) and "none" in prompt_values(self.request):
            return self.error_redirect(
                self.oauth2_data["redirect_uri"],
                self.oauth2_data.get("state"),
                "consent_required",
                "The user has not approved this client's request.",
            )
        return super().render_to_response(context, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if "scopes" in context and self.request.user.is_authenticated:
            context["identity_claims"] = claims.identity_claims(
                self.request.user, context["scopes"]
            )
        return context

    def create_authorization_response(
        self, request: HttpRequest, scopes: str, credentials: dict[str, Any], allow: bool
    ) -> Any:
        # Carried on the authorization code into the ID token (oidc.validator).
        if request.user.is_authenticated:
            credentials = {**credentials, "auth_time": session_auth_time(request)}
        return super().create_authorization_response(request, scopes, credentials, allow)
