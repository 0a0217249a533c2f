"""Helpers for the OpenID Connect tests: a client that signs users in, and what it checks."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

import requests

from source_oauth.models import ApiClient
from tests.oauth_helpers import (
    REDIRECT_URI,
    follow_to_redirect_uri,
    new_client,
    pkce_pair,
    query_of,
)

GT = ApiClient.GrantType
# Where Auth.js (next-auth) receives the code for a provider with the id "cms".
NEXTJS_CALLBACK = "http://localhost:3000/api/auth/callback/cms"


# Settings of an API client that create_api_client() does not take; set after creating it.
LATER = (
    "remember_approval",
    "post_logout_redirect_uris",
    "algorithm",
    "access_token_lifetime",
    "refresh_token_lifetime",
)


def oidc_client(name: str = "Next.js site", **settings: Any) -> tuple[ApiClient, str | None]:
    """A client that signs users in: authorization code + refresh, openid/profile/email."""
    settings.setdefault("grant_types", [GT.AUTHORIZATION_CODE, GT.REFRESH_TOKEN])
    settings.setdefault("redirect_uris", [REDIRECT_URI])
    settings.setdefault("scopes", ["openid", "profile", "email", "content:read"])
    later = {field: settings.pop(field) for field in LATER if field in settings}
    client, secret = new_client(name, **settings)
    if later:
        for field, value in later.items():
            setattr(client, field, value)
        client.full_clean(exclude=["client_secret"])
        client.save()
    return client, secret


def authorization_url(
    server: str,
    client: ApiClient,
    challenge: str,
    *,
    scope: str = "openid profile email",
    redirect_uri: str = REDIRECT_URI,
    **params: str,
) -> str:
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": "state-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **params,
    }
    return f"{server}/oauth/authorize?{urlencode(query)}"


def sign_in(
    server: str,
    session: requests.Session,
    client: ApiClient,
    secret: str | None,
    *,
    consent: bool | None = None,
    scope: str = "openid profile email",
    **params: str,
) -> dict[str, Any]:
    """The whole code flow for a signed-in ``session``; the token response, plus the nonce."""
    verifier, challenge = pkce_pair()
    nonce = params.pop("nonce", secrets.token_urlsafe(12))
    url = authorization_url(server, client, challenge, scope=scope, nonce=nonce, **params)
    response = follow_to_redirect_uri(session, url, consent=consent)
    return {**redeem(server, client, secret, query_of(response)["code"], verifier), "nonce": nonce}


def redeem(
    server: str, client: ApiClient, secret: str | None, code: str, verifier: str
) -> dict[str, Any]:
    """Exchange ``code`` at the token endpoint as the client's server does."""
    token = requests.post(
        f"{server}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
            **({} if secret else {"client_id": client.client_id}),
        },
        auth=(client.client_id, secret) if secret else None,
        timeout=30,
    )
    assert token.status_code == 200, token.text
    return token.json()


def relying_party(
    server: str, client: ApiClient, secret: str | None, scope: str = "openid profile email"
) -> Any:
    """authlib's OpenID Connect client (its Django integration), configured by discovery."""
    from authlib.integrations.django_client import OAuth

    return OAuth().register(
        "cms",
        client_id=client.client_id,
        client_secret=secret,
        server_metadata_url=f"{server}/.well-known/openid-configuration",
        client_kwargs={"scope": scope, "code_challenge_method": "S256"},
    )


def verified_id_token(
    server: str, token: dict[str, Any], client: ApiClient, secret: str | None = None
) -> dict[str, Any]:
    """The ID token's claims, checked as authlib's OpenID Connect client checks them.

    Signature against the JWKS, algorithm among those advertised, issuer,
    audience, expiry, nonce and ``at_hash``.
    """
    app = relying_party(server, client, secret)
    return dict(app.parse_id_token(token, nonce=token["nonce"], leeway=5))


def jose_header(compact: str) -> dict[str, Any]:
    import base64
    import json

    part = compact.split(".", 1)[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
