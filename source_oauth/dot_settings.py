"""The django-oauth-toolkit settings source_oauth relies on.

A host project starts from these and adds its own::

    from source_oauth.dot_settings import OAUTH2_PROVIDER

    OAUTH2_PROVIDER = {**OAUTH2_PROVIDER, "ACCESS_TOKEN_EXPIRE_SECONDS": 600}

The system checks of ``source_oauth.checks`` report any of the required
ones that a project changes. This module reads no Django setting, so it is
safe to import from a settings file.
"""

from __future__ import annotations

from typing import Any

# Required: source_oauth does not work without these (checked as errors).
REQUIRED: dict[str, Any] = {
    "OAUTH2_VALIDATOR_CLASS": "source_oauth.validator.SourceOAuth2Validator",
    "OAUTH2_SERVER_CLASS": "source_oauth.server.Server",
    "SCOPES_BACKEND_CLASS": "source_oauth.scopes.ScopesBackend",
    "APPLICATION_ADMIN_CLASS": "source_oauth.admin.ApiClientAdmin",
    # Token admins that never render a token or its full checksum.
    "GRANT_ADMIN_CLASS": "source_oauth.admin.GrantAdmin",
    "ID_TOKEN_ADMIN_CLASS": "source_oauth.admin.IDTokenAdmin",
}

# Secure defaults (RFC 9700); changing them is reported as a warning.
RECOMMENDED: dict[str, Any] = {
    "PKCE_REQUIRED": True,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https", "http"],
    "ALLOW_LOCALHOST_LOOPBACK": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    # RFC 9207: authorization responses name their issuer, against mix-up attacks.
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    # Access and refresh tokens stored as SHA-256 checksums only (RFC 9700 §4.14):
    # a database leak yields no usable token.
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    # DOT's deletion of tokens at RP-initiated logout filters on columns the API client
    # derives (client_type, authorization_grant_type): logout ends the session only.
    "OIDC_RP_INITIATED_LOGOUT_DELETE_TOKENS": False,
}

OAUTH2_PROVIDER: dict[str, Any] = {
    **REQUIRED,
    **RECOMMENDED,
    # oauthlib's token format from one randomness read instead of 30 (source_oauth.tokens).
    "ACCESS_TOKEN_GENERATOR": "source_oauth.tokens.generate_token",
    "REFRESH_TOKEN_GENERATOR": "source_oauth.tokens.generate_token",
    # Lifetimes: short access tokens, refresh tokens that die 30 days after disuse.
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    "REFRESH_TOKEN_EXPIRE_SECONDS": 30 * 24 * 3600,
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "client_credentials", "refresh_token"],
    "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": [
        "client_secret_basic",
        "client_secret_post",
        "none",
    ],
    "REQUEST_APPROVAL_PROMPT": "force",
    # OpenID Connect (source_oauth.oidc): sign-in with the authorization code flow. The
    # signing keys come from OIDC_RSA_PRIVATE_KEY or `manage.py oidc_keys generate`.
    "OIDC_ENABLED": True,
    "ID_TOKEN_EXPIRE_SECONDS": 3600,
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OIDC_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": [
        "client_secret_basic",
        "client_secret_post",
        "none",
    ],
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    # Ask before signing out unless the client's id_token_hint names the signed-in user.
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
}
