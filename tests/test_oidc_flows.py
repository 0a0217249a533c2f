"""OpenID Connect over HTTP against a live server: claims, UserInfo, prompt, max_age, logout."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.sessions.backends.db import SessionStore
from django.test import override_settings

from source_oauth.models import ConsentRecord
from source_oauth.oidc.authorize import SESSION_KEY
from tests.oauth_helpers import (
    REDIRECT_URI,
    follow_to_redirect_uri,
    login,
    pkce_pair,
    query_of,
    web_client,
)
from tests.oidc_helpers import (
    authorization_url,
    oidc_client,
    relying_party,
    sign_in,
    verified_id_token,
)

pytestmark = pytest.mark.usefixtures("signing_key")

# What every ID token carries besides the user's claims (OpenID Connect Core §2).
TOKEN_CLAIMS = {"iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp", "jti"}


@pytest.fixture
def browser(server, user, user_password) -> requests.Session:
    """Alice's browser, signed in to the CMS."""
    session = requests.Session()
    login(session, server, "alice", user_password)
    return session


def location_query(response: requests.Response) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def userinfo(server: str, access_token: str, method: str = "GET") -> requests.Response:
    return requests.request(
        method,
        f"{server}/oauth/userinfo",
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=30,
    )


# --- claims per scope -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "claims"),
    [
        ("openid", {"sub"}),
        ("openid email", {"sub", "email"}),
        ("openid profile", {"sub", "name", "given_name", "preferred_username"}),
        (
            "openid profile email",
            {"sub", "name", "given_name", "preferred_username", "email"},
        ),
    ],
)
def test_id_token_and_userinfo_carry_only_what_the_scopes_allow(
    server, browser, user, scope, claims
):
    client, secret = oidc_client()
    token = sign_in(server, browser, client, secret, scope=scope)
    id_token = verified_id_token(server, token, client, secret)
    assert set(id_token) == claims | TOKEN_CLAIMS
    assert id_token["sub"] == str(user.pk)
    assert id_token["nonce"] == token["nonce"]
    for method in ("GET", "POST"):
        response = userinfo(server, token["access_token"], method)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers["Cache-Control"] == "no-store"
        assert set(response.json()) == claims
        assert response.json()["sub"] == str(user.pk)


def test_the_full_profile_of_a_user_with_every_field(server, browser, user):
    user.last_name = "Liddell"
    user.save()
    client, secret = oidc_client()
    token = sign_in(server, browser, client, secret)
    assert userinfo(server, token["access_token"]).json() == {
        "sub": str(user.pk),
        "name": "Alice Liddell",
        "given_name": "Alice",
        "family_name": "Liddell",
        "preferred_username": "alice",
        "email": "alice@example.com",
    }


def test_sub_is_stable_and_never_the_username(server, browser, user):
    client, secret = oidc_client()
    first = verified_id_token(server, sign_in(server, browser, client, secret), client, secret)
    user.username = "alice.liddell"
    user.save()
    second = verified_id_token(server, sign_in(server, browser, client, secret), client, secret)
    assert first["sub"] == second["sub"] == str(user.pk)
    assert second["preferred_username"] == "alice.liddell"


def add_department(user, scopes):
    """A host's claims hook (SOURCE_OAUTH["OIDC_CLAIMS"]) for the tests below."""
    claims = {"email_verified": True, "sub": "forged", "iss": "https://evil.example"}
    if "profile" in scopes:
        claims["department"] = "Editorial"
    return claims


@override_settings(SOURCE_OAUTH={"OIDC_CLAIMS": "tests.test_oidc_flows.add_department"})
def test_a_host_adds_claims_through_one_hook(server, browser, user):
    client, secret = oidc_client()
    token = sign_in(server, browser, client, secret, scope="openid profile")
    claims = userinfo(server, token["access_token"]).json()
    assert claims["department"] == "Editorial"
    assert claims["sub"] == str(user.pk)  # never the hook's
    assert "email_verified" not in claims  # a standard claim still needs its scope
    id_token = verified_id_token(server, token, client, secret)
    assert id_token["iss"] == server and id_token["department"] == "Editorial"

    token = sign_in(server, browser, client, secret, scope="openid email")
    assert userinfo(server, token["access_token"]).json()["email_verified"] is True


