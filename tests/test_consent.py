"""Remembered consent, decided by the server: records, coverage, expiry, the admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from source_oauth.models import ConsentRecord
from tests.oauth_helpers import follow_to_redirect_uri, login, pkce_pair, web_client
from tests.oidc_helpers import authorization_url, oidc_client, sign_in

pytestmark = pytest.mark.usefixtures("signing_key")

SCOPES = ["openid", "profile", "email", "content:read", "content:write"]


@pytest.fixture
def browser(server, user, user_password) -> requests.Session:
    session = requests.Session()
    login(session, server, "alice", user_password)
    return session


def partner(**settings):
    settings.setdefault("remember_approval", True)
    return oidc_client("Partner dashboard", third_party=True, scopes=SCOPES, **settings)


def asks(server, browser, client, scope="openid profile", **params) -> bool:
    """Whether an authorization request shows the consent page."""
    _, challenge = pkce_pair()
    url = authorization_url(server, client, challenge, scope=scope, nonce="n", **params)
    page = browser.get(url, allow_redirects=False)
    if page.status_code == 200:
        assert 'id="authorizationForm"' in page.text
        return True
    assert page.status_code == 302 and "code=" in page.headers["Location"], page.headers
    return False


def test_an_approval_is_remembered_for_the_same_or_fewer_scopes(server, browser, user):
    client, secret = partner()
    assert asks(server, browser, client, "openid profile content:read")
    sign_in(server, browser, client, secret, consent=True, scope="openid profile content:read")

    record = ConsentRecord.objects.get(user=user, client=client)
    assert record.scopes == ["content:read", "openid", "profile"]
    assert record.expires - record.approved == timedelta(days=180)

    assert not asks(server, browser, client, "openid profile content:read")
    assert not asks(server, browser, client, "openid")
    assert asks(server, browser, client, "openid profile content:write")  # more: ask again

    # Approving the larger set remembers it too.
    sign_in(server, browser, client, secret, consent=True, scope="openid content:write")
    record.refresh_from_db()
    assert record.scopes == ["content:read", "content:write", "openid", "profile"]
    assert not asks(server, browser, client, "openid profile content:write content:read")


def test_a_remembered_approval_is_not_extended_by_using_it(server, browser, user):
    client, secret = partner()
    sign_in(server, browser, client, secret, consent=True)
    approved = ConsentRecord.objects.get(user=user, client=client).approved
    sign_in(server, browser, client, secret)  # no page
    assert ConsentRecord.objects.get(user=user, client=client).approved == approved


def test_nothing_is_remembered_when_the_client_does_not_ask_for_it(server, browser):
    client, secret = partner(remember_approval=False)
    sign_in(server, browser, client, secret, consent=True)
    assert not ConsentRecord.objects.exists()
    assert asks(server, browser, client)


def test_a_denial_is_not_remembered(server, browser):
    client, _ = partner()
    _, challenge = pkce_pair()
    answer = follow_to_redirect_uri(
        browser, authorization_url(server, client, challenge, nonce="n"), consent=False
    )
    assert "error=access_denied" in answer.headers["Location"]
    assert not ConsentRecord.objects.exists()
    assert asks(server, browser, client)


def test_first_party_clients_never_ask_and_keep_no_record(server, browser):
    client, secret = web_client(scopes=["content:read"])
    sign_in(server, browser, client, secret, scope="content:read")
    assert not ConsentRecord.objects.exists()


@override_settings(SOURCE_OAUTH={"REMEMBERED_CONSENT_SECONDS": 3600})
def test_an_expired_approval_asks_again(server, browser, user):
    client, secret = partner()
    sign_in(server, browser, client, secret, consent=True)
    record = ConsentRecord.objects.get(user=user, client=client)
    assert record.expires - record.approved == timedelta(hours=1)
    ConsentRecord.objects.update(expires=timezone.now() - timedelta(seconds=1))
    assert asks(server, browser, client)
    sign_in(server, browser, client, secret, consent=True, scope="openid")
    record.refresh_from_db()
    assert record.scopes == ["openid"]  # what an expired record held is not revived


def test_turning_remember_off_asks_again(server, browser):
    client, secret = partner()
    sign_in(server, browser, client, secret, consent=True)
    client.remember_approval = False
    client.save()
    assert asks(server, browser, client)


def test_another_users_approval_covers_nothing(server, browser, django_user_model, user_password):
    client, secret = partner()
    sign_in(server, browser, client, secret, consent=True)
    django_user_model.objects.create_user("bob", "bob@example.com", user_password)
    bob = requests.Session()
    login(bob, server, "bob", user_password)
    assert asks(server, bob, client)


def test_the_clients_approval_prompt_cannot_skip_consent(server, browser):
    client, secret = partner(remember_approval=False)
    sign_in(server, browser, client, secret, consent=True)
    assert asks(server, browser, client, approval_prompt="auto")


# --- the admin ----------------------------------------------------------------------------------


def test_records_are_visible_and_revocable_in_the_admin(server, browser, user, admin_client):
    client, secret = partner()
    sign_in(server, browser, client, secret, consent=True)
    record = ConsentRecord.objects.get()

    listing = admin_client.get(reverse("admin:source_oauth_consentrecord_changelist"))
    page = listing.content.decode()
    assert "Remembered approvals" in page or "remembered approvals" in page
    assert "Partner dashboard" in page and "alice" in page and "email openid profile" in page

    detail = admin_client.get(reverse("admin:source_oauth_consentrecord_change", args=[record.pk]))
    assert detail.status_code == 200 and 'name="scope"' not in detail.content.decode()
    assert admin_client.get(reverse("admin:source_oauth_consentrecord_add")).status_code == 403

    response = admin_client.post(
        reverse("admin:source_oauth_consentrecord_changelist"),
        {"action": "delete_selected", "_selected_action": [record.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not ConsentRecord.objects.exists()
    assert asks(server, browser, client)
