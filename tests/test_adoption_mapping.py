"""How one row of DOT's application table becomes an API client (``adoption.legacy``).

The whole adoption runs against a real stock DOT site in ``test_adoption.py``;
these are the cases that site does not have.
"""

from datetime import UTC, datetime

from django.contrib.auth.hashers import make_password

from source_oauth.adoption.legacy import adopt_application
from source_oauth.secrets import hash_secret

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def row(**values):
    return {
        "id": 7,
        "client_id": "client-7",
        "name": "App",
        "user_id": None,
        "redirect_uris": "https://app.example.com/cb",
        "post_logout_redirect_uris": "",
        "client_type": "confidential",
        "authorization_grant_type": "authorization-code",
        "client_secret": make_password("s3cret"),
        "hash_client_secret": True,
        "skip_authorization": True,
        "created": NOW,
        "updated": NOW,
        "algorithm": "",
        "allowed_origins": "",
        "registration_source": "manual",
        "cimd_expires_at": None,
        **values,
    }


def test_pkce_required_comes_from_dots_setting_for_confidential_clients_only():
    assert adopt_application(row(), pkce_required=False).require_pkce is False
    optional_for = {"client-7"}.__contains__
    assert adopt_application(row(), lambda cid: not optional_for(cid)).require_pkce is False
    public = row(client_type="public")
    assert adopt_application(public, pkce_required=False).require_pkce is True


def test_a_hash_of_a_hasher_no_longer_listed_is_kept_and_said():
    client = adopt_application(row(client_secret="md5crypt$salt$hash"), pkce_required=True)
    assert client.client_secret == "md5crypt$salt$hash"
    assert any("missing from PASSWORD_HASHERS" in warning for warning in client.warnings)


def test_a_plain_secret_is_hashed_even_with_a_dollar_in_it():
    client = adopt_application(
        row(client_secret="plain$secret", hash_client_secret=False), pkce_required=True
    )
    assert client.client_secret == hash_secret("plain$secret") and not client.warnings


def test_grants_source_oauth_does_not_offer_are_said_aloud():
    hybrid = adopt_application(row(authorization_grant_type="openid-hybrid"), True)
    assert hybrid.grant_types == ["authorization_code", "refresh_token"]
    assert "hybrid flow" in hybrid.warnings[0]
    unknown = adopt_application(row(authorization_grant_type="urn:example:grant"), True)
    assert unknown.grant_types == [] and "unknown grant type" in unknown.warnings[0]


def test_a_redirect_uri_source_oauth_refuses_is_kept_and_named():
    client = adopt_application(row(redirect_uris="http://app.example.com/cb"), True)
    assert client.values["redirect_uris"] == "http://app.example.com/cb"
    assert any("uses http" in warning for warning in client.warnings)