def test_no_id_token_without_openid_and_userinfo_refuses_such_a_token(server, browser):
    client, secret = oidc_client()
    token = sign_in(server, browser, client, secret, scope="content:read")
    assert "id_token" not in token
    response = userinfo(server, token["access_token"])
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"


def test_userinfo_refuses_missing_bad_and_query_string_tokens(server, browser):
    client, secret = oidc_client()
    token = sign_in(server, browser, client, secret)
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        response = requests.get(f"{server}/oauth/userinfo", headers=headers, timeout=30)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_token"
        assert response.headers["WWW-Authenticate"].startswith(
            'Bearer realm="source_oauth", error="invalid_token"'
        )
    response = requests.get(
        f"{server}/oauth/userinfo", params={"access_token": token["access_token"]}, timeout=30
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    # RFC 6750 §2.2: a form-encoded body is a way to send it.
    response = requests.post(
        f"{server}/oauth/userinfo", data={"access_token": token["access_token"]}, timeout=30
    )
    assert response.status_code == 200


def test_a_revoked_token_no_longer_reads_userinfo(server, browser):
    client, secret = oidc_client()
    token = sign_in(server, browser, client, secret)
    assert userinfo(server, token["access_token"]).status_code == 200
    requests.post(
        f"{server}/oauth/revoke",
        data={"token": token["access_token"]},
        auth=(client.client_id, secret),
        timeout=30,
    )
    assert userinfo(server, token["access_token"]).status_code == 401


def test_refresh_keeps_working_without_a_new_id_token(server, browser):
    client, secret = oidc_client()
    token = sign_in(server, browser, client, secret)
    refreshed = requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(client.client_id, secret),
        timeout=30,
    ).json()
    assert "id_token" not in refreshed
    assert userinfo(server, refreshed["access_token"]).json()["email"] == "alice@example.com"


def test_a_public_client_signs_in_with_pkce_and_no_secret(server, browser, user):
    client, _ = oidc_client(confidential=False)
    token = sign_in(server, browser, client, None)
    assert verified_id_token(server, token, client)["sub"] == str(user.pk)


def test_hybrid_and_implicit_response_types_are_refused(server, browser):
    client, _ = oidc_client()
    _, challenge = pkce_pair()
    for response_type in ("id_token", "code id_token", "id_token token", "code token"):
        url = authorization_url(server, client, challenge, response_type=response_type, nonce="n")
        response = browser.get(url, allow_redirects=False)
        assert response.status_code == 302, response_type
        query = location_query(response)
        # (Which of the two errors is issue 12's; either way, nothing is issued.)
        assert query["error"] in ("unsupported_response_type", "unauthorized_client")
        assert not {"code", "id_token", "access_token"} & set(query)
        assert "#" not in response.headers["Location"]


# --- auth_time and max_age --------------------------------------------------------------------


def session_of(browser: requests.Session) -> SessionStore:
    return SessionStore(session_key=browser.cookies["sessionid"])


def signed_in_ago(browser: requests.Session, seconds: int) -> None:
    """As if Alice's browser had signed in ``seconds`` ago."""
    session = session_of(browser)
    session[SESSION_KEY] = int(time.time()) - seconds
    session.save()


def test_auth_time_is_when_this_browser_signed_in(server, browser, user):
    signed_in_at = session_of(browser)[SESSION_KEY]
    # Another sign-in elsewhere moves last_login, which DOT would report.
    type(user).objects.filter(pk=user.pk).update(last_login="2001-01-01T00:00:00Z")
    client, secret = oidc_client()
    id_token = verified_id_token(server, sign_in(server, browser, client, secret), client, secret)
    assert id_token["auth_time"] == signed_in_at


