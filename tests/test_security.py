"""RFC 9700 guarantees, each proven over HTTP against a live server."""

import logging
from datetime import timedelta
from unittest import mock

import pytest
import requests
from django.core.cache import cache
from django.utils import timezone
from oauth2_provider.models import get_grant_model

from source_oauth import validator as validator_module
from source_oauth.clients import rotate_client_secret
from source_oauth.models import ApiClient, AuditEvent
from tests.oauth_helpers import (
    REDIRECT_URI,
    follow_to_redirect_uri,
    form_fields,
    login,
    new_client,
    pkce_pair,
    query_of,
    web_client,
)

GT = ApiClient.GrantType


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def browser(server, user, password):
    session = requests.Session()
    login(session, server, user.username, password)
    return session


def authorize_url(server, client, redirect_uri=REDIRECT_URI, **params):
    verifier, challenge = pkce_pair()
    query = {
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "xyz",
        **params,
    }
    return requests.Request(
        "GET", f"{server}/oauth/authorize", params=query
    ).prepare().url, verifier


def get_code(server, session, client, redirect_uri=REDIRECT_URI, **params):
    url, verifier = authorize_url(server, client, redirect_uri, **params)
    response = follow_to_redirect_uri(session, url, redirect_uri)
    return query_of(response)["code"], verifier


def redeem(server, client, secret, code, verifier, redirect_uri=REDIRECT_URI):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier is not None:
        data["code_verifier"] = verifier
    return requests.post(f"{server}/oauth/token", data=data, auth=(client.client_id, secret))


# --- redirect URIs ---------------------------------------------------------------------

LOOK_ALIKES = [
    "https://app.example.com/callback/",
    "https://APP.example.com/callback",
    "https://app.example.com/Callback",
    "https://app.example.com/callback?next=/",
    "https://app.example.com/callback#x",
    "https://app.example.com/callbackx",
    "https://app.example.com/call",
    "https://evil@app.example.com/callback",
    "https://app.example.com.evil.com/callback",
    "https://app.example.com:444/callback",
    "http://app.example.com/callback",
]


@pytest.mark.parametrize("redirect_uri", LOOK_ALIKES)
def test_redirect_uri_variants_get_an_error_page_and_no_redirect(
    server, user, user_password, redirect_uri
):
    client, _ = web_client()
    session = browser(server, user, user_password)
    url, _ = authorize_url(server, client, redirect_uri)
    response = session.get(url, allow_redirects=False)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "cannot be completed" in response.text


def test_unknown_client_gets_an_error_page_and_no_redirect(server, user, user_password):
    session = browser(server, user, user_password)
    client = ApiClient(client_id="does-not-exist")
    url, _ = authorize_url(server, client)
    response = session.get(url, allow_redirects=False)
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_loopback_redirect_accepts_any_port(server, user, user_password):
    client, secret = web_client(redirect_uris=["http://127.0.0.1/callback"])
    session = browser(server, user, user_password)
    code, verifier = get_code(server, session, client, "http://127.0.0.1:53817/callback")
    response = redeem(server, client, secret, code, verifier, "http://127.0.0.1:53817/callback")
    assert response.status_code == 200


# --- PKCE --------------------------------------------------------------------------------


def test_code_without_verifier_is_invalid_grant(server, user, user_password):
    client, secret = web_client()
    code, _ = get_code(server, browser(server, user, user_password), client)
    response = redeem(server, client, secret, code, None)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


def test_wrong_verifier_is_invalid_grant_and_burns_the_code(server, user, user_password):
    client, secret = web_client()
    code, verifier = get_code(server, browser(server, user, user_password), client)
    response = redeem(server, client, secret, code, "w" * 64)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")
    assert redeem(server, client, secret, code, verifier).json()["error"] == "invalid_grant"


def test_verifier_for_a_code_without_challenge_is_invalid_grant(server, user):
    client, secret = web_client()
    get_grant_model().objects.create(
        application=client,
        user=user,
        code="legacy-code-without-challenge",
        expires=timezone.now() + timedelta(seconds=30),
        redirect_uri=REDIRECT_URI,
        scope="content:read",
    )
    response = redeem(server, client, secret, "legacy-code-without-challenge", "v" * 64)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


