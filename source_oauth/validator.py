"""DOT's request validator, taught the API client's settings and RFC 9700.

Configured as ``OAUTH2_PROVIDER["OAUTH2_VALIDATOR_CLASS"]``. Each override
states one rule of the product; the protocol itself stays DOT's and oauthlib's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from datetime import timedelta
from typing import Any
from urllib.parse import unquote_plus

from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_grant_model,
    get_refresh_token_model,
    revoke_access_token,
)
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749 import errors

from . import audit, ratelimit
from .cache import clients as client_cache
from .cache import tokens as token_cache
from .conf import conf
from .lifetimes import ClientLifetimesMixin
from .models import ApiClient, RedeemedCode
from .oidc.validator import OpenIDConnectValidatorMixin
from .revocations import revoked_meanwhile
from .scopes import all_scopes
from .secrets import check_secret

GrantType = ApiClient.GrantType
# RFC 7636 §4.2: BASE64URL(SHA256(verifier)) without padding is 43 characters.
S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
Grant = get_grant_model()
AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()


def checksum(value: str) -> str:
    """DOT's lookup key for a token (and ours for a code): its SHA-256."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def parse_client_credentials(
    authorization: str | None, client_id: str | None, client_secret: str | None
) -> tuple[str | None, str | None, str]:
    """Return ``(client_id, secret, method)`` from an Authorization header or form values.

    When an ``Authorization: Basic`` header is present it is the only method
    considered (RFC 6749 §2.3: a client uses one authentication method), so a
    broken header never falls back to body credentials. ``method`` is
    ``"basic"``, ``"body"`` or ``"none"``; a part that is missing or
    undecodable is None.
    """
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None, None, "basic"
        basic_id, sep, secret = decoded.partition(":")
        if not sep:
            return None, None, "basic"
        return unquote_plus(basic_id), unquote_plus(secret), "basic"
    return client_id or None, client_secret or None, "body" if client_secret else "none"


