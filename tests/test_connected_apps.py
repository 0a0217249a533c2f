"""The "Connected apps" page over HTTP: what it lists, and revoking one at once, everywhere."""

from __future__ import annotations

import re

import pytest
import requests

from source_oauth.models import AuditEvent, ConsentRecord
from tests.oauth_helpers import login, web_client
from tests.oidc_helpers import oidc_client, sign_in

pytestmark = pytest.mark.usefixtures("signing_key")

SCOPES = ["openid", "profile", "email", "content:read"]
SCOPE = "openid email content:read"


def browser_of(server: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    login(session, server, username, password)
    return session


@pytest.fixture
def browser(server, user, user_password) -> requests.Session:
    return browser_of(server, "alice", user_password)


def partner(name: str = "Partner dashboard", **settings):
    settings.setdefault("remember_approval", True)
    return oidc_client(name, third_party=True, scopes=SCOPES, **settings)


def page_of(server: str, browser: requests.Session) -> str:
    response = browser.get(f"{server}/oauth/connected-apps")
    assert response.status_code == 200
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "no-store" in response.headers["Cache-Control"]
    return response.text


def names_on(page: str) -> list[str]:
    return re.findall(r'<h2 id="app-\d+">([^<]+)</h2>', page)


def revoke(server: str, browser: requests.Session, client_id: str) -> requests.Response:
    url = f"{server}/oauth/connected-apps"
    return browser.post(
        url,
        data={"csrfmiddlewaretoken": browser.cookies["csrftoken"], "client_id": client_id},
        headers={"Referer": url},
        allow_redirects=False,
    )


def api(server: str, token: str) -> int:
    return requests.get(
        f"{server}/api/articles/", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).status_code


def test_the_page_needs_a_signed_in_user(server):
    response = requests.get(f"{server}/oauth/connected-apps", allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/accounts/login/?next=/oauth/connected-apps")


def test_it_lists_the_third_party_clients_holding_access(
    server, browser, django_user_model, user_password
):
    dashboard, dashboard_secret = partner()
    sign_in(server, browser, dashboard, dashboard_secret, consent=True)
    remembered_only, remembered_secret = partner("Analytics")
    sign_in(server, browser, remembered_only, remembered_secret, consent=True, scope="openid")
    # Its tokens are gone, its remembered approval is not: it still holds access.
    from oauth2_provider.models import get_access_token_model, get_refresh_token_model

    get_refresh_token_model().objects.filter(application=remembered_only).delete()
    get_access_token_model().objects.filter(application=remembered_only).delete()
    first_party, first_secret = web_client(scopes=["content:read"])
    sign_in(server, browser, first_party, first_secret, scope="content:read")
    django_user_model.objects.create_user("bob", "bob@example.com", user_password)
    bobs, bobs_secret = partner("Bob's app")
    sign_in(server, browser_of(server, "bob", user_password), bobs, bobs_secret, consent=True)

    page = page_of(server, browser)
    assert names_on(page) == ["Analytics", "Partner dashboard"]
    dashboard_section = page.split('id="app-2"')[1]
    assert "See your email address (<code>email</code>)" in dashboard_section
    assert "Sign you in with your account on this site (<code>openid</code>)" in dashboard_section
    assert "Last used" in dashboard_section and "<time datetime=" in dashboard_section
    assert "Your approval is remembered until" in dashboard_section
    analytics_section = page.split('id="app-1"')[1].split('id="app-2"')[0]
    assert "Not recently" in analytics_section  # no token of it is left


def test_an_empty_list_says_so(server, browser):
    assert "No third-party application has access to your account." in page_of(server, browser)


def test_revoking_kills_tokens_and_the_remembered_approval_at_once(server, browser, user):
    client, secret = partner()
    token = sign_in(server, browser, client, secret, consent=True, scope=SCOPE)
    other, other_secret = partner("Other partner")
    other_token = sign_in(server, browser, other, other_secret, consent=True, scope=SCOPE)
    assert api(server, token["access_token"]) == 200  # now in the token cache

    response = revoke(server, browser, client.client_id)
    assert (response.status_code, response.headers["Location"]) == (302, "/oauth/connected-apps")
    page = page_of(server, browser)
    assert "“Partner dashboard” no longer has access to your account." in page
    assert names_on(page) == ["Other partner"]

    assert api(server, token["access_token"]) == 401
    refreshed = requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(client.client_id, secret),
    )
    assert (refreshed.status_code, refreshed.json()["error"]) == (400, "invalid_grant")
    userinfo = requests.get(
        f"{server}/oauth/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert userinfo.status_code == 401
    assert not ConsentRecord.objects.filter(client=client).exists()
    event = AuditEvent.objects.filter(action="token_revoked", client=client).get()
    assert event.actor == f"user alice (#{user.pk})"
    assert event.detail["via"] == "connected apps"

    # The other client is untouched; the revoked one has to ask again.
    assert api(server, other_token["access_token"]) == 200
    again = sign_in(server, browser, client, secret, consent=True, scope=SCOPE)
    assert api(server, again["access_token"]) == 200


def test_a_user_cannot_revoke_what_is_not_theirs(server, browser, django_user_model, user_password):
    django_user_model.objects.create_user("bob", "bob@example.com", user_password)
    client, secret = partner()
    bobs_token = sign_in(
        server, browser_of(server, "bob", user_password), client, secret, consent=True, scope=SCOPE
    )
    first_party, first_secret = web_client(scopes=["content:read"])
    own_first_party = sign_in(server, browser, first_party, first_secret, scope="content:read")

    for client_id in (client.client_id, first_party.client_id, "no-such-client", "x\x00"):
        response = revoke(server, browser, client_id)
        assert response.status_code in (302, 400)
    assert "That application has no access to your account." in page_of(server, browser)
    assert api(server, bobs_token["access_token"]) == 200
    assert api(server, own_first_party["access_token"]) == 200


def test_revoking_needs_the_csrf_token(server, browser):
    client, secret = partner()
    token = sign_in(server, browser, client, secret, consent=True, scope=SCOPE)
    response = browser.post(f"{server}/oauth/connected-apps", data={"client_id": client.client_id})
    assert response.status_code == 403
    assert api(server, token["access_token"]) == 200


def test_a_revocation_on_one_server_is_honoured_at_once_by_another(
    two_servers, user, user_password
):
    first, second = two_servers
    client, secret = partner()
    browser = browser_of(first, "alice", user_password)
    token = sign_in(first, browser, client, secret, consent=True, scope=SCOPE)
    for server in two_servers:
        assert api(server, token["access_token"]) == 200  # cached on both
    assert revoke(first, browser, client.client_id).status_code == 302
    assert api(second, token["access_token"]) == 401
    assert api(first, token["access_token"]) == 401