def test_challenge_is_required_and_s256_only(server, user, user_password):
    client, _ = web_client()
    session = browser(server, user, user_password)
    url, _ = authorize_url(server, client, code_challenge_method="plain")
    assert query_of(follow_to_redirect_uri(session, url))["error"] == "invalid_request"
    url = (
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
        .url
    )
    assert query_of(follow_to_redirect_uri(session, url))["error"] == "invalid_request"


# --- authorization codes -------------------------------------------------------------------


def test_code_lifetime_is_60_seconds_and_an_expired_code_fails(
    server, user, user_password, settings
):
    from oauth2_provider.settings import oauth2_settings

    assert oauth2_settings.AUTHORIZATION_CODE_EXPIRE_SECONDS <= 60
    client, secret = web_client()
    code, verifier = get_code(server, browser(server, user, user_password), client)
    get_grant_model().objects.filter(code=code).update(
        expires=timezone.now() - timedelta(seconds=1)
    )
    response = redeem(server, client, secret, code, verifier)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


def test_code_is_bound_to_its_client(server, user, user_password):
    client, _ = web_client()
    other, other_secret = web_client()
    code, verifier = get_code(server, browser(server, user, user_password), client)
    response = redeem(server, other, other_secret, code, verifier)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


def test_code_redeemed_twice_fails_and_revokes_its_tokens(server, user, user_password):
    client, secret = web_client()
    code, verifier = get_code(server, browser(server, user, user_password), client)
    first = redeem(server, client, secret, code, verifier).json()
    second = redeem(server, client, secret, code, verifier)
    assert (second.status_code, second.json()["error"]) == (400, "invalid_grant")
    introspection = requests.post(
        f"{server}/oauth/introspect",
        data={"token": first["access_token"]},
        auth=(client.client_id, secret),
    ).json()
    assert introspection == {"active": False}
    refresh = requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        auth=(client.client_id, secret),
    )
    assert refresh.json()["error"] == "invalid_grant"
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CODE_REPLAYED).count() == 1


# --- refresh tokens ------------------------------------------------------------------------


def tokens(server, user, user_password, **settings):
    client, secret = web_client(**settings)
    code, verifier = get_code(server, browser(server, user, user_password), client)
    return client, secret, redeem(server, client, secret, code, verifier).json()


def refresh(server, client, secret, refresh_token, **extra):
    return requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token, **extra},
        auth=(client.client_id, secret),
    )


def test_refresh_replay_revokes_the_whole_family(server, user, user_password):
    client, secret, first = tokens(server, user, user_password)
    second = refresh(server, client, secret, first["refresh_token"]).json()
    replay = refresh(server, client, secret, first["refresh_token"])
    assert (replay.status_code, replay.json()["error"]) == (400, "invalid_grant")
    # The legitimate newest refresh token dies with the family.
    assert refresh(server, client, secret, second["refresh_token"]).json()["error"] == (
        "invalid_grant"
    )
    assert AuditEvent.objects.filter(action=AuditEvent.Action.REFRESH_TOKEN_REPLAYED).exists()


def test_refresh_cannot_widen_scope(server, user, user_password):
    client, secret, first = tokens(
        server, user, user_password, scopes=["content:read", "user:profile", "content:write"]
    )
    # The user granted content:read user:profile (the authorize request's scope).
    assert set(first["scope"].split()) == {"content:read", "content:write", "user:profile"}
    client2, secret2 = web_client(scopes=["content:read", "user:profile", "content:write"])
    code, verifier = get_code(
        server, browser(server, user, user_password), client2, scope="content:read"
    )
    narrow = redeem(server, client2, secret2, code, verifier).json()
    assert narrow["scope"] == "content:read"
    widened = refresh(server, client2, secret2, narrow["refresh_token"], scope="content:write")
    assert (widened.status_code, widened.json()["error"]) == (400, "invalid_scope")


def test_another_client_cannot_use_a_refresh_token(server, user, user_password):
    client, secret, first = tokens(server, user, user_password)
    other, other_secret = web_client()
    response = refresh(server, other, other_secret, first["refresh_token"])
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


# --- client authentication ---------------------------------------------------------------


