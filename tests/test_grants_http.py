"""Every grant over real HTTP, with real OAuth client libraries, against a live server."""

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session as RequestsOAuth2Session

from source_oauth.models import ApiClient
from tests.oauth_helpers import (
    REDIRECT_URI,
    follow_to_redirect_uri,
    login,
    new_client,
    pkce_pair,
    query_of,
    web_client,
)

GT = ApiClient.GrantType


def token_url(server):
    return f"{server}/oauth/token"


# --- client credentials ---------------------------------------------------------------


def test_client_credentials_with_http_basic(server):
    client, secret = new_client(scopes=["content:read", "content:write"])
    oauth = RequestsOAuth2Session(client=BackendApplicationClient(client_id=client.client_id))
    token = oauth.fetch_token(
        token_url(server), client_id=client.client_id, client_secret=secret, include_client_id=False
    )
    assert token["token_type"] == "Bearer"
    assert set(token["scope"]) == {"content:read", "content:write"}
    assert "refresh_token" not in token


def test_client_credentials_with_form_body(server):
    client, secret = new_client()
    response = requests.post(
        token_url(server),
        data={
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": secret,
            "scope": "content:read",
        },
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json()["scope"] == "content:read"


def test_client_credentials_with_authlib(server):
    client, secret = new_client()
    session = OAuth2Session(
        client.client_id, secret, token_endpoint_auth_method="client_secret_post"
    )
    token = session.fetch_token(token_url(server), grant_type="client_credentials")
    assert token["scope"] == "content:read"


def test_trailing_slash_is_accepted_and_post_not_redirected(server):
    client, secret = new_client()
    response = requests.post(
        f"{server}/oauth/token/",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, secret),
        allow_redirects=False,
    )
    assert response.status_code == 200


def test_omitted_scope_means_all_allowed_scopes(server):
    client, secret = new_client(scopes=["content:read", "content:write"])
    response = requests.post(
        token_url(server),
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, secret),
    )
    assert response.json()["scope"].split() == ["content:read", "content:write"]


# --- authorization code + PKCE ----------------------------------------------------------


def authorize(server, client, session, *, scope="content:read user:profile", consent=None, **extra):
    verifier, challenge = pkce_pair()
    oauth = OAuth2Session(
        client.client_id, redirect_uri=REDIRECT_URI, scope=scope, code_challenge_method="S256"
    )
    url, state = oauth.create_authorization_url(
        f"{server}/oauth/authorize", code_verifier=verifier, **extra
    )
    response = follow_to_redirect_uri(session, url, consent=consent)
    return response, verifier, state


def browser(server, user, user_password):
    session = requests.Session()
    login(session, server, user.username, user_password)
    return session


def test_authorization_code_with_pkce_first_party_skips_consent(server, user, user_password):
    client, secret = web_client()
    response, verifier, state = authorize(server, client, browser(server, user, user_password))
    assert response.status_code == 302
    params = query_of(response)
    assert params["state"] == state

    oauth = OAuth2Session(client.client_id, secret, redirect_uri=REDIRECT_URI)
    token = oauth.fetch_token(
        token_url(server),
        authorization_response=response.headers["Location"],
        code_verifier=verifier,
    )
    assert token["scope"] == "content:read user:profile"
    assert token["refresh_token"]


