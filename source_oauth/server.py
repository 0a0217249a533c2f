"""The oauthlib server: only the three grants of the product, only ``code`` responses.

Configured as ``OAUTH2_PROVIDER["OAUTH2_SERVER_CLASS"]``. Leaving the
implicit, password and device grants out of the server (instead of merely
not enabling them per client) makes ``grant_type=password`` an
``unsupported_grant_type`` and ``response_type=token`` an
``unsupported_response_type`` for every client (RFC 9700 §2.1.2, §2.4).

OpenID Connect rides on the authorization code grant, through oauthlib's
OpenID Connect grant (``oauthlib.openid``): an authorization request whose
scope holds ``openid`` is routed to it by oauthlib's dispatcher, which also
checks ``prompt``; its token response carries an ``id_token``. No hybrid or
implicit response type (``id_token``, ``code id_token``...) is offered.

Access tokens live as long as their client says (``lifetimes``), else the
site default (``token_expires_in``).
"""

from __future__ import annotations

import functools
from typing import Any

from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2 import (
    AuthorizationCodeGrant,
    AuthorizationEndpoint,
    BearerToken,
    ClientCredentialsGrant,
    IntrospectEndpoint,
    RefreshTokenGrant,
    ResourceEndpoint,
    RevocationEndpoint,
    TokenEndpoint,
)
from oauthlib.oauth2.rfc6749 import errors
from oauthlib.openid import UserInfoEndpoint
from oauthlib.openid.connect.core.grant_types import (
    AuthorizationCodeGrant as OpenIDAuthorizationCodeGrant,
)
from oauthlib.openid.connect.core.grant_types.dispatchers import AuthorizationCodeGrantDispatcher

from .lifetimes import access_token_expires_in


class OpenIDConnectGrant(OpenIDAuthorizationCodeGrant):
    """oauthlib's OpenID Connect code grant, silent while ``OIDC_ENABLED`` is off."""

    def add_id_token(self, token: dict[str, Any], token_handler: Any, request: Any) -> Any:
        if not oauth2_settings.OIDC_ENABLED:
            return token
        return super().add_id_token(token, token_handler, request)


class Server(
    AuthorizationEndpoint,
    IntrospectEndpoint,
    TokenEndpoint,
    ResourceEndpoint,
    RevocationEndpoint,
    UserInfoEndpoint,
):
    def __init__(
        self,
        request_validator: Any,
        token_expires_in: Any = None,
        token_generator: Any = None,
        refresh_token_generator: Any = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        auth_grant = AuthorizationCodeGrant(request_validator)
        openid_grant = OpenIDConnectGrant(request_validator)
        bearer = BearerToken(
            request_validator,
            token_generator,
            functools.partial(access_token_expires_in, default=token_expires_in),
            refresh_token_generator,
        )
        AuthorizationEndpoint.__init__(
            self,
            default_response_type="code",
            response_types={
                "code": AuthorizationCodeGrantDispatcher(
                    default_grant=auth_grant, oidc_grant=openid_grant
                )
            },
            default_token_type=bearer,
        )
        TokenEndpoint.__init__(
            self,
            default_grant_type="authorization_code",
            grant_types={
                # Not oauthlib's AuthorizationTokenGrantDispatcher: it would look the code up
                # once more just to choose between two grants that differ only in adding an
                # ID token, which the OpenID Connect grant does only when the code's scopes
                # (read from the claimed grant) hold ``openid``.
                "authorization_code": openid_grant,
                "client_credentials": ClientCredentialsGrant(request_validator),
                "refresh_token": RefreshTokenGrant(request_validator),
            },
            default_token_type=bearer,
        )
        ResourceEndpoint.__init__(self, default_token="Bearer", token_types={"Bearer": bearer})
        RevocationEndpoint.__init__(self, request_validator)
        IntrospectEndpoint.__init__(self, request_validator)
        UserInfoEndpoint.__init__(self, request_validator)

    def validate_userinfo_request(self, request: Any) -> None:
        """A valid token without ``openid`` is ``insufficient_scope`` (403), not a bad token.

        oauthlib asks the validator for a token with ``openid``, so a token
        lacking it would be answered 401 ``invalid_token``, as if it were forged.
        """
        request.scopes = []
        if not self.bearer.validate_request(request):
            raise errors.InvalidTokenError()
        if "openid" not in request.scopes:
            raise errors.InsufficientScopeError()