def token_request(server, client_id, secret, **headers):
    return requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        headers=headers,
        timeout=10,
    )


def test_failed_client_authentication_is_rate_limited_per_address(server, settings):
    settings.SOURCE_OAUTH = {"AUTH_FAILURE_LIMIT": 3, "AUTH_FAILURE_WINDOW_SECONDS": 120}
    client, _secret = new_client()
    for n in range(3):
        assert token_request(server, f"unknown-{n}", "wrong").status_code == 401
    blocked = token_request(server, client.client_id, "wrong")
    assert blocked.status_code == 429
    assert blocked.headers["Retry-After"] == "120"
    assert blocked.headers["Cache-Control"] == "no-store"
    assert blocked.json()["error"] == "slow_down"
    # Once per window, in the audit trail; never the secret.
    events = AuditEvent.objects.filter(action=AuditEvent.Action.CLIENT_AUTH_THROTTLED)
    assert events.count() == 1
    assert events.get().detail == {"address": "127.0.0.1", "failures": 3, "window_seconds": 120}
    assert token_request(server, client.client_id, "wrong").status_code == 429
    assert events.count() == 1


def test_strangers_failures_never_lock_out_the_client(server, settings):
    # Anyone who knows a client ID (public for browser apps) fails with it, from this
    # very address even: the client's correct secret still gets its token.
    settings.SOURCE_OAUTH = {"AUTH_FAILURE_LIMIT": 3}
    client, secret = new_client()
    for _ in range(11):
        token_request(server, client.client_id, "guess")
    assert token_request(server, client.client_id, "guess").status_code == 429
    response = token_request(server, client.client_id, secret)
    assert response.status_code == 200, response.text
    assert response.json()["access_token"]
    # Revocation and introspection too.
    token = response.json()["access_token"]
    introspection = requests.post(
        f"{server}/oauth/introspect", data={"token": token}, auth=(client.client_id, secret)
    )
    assert introspection.json()["active"] is True
    revocation = requests.post(
        f"{server}/oauth/revoke", data={"token": token}, auth=(client.client_id, secret)
    )
    assert revocation.status_code == 200


def test_unknown_client_and_wrong_secret_cost_the_same_hash(server):
    client, _ = new_client()
    with mock.patch.object(
        validator_module, "check_secret", wraps=validator_module.check_secret
    ) as unknown_calls:
        requests.post(
            f"{server}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("unknown", "wrong"),
        )
    from source_oauth import models

    with mock.patch.object(models, "check_secret", wraps=models.check_secret) as wrong_calls:
        requests.post(
            f"{server}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client.client_id, "wrong"),
        )
    assert unknown_calls.call_count == 1
    assert wrong_calls.call_count >= 1


def test_secret_rotation_keeps_the_old_secret_for_the_overlap_only(server):
    client, old = new_client()
    new = rotate_client_secret(client, overlap=timedelta(minutes=5)).client_secret

    def status(secret):
        return requests.post(
            f"{server}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client.client_id, secret),
        ).status_code

    assert (status(old), status(new)) == (200, 200)
    ApiClient.objects.filter(pk=client.pk).update(
        previous_secret_expires=timezone.now() - timedelta(seconds=1)
    )
    assert (status(old), status(new)) == (401, 200)


# --- responses ---------------------------------------------------------------------------


def test_token_endpoint_never_cacheable(server):
    client, secret = new_client()
    for auth in [(client.client_id, secret), (client.client_id, "wrong")]:
        response = requests.post(
            f"{server}/oauth/token", data={"grant_type": "client_credentials"}, auth=auth
        )
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Pragma"] == "no-cache"


def test_authorize_consent_and_login_pages_are_not_frameable(server, user, user_password):
    client, _ = web_client(third_party=True)
    login_page = requests.get(f"{server}/accounts/login/")
    session = browser(server, user, user_password)
    url, _ = authorize_url(server, client)
    consent = session.get(url)
    assert 'id="authorizationForm"' in consent.text
    error_page = session.get(url.replace(client.client_id, "nobody"))
    for page in (login_page, consent, error_page):
        assert page.headers["X-Frame-Options"] == "DENY"
        assert page.headers["Referrer-Policy"] == "same-origin"