def test_authorization_code_asks_login_first(server, user, user_password):
    client, _ = web_client()
    session = requests.Session()
    verifier, challenge = pkce_pair()
    response = session.get(
        f"{server}/oauth/authorize",
        params={
            "client_id": client.client_id,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
        allow_redirects=False,
    )
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/accounts/login/?next=")


def test_third_party_client_shows_consent_with_scope_descriptions(server, user, user_password):
    client, secret = web_client(third_party=True)
    session = browser(server, user, user_password)
    verifier, challenge = pkce_pair()
    page = session.get(
        f"{server}/oauth/authorize",
        params={
            "client_id": client.client_id,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "scope": "content:read user:profile",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    assert page.status_code == 200
    assert "Read the site&#x27;s content" in page.text
    assert "See your user profile (name and email address)" in page.text
    assert page.headers["X-Frame-Options"] == "DENY"

    response, verifier, _ = authorize(server, client, session, consent=True)
    oauth = OAuth2Session(client.client_id, secret, redirect_uri=REDIRECT_URI)
    token = oauth.fetch_token(
        token_url(server),
        authorization_response=response.headers["Location"],
        code_verifier=verifier,
    )
    assert token["access_token"]


def test_third_party_denied_consent_redirects_access_denied(server, user, user_password):
    client, _ = web_client(third_party=True)
    response, _, _ = authorize(server, client, browser(server, user, user_password), consent=False)
    assert query_of(response)["error"] == "access_denied"


def test_public_client_with_pkce_and_no_secret(server, user, user_password):
    client, secret = web_client(confidential=False)
    assert secret is None
    response, verifier, _ = authorize(server, client, browser(server, user, user_password))
    oauth = OAuth2Session(
        client.client_id, redirect_uri=REDIRECT_URI, token_endpoint_auth_method="none"
    )
    token = oauth.fetch_token(
        token_url(server),
        authorization_response=response.headers["Location"],
        code_verifier=verifier,
    )
    assert token["access_token"]


# --- refresh token ---------------------------------------------------------------------


def tokens_for(server, user, user_password, **settings):
    client, secret = web_client(**settings)
    response, verifier, _ = authorize(server, client, browser(server, user, user_password))
    oauth = OAuth2Session(client.client_id, secret, redirect_uri=REDIRECT_URI)
    token = oauth.fetch_token(
        token_url(server),
        authorization_response=response.headers["Location"],
        code_verifier=verifier,
    )
    return client, secret, token


def test_refresh_rotates_the_refresh_token(server, user, user_password):
    client, secret, token = tokens_for(server, user, user_password)
    oauth = OAuth2Session(client.client_id, secret, token=token)
    new = oauth.refresh_token(token_url(server), refresh_token=token["refresh_token"])
    assert new["access_token"] != token["access_token"]
    assert new["refresh_token"] != token["refresh_token"]
    assert new["scope"] == "content:read user:profile"

    # The used refresh token is spent.
    replay = requests.post(
        token_url(server),
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(client.client_id, secret),
    )
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"


def test_no_refresh_token_without_refresh_grant(server, user, user_password):
    client, secret, token = tokens_for(
        server, user, user_password, grant_types=[GT.AUTHORIZATION_CODE]
    )
    assert "refresh_token" not in token


# --- errors ----------------------------------------------------------------------------


def post_token(server, data, auth=None):
    response = requests.post(token_url(server), data=data, auth=auth)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"] == "application/json"
    return response.status_code, response.json().get("error"), response


def test_grant_type_not_enabled_is_unauthorized_client(server):
    client, secret = web_client()
    status, error, _ = post_token(
        server, {"grant_type": "client_credentials"}, auth=(client.client_id, secret)
    )
    assert (status, error) == (400, "unauthorized_client")


def test_refresh_without_refresh_grant_is_unauthorized_client(server):
    client, secret = new_client()
    status, error, _ = post_token(
        server,
        {"grant_type": "refresh_token", "refresh_token": "x"},
        auth=(client.client_id, secret),
    )
    assert (status, error) == (400, "unauthorized_client")


def test_scope_outside_allowed_scopes_is_invalid_scope(server):
    client, secret = new_client(scopes=["content:read"])
    status, error, _ = post_token(
        server,
        {"grant_type": "client_credentials", "scope": "content:read content:write"},
        auth=(client.client_id, secret),
    )
    assert (status, error) == (400, "invalid_scope")


def test_wrong_secret_is_invalid_client_with_basic_challenge(server):
    client, _ = new_client()
    status, error, response = post_token(
        server, {"grant_type": "client_credentials"}, auth=(client.client_id, "wrong")
    )
    assert (status, error) == (401, "invalid_client")
    assert response.headers["WWW-Authenticate"].startswith('Basic realm="source_oauth"')


def test_unknown_client_is_invalid_client(server):
    status, error, _ = post_token(
        server, {"grant_type": "client_credentials"}, auth=("nobody", "nothing")
    )
    assert (status, error) == (401, "invalid_client")


def test_public_client_cannot_use_client_credentials(server):
    client, _ = web_client(confidential=False)
    status, error, _ = post_token(
        server, {"grant_type": "client_credentials", "client_id": client.client_id}
    )
    assert (status, error) == (401, "invalid_client")


@pytest.mark.parametrize(
    "grant_type", ["password", "implicit", "urn:ietf:params:oauth:grant-type:device_code"]
)
def test_other_grants_are_unsupported(server, grant_type):
    client, secret = new_client()
    status, error, _ = post_token(
        server, {"grant_type": grant_type}, auth=(client.client_id, secret)
    )
    assert (status, error) == (400, "unsupported_grant_type")


def test_code_for_another_redirect_uri_is_invalid_grant(server, user, user_password):
    client, secret = web_client(redirect_uris=[REDIRECT_URI, "https://app.example.com/other"])
    response, verifier, _ = authorize(server, client, browser(server, user, user_password))
    status, error, _ = post_token(
        server,
        {
            "grant_type": "authorization_code",
            "code": query_of(response)["code"],
            "redirect_uri": "https://app.example.com/other",
            "code_verifier": verifier,
        },
        auth=(client.client_id, secret),
    )
    assert (status, error) == (400, "invalid_grant")


def test_public_client_without_pkce_gets_error_redirect(server, user, user_password):
    client, _ = web_client(confidential=False)
    session = browser(server, user, user_password)
    response = follow_to_redirect_uri(
        session,
        requests.Request(
            "GET",
            f"{server}/oauth/authorize",
            params={
                "client_id": client.client_id,
                "redirect_uri": REDIRECT_URI,
                "response_type": "code",
            },
        )
        .prepare()
        .url,
    )
    assert query_of(response)["error"] == "invalid_request"


def test_plain_pkce_is_refused(server, user, user_password):
    client, _ = web_client(confidential=False)
    session = browser(server, user, user_password)
    url = (
        requests.Request(
            "GET",
            f"{server}/oauth/authorize",
            params={
                "client_id": client.client_id,
                "redirect_uri": REDIRECT_URI,
                "response_type": "code",
                "code_challenge": "a" * 43,
                "code_challenge_method": "plain",
            },
        )
        .prepare()
        .url
    )
    response = follow_to_redirect_uri(session, url)
    assert query_of(response)["error"] == "invalid_request"


def test_unregistered_redirect_uri_shows_error_page_not_redirect(server, user, user_password):
    client, _ = web_client()
    session = browser(server, user, user_password)
    verifier, challenge = pkce_pair()
    response = session.get(
        f"{server}/oauth/authorize",
        params={
            "client_id": client.client_id,
            "redirect_uri": "https://evil.example.com/callback",
            "response_type": "code",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
        allow_redirects=False,
    )
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "invalid_request" in response.text or "mismatching_redirect_uri" in response.text


def test_metadata_document(server):
    document = requests.get(f"{server}/.well-known/oauth-authorization-server").json()
    assert document["token_endpoint"] == f"{server}/oauth/token"
    assert document["authorization_endpoint"] == f"{server}/oauth/authorize"
    assert document["revocation_endpoint"] == f"{server}/oauth/revoke"
    assert document["introspection_endpoint"] == f"{server}/oauth/introspect"
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["grant_types_supported"] == [
        "authorization_code",
        "client_credentials",
        "refresh_token",
    ]


def test_revoke_and_introspect(server):
    client, secret = new_client()
    token = requests.post(
        token_url(server),
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, secret),
    ).json()["access_token"]
    introspect = requests.post(
        f"{server}/oauth/introspect", data={"token": token}, auth=(client.client_id, secret)
    )
    assert introspect.status_code == 200
    assert introspect.json()["active"] is True
    assert introspect.json()["client_id"] == client.client_id

    revoke = requests.post(
        f"{server}/oauth/revoke", data={"token": token}, auth=(client.client_id, secret)
    )
    assert revoke.status_code == 200

    introspect = requests.post(
        f"{server}/oauth/introspect", data={"token": token}, auth=(client.client_id, secret)
    )
    assert introspect.json() == {"active": False}


def test_introspect_needs_client_authentication(server):
    response = requests.post(f"{server}/oauth/introspect", data={"token": "x"})
    assert response.status_code == 401
