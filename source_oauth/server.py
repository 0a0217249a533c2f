"""The oauthlib server: only the three grants of the product, only ``code`` responses.

Configured as ``OAUTH2_PROVIDER["OAUTH2_SERVER_CLASS"]``. Leaving the
implicit, password and device grants out of the server (instead of merely
not enabling them per client) makes ``grant_type=password`` an
``unsupported_grant_type`` and ``response_type=token`` an
``unsupported_response_type`` for every client (RFC 9700 §2.1.2, §2.4).
"""

from __future__ import annotations

from typing import Any

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


class Server(
    AuthorizationEndpoint, IntrospectEndpoint, TokenEndpoint, ResourceEndpoint, RevocationEndpoint
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
        bearer = BearerToken(
            request_validator, token_generator, token_expires_in, refresh_token_generator
        )
        AuthorizationEndpoint.__init__(
            self,
            default_response_type="code",
            response_types={"code": auth_grant},
            default_token_type=bearer,
        )
        TokenEndpoint.__init__(
            self,
            default_grant_type="authorization_code",
            grant_types={
                "authorization_code": auth_grant,
                "client_credentials": ClientCredentialsGrant(request_validator),
                "refresh_token": RefreshTokenGrant(request_validator),
            },
            default_token_type=bearer,
        )
        ResourceEndpoint.__init__(self, default_token="Bearer", token_types={"Bearer": bearer})
        RevocationEndpoint.__init__(self, request_validator)
        IntrospectEndpoint.__init__(self, request_validator)