def test_max_age_sends_an_old_session_to_sign_in_again(server, browser, user_password):
    client, secret = oidc_client()
    signed_in_ago(browser, 600)
    _, challenge = pkce_pair()
    url = authorization_url(server, client, challenge, max_age="300", nonce="n")

    response = browser.get(url, allow_redirects=False)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/accounts/login/"
    next_url = parse_qs(urlsplit(response.headers["Location"]).query)["next"][0]
    assert "max_age" not in next_url and next_url.startswith("/oauth/authorize?")

    # A fresh sign-in satisfies it: the code comes, with the new auth_time.
    before = int(time.time())
    login(browser, server, "alice", user_password)
    token = sign_in(server, browser, client, secret, max_age="300")
    assert verified_id_token(server, token, client, secret)["auth_time"] >= before


def test_a_recent_enough_session_is_not_asked_again(server, browser):
    client, secret = oidc_client()
    signed_in_ago(browser, 60)
    token = sign_in(server, browser, client, secret, max_age="3600")
    assert "id_token" in token


def test_max_age_zero_means_sign_in_again_once(server, browser, user_password):
    client, _ = oidc_client()
    _, challenge = pkce_pair()
    url = authorization_url(server, client, challenge, max_age="0", nonce="n")
    response = browser.get(url, allow_redirects=False)
    assert urlsplit(response.headers["Location"]).path == "/accounts/login/"
    login(browser, server, "alice", user_password)
    next_url = parse_qs(urlsplit(response.headers["Location"]).query)["next"][0]
    answer = follow_to_redirect_uri(browser, f"{server}{next_url}")
    assert "code" in query_of(answer)  # no loop back to the login page


def test_an_unreadable_max_age_is_invalid_request(server, browser):
    client, _ = oidc_client()
    _, challenge = pkce_pair()
    for value in ("-1", "soon", "1e3", ""):
        url = authorization_url(server, client, challenge, max_age=value, nonce="n")
        response = browser.get(url, allow_redirects=False)
        assert location_query(response)["error"] == "invalid_request", value
        assert location_query(response)["state"] == "state-1"


# --- prompt -------------------------------------------------------------------------------


def test_prompt_none_signed_out_is_login_required(server):
    client, _ = oidc_client()
    _, challenge = pkce_pair()
    url = authorization_url(server, client, challenge, prompt="none", nonce="n")
    response = requests.get(url, allow_redirects=False, timeout=30)
    assert response.headers["Location"].startswith(REDIRECT_URI)
    assert location_query(response) == {
        "error": "login_required",
        "state": "state-1",
        "iss": server,  # RFC 9207, errors included
    }


def test_prompt_none_signed_in_first_party_gets_its_code_silently(server, browser):
    client, secret = oidc_client()
    token = sign_in(server, browser, client, secret, prompt="none")
    assert "id_token" in token


def test_prompt_none_for_an_old_session_and_max_age_is_login_required(server, browser):
    client, _ = oidc_client()
    signed_in_ago(browser, 600)
    _, challenge = pkce_pair()
    url = authorization_url(server, client, challenge, prompt="none", max_age="60", nonce="n")
    response = browser.get(url, allow_redirects=False)
    assert location_query(response)["error"] == "login_required"


def test_prompt_none_where_consent_is_needed_is_consent_required(server, browser):
    client, secret = oidc_client(third_party=True, remember_approval=True)
    _, challenge = pkce_pair()
    url = authorization_url(server, client, challenge, prompt="none", nonce="n")
    response = browser.get(url, allow_redirects=False)
    assert response.headers["Location"].startswith(REDIRECT_URI)
    query = location_query(response)
    assert (query["error"], query["state"]) == ("consent_required", "state-1")

    # Once the user approved (remembered), the same silent request succeeds.
    sign_in(server, browser, client, secret, consent=True)
    assert "id_token" in sign_in(server, browser, client, secret, prompt="none")


def test_prompt_none_with_other_values_is_invalid_request(server, browser):
    client, _ = oidc_client()
    _, challenge = pkce_pair()
    url = authorization_url(server, client, challenge, prompt="none consent", nonce="n")
    response = browser.get(url, allow_redirects=False)
    assert location_query(response)["error"] == "invalid_request"