def test_consent_post_is_answered_with_a_redirect(server, user, user_password):
    client, _ = web_client(third_party=True)
    session = browser(server, user, user_password)
    url, _ = authorize_url(server, client)
    consent = session.get(url)
    data = {**form_fields(consent.text), "allow": "Authorize"}
    response = session.post(
        consent.url, data=data, headers={"Referer": consent.url}, allow_redirects=False
    )
    assert response.status_code in (302, 303)
    assert response.headers["Location"].startswith(REDIRECT_URI)


def test_no_cors_headers_on_the_authorization_endpoint(server, user, user_password):
    client, _ = web_client(redirect_uris=["https://app.example.com/callback"])
    session = browser(server, user, user_password)
    url, _ = authorize_url(server, client)
    for method in ("GET", "OPTIONS"):
        response = session.request(
            method,
            url,
            headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"},
            allow_redirects=False,
        )
        assert "Access-Control-Allow-Origin" not in response.headers


def test_implicit_and_password_grants_are_refused(server, user, user_password):
    client, secret = web_client()
    session = browser(server, user, user_password)
    url, _ = authorize_url(server, client, response_type="token")
    response = follow_to_redirect_uri(session, url)
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        assert query_of(response)["error"] == "unsupported_response_type"
        assert "access_token" not in response.headers["Location"]
    password = requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "password", "username": user.username, "password": user_password},
        auth=(client.client_id, secret),
    )
    assert (password.status_code, password.json()["error"]) == (400, "unsupported_grant_type")


# --- secrets stay secret -------------------------------------------------------------------


def test_no_secret_code_or_token_reaches_the_logs(server, user, user_password, caplog):
    caplog.set_level(logging.DEBUG)
    client, secret = web_client()
    code, verifier = get_code(server, browser(server, user, user_password), client)
    first = redeem(server, client, secret, code, verifier).json()
    second = refresh(server, client, secret, first["refresh_token"]).json()
    redeem(server, client, secret, code, verifier)  # replay, logged as an error case
    requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, secret + "x"),
    )
    logged = "\n".join(record.getMessage() for record in caplog.records)
    logged += "\n".join(str(record.args) for record in caplog.records)
    assert logged  # the flow did log something
    for value in (secret, code, verifier, first["access_token"], first["refresh_token"]):
        assert value not in logged
    assert second["access_token"] not in logged


def test_tokens_are_stored_hashed(server):
    from oauth2_provider.models import get_access_token_model

    client, secret = new_client()
    token = requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, secret),
    ).json()["access_token"]
    stored = get_access_token_model().objects.get(application=client)
    assert stored.token == ""
    assert token not in stored.token_checksum


# --- audit trail -------------------------------------------------------------------------


def test_audit_trail_records_who_did_what_never_the_secret(server, user):
    from source_oauth.audit import acting_as

    with acting_as(user):
        client, secret = new_client("Audited")
        client.third_party = True
        client.save()
        rotated = rotate_client_secret(client).client_secret
    token = requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, rotated),
    ).json()["access_token"]
    requests.post(f"{server}/oauth/revoke", data={"token": token}, auth=(client.client_id, rotated))
    with acting_as("manage.py"):
        client_id = client.client_id
        client.delete()

    events = list(AuditEvent.objects.filter(client_identifier=client_id).order_by("id"))
    actions = [e.action for e in events]
    assert actions[0] == AuditEvent.Action.CLIENT_CREATED
    assert AuditEvent.Action.CLIENT_CHANGED in actions
    assert AuditEvent.Action.SECRET_ROTATED in actions
    assert AuditEvent.Action.TOKEN_REVOKED in actions
    assert actions[-1] == AuditEvent.Action.CLIENT_DELETED
    changed = next(e for e in events if "third_party" in e.detail.get("fields", []))
    assert changed.action == AuditEvent.Action.CLIENT_CHANGED
    assert changed.actor == f"user {user.username} (#{user.pk})"
    revoked = next(e for e in events if e.action == AuditEvent.Action.TOKEN_REVOKED)
    assert revoked.actor == f"API client {client_id}"
    assert events[-1].actor == "manage.py"
    dump = repr([(e.actor, e.detail, e.client_name) for e in events])
    for value in (secret, rotated, token):
        assert value not in dump
