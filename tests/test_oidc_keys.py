"""The keys that sign ID tokens: the command, rotation, the JWKS, settings keys, checks."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.utils import timezone

from source_oauth.dot_settings import OAUTH2_PROVIDER
from source_oauth.oidc import keys
from source_oauth.oidc.checks import check_issuer, check_signing_keys
from source_oauth.oidc.models import SigningKey
from tests.oauth_helpers import login
from tests.oidc_helpers import jose_header, oidc_client, sign_in, verified_id_token


def oidc_keys(*args: str) -> str:
    out = StringIO()
    call_command("oidc_keys", *args, stdout=out)
    return out.getvalue()


def pem(private_key) -> str:
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def ids(messages) -> set[str]:
    return {message.id for message in messages}


def jwks(server: str) -> dict:
    return requests.get(f"{server}/oauth/jwks", timeout=30).json()


# --- the command ------------------------------------------------------------------------


@pytest.mark.django_db
def test_generate_creates_one_active_key_and_never_replaces_it():
    created = json.loads(oidc_keys("generate", "--json"))
    assert created["created"] is True and created["algorithm"] == "RS256"
    again = json.loads(oidc_keys("generate", "--json"))
    assert again == {"kid": None, "algorithm": "RS256", "created": False, "retired": []}
    assert "An active RS256 key exists" in oidc_keys("generate")
    assert SigningKey.objects.get().kid == created["kid"]
    es = json.loads(oidc_keys("generate", "--algorithm", "ES256", "--json"))
    assert es["algorithm"] == "ES256" and es["created"]
    assert keys.available_algorithms() == ["RS256", "ES256"]


@pytest.mark.django_db
def test_the_private_key_is_stored_encrypted_with_secret_key(settings):
    oidc_keys("generate")
    row = SigningKey.objects.get()
    assert "PRIVATE KEY" not in row.private_key
    assert set(row.public_jwk) == {"kty", "n", "e", "kid", "alg", "use"}  # no private part
    assert keys.signing_key().jwk.has_private

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "rotated", [settings.SECRET_KEY]
    assert keys.signing_key().kid == row.kid  # the old SECRET_KEY still decrypts it
    assert keys.undecryptable_keys() == []
    settings.SECRET_KEY_FALLBACKS = []
    assert keys.undecryptable_keys() == [row.kid]
    assert ids(check_signing_keys()) == {"source_oauth.E008"}


@pytest.mark.django_db
def test_list_shows_every_key_and_never_a_private_one():
    oidc_keys("generate")
    oidc_keys("rotate")
    listed = json.loads(oidc_keys("list", "--json"))
    assert [row["state"] for row in listed] == ["active", "published"]
    assert all(row["source"] == "database" for row in listed)
    text = oidc_keys("list")
    assert "active" in text and "published until" in text and "PRIVATE" not in text


@pytest.mark.django_db
def test_the_command_says_when_the_database_is_not_migrated(monkeypatch):
    from django.db import DatabaseError

    def broken(*args, **kwargs):
        raise DatabaseError("no such table: source_oauth_signingkey")

    monkeypatch.setattr(keys, "generate", broken)
    with pytest.raises(CommandError, match="Has `manage.py migrate` run"):
        oidc_keys("generate")


# --- rotation ----------------------------------------------------------------------------


def test_rotation_keeps_the_old_public_key_until_its_id_tokens_have_expired(
    server, user, user_password
):
    oidc_keys("generate")
    old = SigningKey.objects.get()
    browser = requests.Session()
    login(browser, server, "alice", user_password)
    client, secret = oidc_client()
    before = sign_in(server, browser, client, secret)
    assert jose_header(before["id_token"])["kid"] == old.kid

    rotated = json.loads(oidc_keys("rotate", "--json"))
    assert rotated["retired"] == [old.kid]
    old.refresh_from_db()
    assert old.published_until - old.retired == timedelta(
        seconds=OAUTH2_PROVIDER["ID_TOKEN_EXPIRE_SECONDS"]
    )
    published = {key["kid"] for key in jwks(server)["keys"]}
    assert published == {old.kid, rotated["kid"]}

    # New ID tokens name the new key; the old one still verifies against the JWKS.
    after = sign_in(server, browser, client, secret)
    assert jose_header(after["id_token"])["kid"] == rotated["kid"]
    assert verified_id_token(server, before, client, secret)["sub"] == str(user.pk)
    assert verified_id_token(server, after, client, secret)["sub"] == str(user.pk)

    # An ID token from before the rotation still names the user at logout.
    client.post_logout_redirect_uris = "https://app.example.com/bye"
    client.save()
    response = browser.get(
        f"{server}/oauth/logout",
        params={
            "id_token_hint": before["id_token"],
            "post_logout_redirect_uri": "https://app.example.com/bye",
        },
        allow_redirects=False,
    )
    assert response.headers["Location"] == "https://app.example.com/bye"

    # Once every token it signed has expired, the old key leaves the JWKS, then the table.
    SigningKey.objects.filter(pk=old.pk).update(published_until=timezone.now())
    assert {key["kid"] for key in jwks(server)["keys"]} == {rotated["kid"]}
    assert "Deleted 1 retired key(s)." in oidc_keys("prune")
    assert not SigningKey.objects.filter(pk=old.pk).exists()


def test_jwks_is_public_cacheable_and_has_no_private_parts(server):
    oidc_keys("generate")
    oidc_keys("generate", "--algorithm", "ES256")
    response = requests.get(f"{server}/oauth/jwks", timeout=30)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cache-Control"].startswith("public, max-age=")
    found = {key["alg"]: key for key in response.json()["keys"]}
    assert set(found) == {"RS256", "ES256"}
    assert set(found["RS256"]) == {"kty", "n", "e", "kid", "alg", "use"}
    assert set(found["ES256"]) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
    assert all(key["use"] == "sig" for key in found.values())


# --- keys in settings ------------------------------------------------------------------------


def settings_with_keys(active: str, *inactive: str) -> dict:
    return {
        **OAUTH2_PROVIDER,
        "OIDC_RSA_PRIVATE_KEY": active,
        "OIDC_RSA_PRIVATE_KEYS_INACTIVE": list(inactive),
    }


def test_a_settings_key_signs_and_an_inactive_one_stays_published(server, user, user_password):
    active = pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    inactive = pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    with override_settings(OAUTH2_PROVIDER=settings_with_keys(active, inactive)):
        active_kid = keys.signing_key().kid
        browser = requests.Session()
        login(browser, server, "alice", user_password)
        client, secret = oidc_client()
        token = sign_in(server, browser, client, secret)
        assert jose_header(token["id_token"])["kid"] == active_kid
        assert verified_id_token(server, token, client, secret)["sub"] == str(user.pk)
        assert len(jwks(server)["keys"]) == 2

        # Rotating is done in settings, not by the command.
        with pytest.raises(CommandError, match="OIDC_RSA_PRIVATE_KEY"):
            oidc_keys("rotate")
        assert "OIDC_RSA_PRIVATE_KEY" in oidc_keys("generate")
        assert not SigningKey.objects.exists()
        assert json.loads(oidc_keys("list", "--json"))[0]["source"] == "settings"


# --- system checks ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_w008_when_openid_connect_is_on_and_no_key_signs():
    messages = check_signing_keys()
    assert ids(messages) == {"source_oauth.W008"}
    assert "RS256" in messages[0].msg and "oidc_keys generate" in messages[0].hint
    oidc_keys("generate")
    assert check_signing_keys() == []


@pytest.mark.django_db
def test_w008_names_es256_when_a_client_needs_it(catalog):
    oidc_keys("generate")
    oidc_client(algorithm="ES256")
    messages = check_signing_keys()
    assert ids(messages) == {"source_oauth.W008"}
    assert "ES256" in messages[0].msg and "RS256" not in messages[0].msg
    oidc_keys("generate", "--algorithm", "ES256")
    assert check_signing_keys() == []


@pytest.mark.django_db
def test_manage_py_check_reports_the_missing_key(capsys):
    call_command("check")
    assert "source_oauth.W008" in capsys.readouterr().err


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["not a key", "EC"])
def test_e007_when_the_settings_key_is_not_an_rsa_private_key(value):
    if value == "EC":
        value = pem(ec.generate_private_key(ec.SECP256R1()))
    with override_settings(OAUTH2_PROVIDER=settings_with_keys(value)):
        messages = [m for m in check_signing_keys() if m.id == "source_oauth.E007"]
        assert len(messages) == 1 and "OIDC_RSA_PRIVATE_KEY" in messages[0].msg


def test_no_key_check_when_openid_connect_is_off():
    with override_settings(OAUTH2_PROVIDER={**OAUTH2_PROVIDER, "OIDC_ENABLED": False}):
        assert check_signing_keys() == []
        assert check_issuer() == []


def test_the_checks_say_nothing_about_keys_without_a_database():
    # No database access here (pytest-django blocks it), as before `migrate`.
    assert "source_oauth.W008" not in ids(run_checks())


def test_w009_is_a_deploy_warning_about_the_issuer():
    assert "source_oauth.W009" not in ids(run_checks())
    assert ids(check_issuer()) == {"source_oauth.W009"}
    with override_settings(
        OAUTH2_PROVIDER={**OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": "https://cms.example.com"}
    ):
        assert check_issuer() == []