def test_prompt_login_signs_in_again(server, browser, user_password):
    client, secret = oidc_client()
    _, challenge = pkce_pair()
    url = authorization_url(server, client, challenge, prompt="login", nonce="n")
    response = browser.get(url, allow_redirects=False)
    assert urlsplit(response.headers["Location"]).path == "/accounts/login/"
    assert "prompt" not in parse_qs(urlsplit(response.headers["Location"]).query)["next"][0]
    login(browser, server, "alice", user_password)
    assert "id_token" in sign_in(server, browser, client, secret)


def test_prompt_consent_asks_even_when_approval_is_remembered(server, browser):
    client, secret = oidc_client(third_party=True, remember_approval=True)
    sign_in(server, browser, client, secret, consent=True)
    sign_in(server, browser, client, secret)  # remembered: no page (consent=None fails on one)
    _, challenge = pkce_pair()
    url = authorization_url(server, client, challenge, prompt="consent", nonce="n")
    page = browser.get(url, allow_redirects=False)
    assert page.status_code == 200 and 'id="authorizationForm"' in page.text


def test_prompt_consent_never_shows_a_first_party_client_a_page(server, browser):
    client, secret = oidc_client()
    assert "id_token" in sign_in(server, browser, client, secret, prompt="consent")


# --- id_token_hint ---------------------------------------------------------------------------


def test_id_token_hint_of_the_signed_in_user_passes(server, browser):
    client, secret = oidc_client()
    first = sign_in(server, browser, client, secret)
    second = sign_in(
        server, browser, client, secret, prompt="none", id_token_hint=first["id_token"]
    )
    assert "id_token" in second


def test_id_token_hint_of_another_user_signs_in_again(
    server, browser, django_user_model, user_password
):
    django_user_model.objects.create_user("bob", "bob@example.com", user_password)
    bobs_browser = requests.Session()
    login(bobs_browser, server, "bob", user_password)
    client, secret = oidc_client()
    bobs = sign_in(server, bobs_browser, client, secret)
    _, challenge = pkce_pair()

    url = authorization_url(
        server, client, challenge, prompt="none", id_token_hint=bobs["id_token"], nonce="n"
    )
    assert location_query(browser.get(url, allow_redirects=False))["error"] == "login_required"

    url = authorization_url(server, client, challenge, id_token_hint=bobs["id_token"], nonce="n")
    response = browser.get(url, allow_redirects=False)
    assert urlsplit(response.headers["Location"]).path == "/accounts/login/"


def test_a_forged_id_token_hint_is_not_trusted(server, browser):
    client, secret = oidc_client()
    header, payload, _ = sign_in(server, browser, client, secret)["id_token"].split(".")
    _, challenge = pkce_pair()
    url = authorization_url(
        server, client, challenge, prompt="none", id_token_hint=f"{header}.{payload}.AAAA"
    )
    assert location_query(browser.get(url, allow_redirects=False))["error"] == "login_required"


# --- the consent page -----------------------------------------------------------------------


def test_the_consent_page_lists_the_identity_claims_and_links_connected_apps(server, browser):
    client, _ = oidc_client(third_party=True)
    _, challenge = pkce_pair()
    page = browser.get(authorization_url(server, client, challenge, nonce="n")).text
    assert 'id="authorizationForm"' in page
    assert "Your email address: <strong>alice@example.com</strong>" in page
    assert "Your name: <strong>Alice</strong>" in page
    assert "Your username: <strong>alice</strong>" in page
    assert "An identifier of your account (not your username)" in page
    assert 'href="/oauth/connected-apps"' in page


# --- RP-initiated logout ----------------------------------------------------------------------


def signed_out(browser: requests.Session, server: str) -> bool:
    response = browser.get(f"{server}/oauth/connected-apps", allow_redirects=False)
    return response.status_code == 302 and "/accounts/login/" in response.headers["Location"]