class SourceOAuth2Validator(ClientLifetimesMixin, OpenIDConnectValidatorMixin, OAuth2Validator):
    # --- clients ------------------------------------------------------------------

    def _load_application(self, client_id: str, request: Any) -> ApiClient | None:
        # Once per request, from the client cache: no query when warm.
        client = getattr(request, "client", None)
        if isinstance(client, ApiClient) and client.client_id == client_id:
            return client
        if not client_id or not isinstance(client_id, str) or "\x00" in client_id:
            return None  # PostgreSQL refuses NUL bytes in a string literal
        try:
            client = client_cache.get_client(client_id)
        except ValueError:  # a lone surrogate encodes to nothing
            return None
        if client is not None:
            request.client = client
        return client

    def authenticate_client(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        """A confidential client proves its secret, by HTTP Basic or in the form body.

        Failures are counted per client ID and per IP for rate limiting. An
        unknown client costs the same hash as a wrong secret, so the answer
        time does not tell which client IDs exist.
        """
        client_id, secret, method = parse_client_credentials(
            request.headers.get("HTTP_AUTHORIZATION"),
            getattr(request, "client_id", None),
            getattr(request, "client_secret", None),
        )
        request.client_auth_method = method
        if not client_id or secret is None:
            return False
        client = self._load_application(client_id, request)
        if client is not None and client.confidential and client.check_client_secret(secret):
            return True
        if client is None or not client.confidential:
            check_secret(secret, "")
        ratelimit.record_failure(client_id, request.headers.get("REMOTE_ADDR"))
        return False

    def validate_grant_type(
        self,
        client_id: str,
        grant_type: str,
        client: ApiClient,
        request: Any,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        """A client uses only the grants enabled on it; client_credentials needs a secret."""
        if grant_type == GrantType.CLIENT_CREDENTIALS and not client.confidential:
            return False
        return grant_type in client.grant_types

    def validate_response_type(
        self,
        client_id: str,
        response_type: str,
        client: ApiClient,
        request: Any,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        """Only ``code`` is offered (RFC 9700 §2.1.2), to clients with the authorization code grant.

        oauthlib hands every response type containing ``code`` (``code token``,
        ``code id_token``) to the code grant and would call the refusal
        ``unauthorized_client``; a response type the server does not offer is
        ``unsupported_response_type`` (RFC 6749 §4.1.2.1).
        """
        if response_type != "code":
            raise errors.UnsupportedResponseTypeError(request=request)
        return GrantType.AUTHORIZATION_CODE in client.grant_types

    # --- scopes -------------------------------------------------------------------

    def validate_scopes(
        self,
        client_id: str,
        scopes: list[str],
        client: ApiClient,
        request: Any,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        """A token never carries a scope outside the client's allowed scopes; each counts once.

        RFC 6749 §3.3: the scope is a set. ``scopes`` is the list oauthlib then
        stores on the grant and answers with, so duplicates are dropped from it
        here; a list longer than the catalogue itself is refused outright.
        """
        allowed = client.allowed_scope_names
        # The catalogue is read only for a list longer than the client's allowance.
        if len(scopes) > len(allowed) and len(scopes) > len(all_scopes()):
            return False
        scopes[:] = dict.fromkeys(scopes)
        return set(scopes) <= set(allowed)

    def get_default_scopes(
        self, client_id: str, request: Any, *args: Any, **kwargs: Any
    ) -> list[str]:
        """No ``scope`` parameter means every scope the client is allowed."""
        return request.client.allowed_scope_names

    # --- authorization codes --------------------------------------------------------

    def is_pkce_required(self, client_id: str, request: Any) -> bool:
        """PKCE (S256 only, RFC 9700 §2.1.1), unless turned off for a confidential client.

        oauthlib asks this while validating an authorization request, before it
        is stored, so the parameters that end in the stored grant are checked
        here too: a well-formed challenge, a nonce that fits its column.
        """
        challenge = getattr(request, "code_challenge", None)
        if challenge is not None:
            if getattr(request, "code_challenge_method", None) != "S256":
                raise errors.InvalidRequestError(
                    description="code_challenge_method must be S256.", request=request
                )
            if not S256_CHALLENGE.fullmatch(challenge):
                raise errors.InvalidRequestError(
                    description="code_challenge must be 43 base64url characters (RFC 7636).",
                    request=request,
                )
        if len(getattr(request, "nonce", None) or "") > 255:
            raise errors.InvalidRequestError(description="nonce is too long.", request=request)
        client = getattr(request, "client", None)
        return client.pkce_required if isinstance(client, ApiClient) else True

    def validate_code(
        self, client_id: str, code: str, client: ApiClient, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        """Claim the code: it is deleted here, so of two concurrent redemptions one wins.

        The claimed grant is kept on the request for the PKCE and redirect URI
        checks that follow. A code that no longer exists but was redeemed
        before is a replay: the tokens issued from it are revoked.
        """
        if not code or "\x00" in code or len(code) > 255:
            return False
        grant = Grant.objects.filter(code=code, application=client).first()
        if grant is None:
            self._revoke_replayed_code(code, client)
            return False
        deleted, _ = Grant.objects.filter(pk=grant.pk).delete()
        if not deleted or grant.is_expired():
            return False
        verifier = getattr(request, "code_verifier", None)
        if grant.code_challenge and verifier is None:
            return False
        if not grant.code_challenge and (client.pkce_required or verifier is not None):
            # RFC 9700 §2.1.1: a code issued without a challenge is redeemed only by a
            # client allowed to skip PKCE, and never with a verifier (a PKCE downgrade).
            return False
        request.source_grant = grant
        request.scopes = grant.scope.split()
        request.user = grant.user
        return True

    def get_code_challenge(self, code: str, request: Any) -> str | None:
        return request.source_grant.code_challenge or None

    def get_code_challenge_method(self, code: str, request: Any) -> str | None:
        return request.source_grant.code_challenge_method or None

    def _check_and_set_request_resource(self, request: Any) -> None:
        """RFC 8707: a token carries its grant's resources; a token request may only narrow them.

        DOT reads the grant's resources back by its code, which ``validate_code``
        has already claimed (deleted), so it would find none and issue a token
        valid for every resource. The claimed grant is at hand instead.
        """
        grant = getattr(request, "source_grant", None)
        if request.grant_type != "authorization_code" or grant is None:
            super()._check_and_set_request_resource(request)
            return
        requested = [value for key, value in request.decoded_body or () if key == "resource"]
        self._validate_resource_uris(request, requested)
        granted = list(grant.resource or [])
        widened = [resource for resource in requested if granted and resource not in granted]
        if widened:
            raise errors.CustomOAuth2Error(
                error="invalid_target",
                description=f"The resource {widened[0]!r} was not authorized for this code.",
                request=request,
            )
        request.resource = requested or granted

    def confirm_redirect_uri(
        self,
        client_id: str,
        code: str,
        redirect_uri: str,
        client: ApiClient,
        request: Any,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        """A code is redeemed only with the redirect URI it was issued for.

        RFC 6749 §5.2 names that error ``invalid_grant``; oauthlib would say
        ``invalid_request``.
        """
        if not request.source_grant.redirect_uri_allowed(redirect_uri):
            raise errors.InvalidGrantError(description="Mismatching redirect URI.")
        return True

    def invalidate_authorization_code(
        self, client_id: str, code: str, request: Any, *args: Any, **kwargs: Any
    ) -> None:
        """Nothing left to do: ``validate_code`` deleted the code when it claimed it."""

    def _revoke_replayed_code(self, code: str, client: ApiClient) -> None:
        redeemed = RedeemedCode.objects.filter(
            code_checksum=checksum(code), application=client
        ).first()
        if redeemed is None:
            return
        for token in AccessToken.objects.filter(token_checksum=redeemed.access_token_checksum):
            revoke_access_token(token)
        if redeemed.refresh_token_checksum:
            families = RefreshToken.objects.filter(
                token_checksum=redeemed.refresh_token_checksum
            ).values_list("token_family", flat=True)
            for family in set(families):
                RefreshToken.revoke_family(family)
        redeemed.delete()
        audit.record(audit.Action.CODE_REPLAYED, client, actor=client)

    # --- tokens -------------------------------------------------------------------

    def _load_access_token(self, token: str) -> Any:
        # Every bearer-protected request comes here: served from the token cache.
        return token_cache.get_access_token(checksum(token))

    def rotate_refresh_token(self, request: Any) -> bool:
        """A refresh token is used once: every refresh returns a new one."""
        return True

    def save_bearer_token(
        self, token: dict[str, Any], request: Any, *args: Any, **kwargs: Any
    ) -> Any:
        """Issue a refresh token only to a client with the refresh_token grant.

        The scope is stored and answered as a set (a refresh request's own
        ``scope`` reaches here as sent).
        """
        if GrantType.REFRESH_TOKEN not in request.client.grant_types:
            token.pop("refresh_token", None)
        if "scope" in token:
            token["scope"] = " ".join(dict.fromkeys(token["scope"].split()))
        if request.grant_type == GrantType.CLIENT_CREDENTIALS:
            # One INSERT, atomic by itself: DOT's transaction would only add BEGIN
            # and COMMIT to the busiest request of a machine-to-machine API.
            return self._save_bearer_token(token, request, *args, **kwargs)
        return super().save_bearer_token(token, request, *args, **kwargs)

    def _save_bearer_token(
        self, token: dict[str, Any], request: Any, *args: Any, **kwargs: Any
    ) -> Any:
        # Inside DOT's transaction. Of concurrent refreshes with one refresh token,
        # the first to lock it rotates it; the others find it revoked and fail,
        # instead of DOT's answer of re-sending the first one's tokens (which, with
        # tokens stored hashed, it no longer has).
        used = getattr(request, "refresh_token_instance", None)
        if request.grant_type == "refresh_token" and used is not None:
            live = RefreshToken.objects.select_for_update().filter(pk=used.pk, revoked=None)
            if not live.exists():
                raise errors.InvalidGrantError(request=request)
        result = super()._save_bearer_token(token, request, *args, **kwargs)
        if request.grant_type == "authorization_code":
            now = timezone.now()
            RedeemedCode.objects.filter(expires__lt=now).delete()
            refresh_token = token.get("refresh_token")
            RedeemedCode.objects.create(
                code_checksum=checksum(request.code),
                application=request.client,
                access_token_checksum=checksum(token["access_token"]),
                refresh_token_checksum=checksum(refresh_token) if refresh_token else "",
                expires=now + timedelta(seconds=conf.REDEEMED_CODE_RETENTION_SECONDS),
            )
        return result

    def validate_refresh_token(
        self, refresh_token: str, client: ApiClient, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        valid = super().validate_refresh_token(refresh_token, client, request, *args, **kwargs)
        if (
            not valid
            and RefreshToken.objects.filter(
                token_checksum=checksum(refresh_token), application=client, revoked__isnull=False
            ).exists()
        ):
            # DOT has revoked the whole family (REFRESH_TOKEN_REUSE_PROTECTION).
            audit.record(audit.Action.REFRESH_TOKEN_REPLAYED, client, actor=client)
        return valid

    def revoke_token(
        self, token: str, token_type_hint: str | None, request: Any, *args: Any, **kwargs: Any
    ) -> None:
        """RFC 7009 revocation by the client the token belongs to, recorded in the audit trail."""
        with revoked_meanwhile() as kinds:
            super().revoke_token(token, token_type_hint, request, *args, **kwargs)
        if kinds:
            audit.record(
                audit.Action.TOKEN_REVOKED,
                request.client,
                actor=request.client,
                tokens=[kind for kind in ("access_token", "refresh_token") if kind in kinds],
            )
