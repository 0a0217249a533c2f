"""In Chromium: Alice signs in to a partner's site, sees it under "Connected apps", revokes it.

The consent page lists what the partner learns about her and links her
connected apps; revoking there stops the partner's tokens at once. The
partner's own site is not under test: its callback URL is answered by the
test (``page.route``), which then redeems the code as the partner's server would.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from playwright.sync_api import Page, expect

from source_oauth.models import ConsentRecord
from tests.browser import screenshot
from tests.oauth_helpers import pkce_pair
from tests.oidc_helpers import authorization_url, oidc_client, redeem
from tests.test_admin_browser import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("signing_key")]


def test_alice_revokes_a_partner_from_her_connected_apps(
    server: str, page: Page, django_user_model
):
    django_user_model.objects.create_user(
        "alice", "alice@example.com", PASSWORD, first_name="Alice", last_name="Liddell"
    )
    client, secret = oidc_client(
        "Partner dashboard",
        third_party=True,
        remember_approval=True,
        scopes=["openid", "profile", "email", "content:read"],
    )
    callbacks: list[str] = []
    page.route(
        "https://app.example.com/**",
        lambda route: (
            callbacks.append(route.request.url),
            route.fulfill(status=200, content_type="text/html", body="<h1>Partner</h1>"),
        ),
    )
    verifier, challenge = pkce_pair()
    scope = "openid profile email content:read"
    page.goto(authorization_url(server, client, challenge, scope=scope, nonce="n-1"))

    # Signing in, as a person does.
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # The consent page: the scopes, the identity the partner receives, the way to revoke.
    expect(
        page.get_by_role(
            "heading", name="Partner dashboard wants to access your Example CMS account"
        )
    ).to_be_visible()
    claims = page.locator("ul.identity-claims")
    expect(claims).to_contain_text("Your name: Alice Liddell")
    expect(claims).to_contain_text("Your email address: alice@example.com")
    expect(claims).to_contain_text("Your username: alice")
    screenshot(page, "oidc", "consent-with-identity-claims.png")
    page.get_by_role("link", name="Manage connected apps").click()
    expect(page.get_by_role("heading", name="Connected apps")).to_be_visible()
    expect(
        page.get_by_text("No third-party application has access to your account.")
    ).to_be_visible()
    page.go_back()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(re.compile(r"^https://app\.example\.com/callback\?"))
    code = parse_qs(urlsplit(callbacks[-1]).query)["code"][0]
    token = redeem(server, client, secret, code, verifier)
    assert ConsentRecord.objects.filter(client=client).exists()

    api = f"{server}/api/articles/"
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert requests.get(api, headers=bearer, timeout=30).status_code == 200

    # Her connected apps list the partner, with what it may do and when it last came.
    page.goto(f"{server}/oauth/connected-apps")
    section = page.get_by_role("region", name="Partner dashboard")
    expect(section).to_contain_text("Read the site's content (content:read)")
    expect(section).to_contain_text("See your email address (email)")
    expect(section).to_contain_text("Last used")
    expect(section).to_contain_text("Your approval is remembered until")
    screenshot(page, "oidc", "connected-apps.png")

    section.get_by_role("button", name="Revoke access of Partner dashboard").click()
    expect(page.get_by_role("status")).to_contain_text(
        "“Partner dashboard” no longer has access to your account."
    )
    expect(page.get_by_role("region", name="Partner dashboard")).to_have_count(0)
    screenshot(page, "oidc", "connected-apps-revoked.png")

    # At once: the access token, the refresh token and the remembered approval are gone.
    assert requests.get(api, headers=bearer, timeout=30).status_code == 401
    refreshed = requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(client.client_id, secret),
        timeout=30,
    )
    assert refreshed.json()["error"] == "invalid_grant"
    assert not ConsentRecord.objects.filter(client=client).exists()
    page.goto(authorization_url(server, client, challenge, scope=scope, nonce="n-2"))
    expect(page.get_by_role("button", name="Allow")).to_be_visible()  # asked again