def test_logout_with_the_users_id_token_returns_to_a_registered_uri(server, browser):
    client, secret = oidc_client(post_logout_redirect_uris="https://app.example.com/signed-out")
    token = sign_in(server, browser, client, secret)
    logout = relying_party(server, client, secret).create_logout_url(
        post_logout_redirect_uri="https://app.example.com/signed-out",
        id_token_hint=token["id_token"],
        state="bye",
    )
    response = browser.get(logout["url"], allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "https://app.example.com/signed-out?state=bye"
    assert signed_out(browser, server)
    # The tokens are the client's to revoke: logging out of the CMS leaves them.
    assert userinfo(server, token["access_token"]).status_code == 200


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example.com/signed-out/",
        "https://app.example.com/signed-out?x=1",
        "https://app.example.com/Signed-out",
        "https://app.example.com/signed",
        "https://evil.example.com/signed-out",
        "http://app.example.com/signed-out",
    ],
)
def test_logout_redirects_only_to_an_exactly_registered_uri(server, browser, uri):
    client, secret = oidc_client(post_logout_redirect_uris="https://app.example.com/signed-out")
    token = sign_in(server, browser, client, secret)
    response = browser.get(
        f"{server}/oauth/logout",
        params={"id_token_hint": token["id_token"], "post_logout_redirect_uri": uri},
        allow_redirects=False,
    )
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert not signed_out(browser, server)


def test_logout_without_a_hint_asks_first(server, browser):
    client, _ = oidc_client(post_logout_redirect_uris="https://app.example.com/signed-out")
    url = f"{server}/oauth/logout?client_id={client.client_id}&post_logout_redirect_uri=https://app.example.com/signed-out"
    page = browser.get(url, allow_redirects=False)
    assert page.status_code == 200 and 'id="logoutForm"' in page.text
    assert page.headers["X-Frame-Options"] == "DENY"
    assert not signed_out(browser, server)
    response = browser.post(
        url,
        data={
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            "client_id": client.client_id,
            "post_logout_redirect_uri": "https://app.example.com/signed-out",
            "allow": "1",
        },
        headers={"Referer": url},
        allow_redirects=False,
    )
    assert response.headers["Location"] == "https://app.example.com/signed-out"
    assert signed_out(browser, server)


def test_logout_for_an_unknown_client_is_an_error_page(server, browser):
    for client_id in ("no-such-client", "bad\x00id"):
        response = browser.get(
            f"{server}/oauth/logout",
            params={"client_id": client_id, "post_logout_redirect_uri": "https://x.example/"},
            allow_redirects=False,
        )
        assert response.status_code == 400
        assert "Location" not in response.headers


# --- keys at the token endpoint ------------------------------------------------------------


def test_without_a_signing_key_the_token_request_is_503_json(server, browser, signing_key):
    signing_key.delete()
    client, secret = oidc_client()
    verifier, challenge = pkce_pair()
    answer = follow_to_redirect_uri(
        browser, authorization_url(server, client, challenge, nonce="n")
    )
    response = requests.post(
        f"{server}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": query_of(answer)["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=(client.client_id, secret),
        timeout=30,
    )
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert response.headers["Retry-After"] == "60"
    assert response.headers["Cache-Control"] == "no-store"
    # Plain OAuth is unaffected.
    plain, plain_secret = web_client()
    token = sign_in(server, browser, plain, plain_secret, scope="content:read")
    assert "id_token" not in token


def test_remembered_consent_is_recorded_by_the_flow(server, browser, user):
    client, secret = oidc_client(third_party=True, remember_approval=True)
    sign_in(server, browser, client, secret, consent=True)
    record = ConsentRecord.objects.get(user=user, client=client)
    assert record.scopes == ["email", "openid", "profile"]


def test_with_openid_connect_off_there_is_no_id_token_and_no_discovery(server, browser):
    from source_oauth.dot_settings import OAUTH2_PROVIDER

    client, secret = oidc_client()
    with override_settings(OAUTH2_PROVIDER={**OAUTH2_PROVIDER, "OIDC_ENABLED": False}):
        token = sign_in(server, browser, client, secret)
        assert "id_token" not in token
        for path in ("/.well-known/openid-configuration", "/oauth/jwks", "/oauth/userinfo"):
            assert requests.get(f"{server}{path}", timeout=30).status_code == 404, path
