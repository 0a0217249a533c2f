"""DOT's request validator, taught the API client's settings.

Configured as ``OAUTH2_PROVIDER["OAUTH2_VALIDATOR_CLASS"]``. Each override
states one rule of the product; the protocol itself stays DOT's and oauthlib's.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import unquote_plus

from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749 import errors

from .models import ApiClient
from .scopes import client_scope_names
from .secrets import check_secret

GrantType = ApiClient.GrantType


def client_credentials(request: Any) -> tuple[str, str, str] | None:
    """Return ``(client_id, secret, method)`` from HTTP Basic or the form body, or None.

    When an ``Authorization: Basic`` header is present it is the only method
    considered (RFC 6749 §2.3: a client uses one authentication method), so a
    broken header never falls back to body credentials.
    """
    header = request.headers.get("HTTP_AUTHORIZATION") or ""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            return None
        return unquote_plus(client_id), unquote_plus(secret), "basic"
    client_id = getattr(request, "client_id", None)
    secret = getattr(request, "client_secret", None)
    if client_id and secret:
        return client_id, secret, "body"
    return None


class SourceOAuth2Validator(OAuth2Validator):
    def _load_application(self, client_id: str, request: Any) -> ApiClient | None:
        # One query for the client and one for its scopes, once per request.
        client = getattr(request, "client", None)
        if isinstance(client, ApiClient) and client.client_id == client_id:
            return client
        if not client_id or not isinstance(client_id, str):
            return None
        try:
            client = ApiClient.objects.prefetch_related("allowed_scopes").get(client_id=client_id)
        except (ApiClient.DoesNotExist, ValueError):
            # ValueError: PostgreSQL refuses NUL bytes in a string literal.
            return None
        request.client = client
        return client

    def authenticate_client(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        """A confidential client proves its secret, by HTTP Basic or in the form body."""
        credentials = client_credentials(request)
        if credentials is None:
            return False
        client_id, secret, method = credentials
        request.client_auth_method = method
        client = self._load_application(client_id, request)
        if client is None or not client.confidential:
            # Hash anyway: an unknown client costs the same time as a wrong secret.
            check_secret(secret, "")
            return False
        return client.check_client_secret(secret)

    def confirm_redirect_uri(
        self,
        client_id: str,
        code: str,
        redirect_uri: str,
        client: ApiClient,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        """A code is redeemed only with the redirect URI it was issued for.

        RFC 6749 §5.2 names that error ``invalid_grant``; oauthlib would say
        ``invalid_request``.
        """
        if not super().confirm_redirect_uri(client_id, code, redirect_uri, client, *args, **kwargs):
            raise errors.InvalidGrantError(description="Mismatching redirect URI.")
        return True

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
        return response_type == "code" and GrantType.AUTHORIZATION_CODE in client.grant_types

    def validate_scopes(
        self,
        client_id: str,
        scopes: list[str],
        client: ApiClient,
        request: Any,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        """A token never carries a scope outside the client's allowed scopes."""
        return set(scopes) <= set(client_scope_names(client))

    def get_default_scopes(
        self, client_id: str, request: Any, *args: Any, **kwargs: Any
    ) -> list[str]:
        """No ``scope`` parameter means every scope the client is allowed."""
        return client_scope_names(request.client)

    def is_pkce_required(self, client_id: str, request: Any) -> bool:
        """PKCE is required of every client, with S256 only (RFC 9700 §2.1.1)."""
        method = getattr(request, "code_challenge_method", None)
        if getattr(request, "code_challenge", None) is not None and method != "S256":
            raise errors.InvalidRequestError(
                description="code_challenge_method must be S256.", request=request
            )
        return True

    def rotate_refresh_token(self, request: Any) -> bool:
        """A refresh token is used once: every refresh returns a new one."""
        return True

    def save_bearer_token(
        self, token: dict[str, Any], request: Any, *args: Any, **kwargs: Any
    ) -> Any:
        """Issue a refresh token only to a client with the refresh_token grant."""
        if GrantType.REFRESH_TOKEN not in request.client.grant_types:
            token.pop("refresh_token", None)
        return super().save_bearer_token(token, request, *args, **kwargs)
