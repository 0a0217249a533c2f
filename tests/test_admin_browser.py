"""End to end in Chromium: an administrator creates an API client and the client uses it.

Drives Debian's Chromium through Playwright against a live server (fixtures in
``tests/browser.py``). Screenshots land in ``test-artifacts/admin/``; the
README's come from here.
"""

from __future__ import annotations

import re
from io import StringIO

import pytest
import requests
from django.core.management import call_command
from playwright.sync_api import Page, expect

from source_oauth.models import ApiClient
from tests.browser import Traffic, screenshot, scrolls_sideways
from tests.oauth_helpers import new_client

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
GT = ApiClient.GrantType


@pytest.fixture
def logged_in(server: str, page: Page, django_user_model) -> Page:
    """An administrator on the admin index, logged in through the login form."""
    django_user_model.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    page.goto(f"{server}/admin/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    return page


def open_add_form(page: Page) -> None:
    """API > API clients > Add API client, as the product text says."""
    page.locator(".app-source_oauth").get_by_role("link", name="API clients").first.click()
    expect(page.get_by_role("heading", name="Select API client to change")).to_be_visible()
    page.get_by_role("link", name="Add API client").click()
    expect(page.get_by_role("heading", name="Add API client")).to_be_visible()


def save(page: Page) -> None:
    page.get_by_role("button", name="Save", exact=True).click()


def one_time_credentials(page: Page) -> tuple[str, str]:
    """Read the client ID and the secret off the page, as a person copies them."""
    panel = page.get_by_role("region", name="Copy the credentials")
    expect(panel).to_contain_text("The client secret will not be shown again.")
    client_id = panel.locator("code.source-oauth-client-id").inner_text()
    secret = panel.locator("code.source-oauth-client-secret").inner_text()
    return client_id, secret


def token_response(server: str, client_id: str, secret: str) -> requests.Response:
    return requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "client_credentials", "scope": "content:read"},
        auth=(client_id, secret),
        timeout=10,
    )


def nowhere_but_the_page(page: Page, traffic: Traffic, secrets: list[str]) -> None:
    """No cookie and no header (request or response) of the whole session held a secret."""
    cookies = repr(page.context.cookies())
    headers = repr(traffic.headers)
    for secret in secrets:
        assert secret not in cookies
        assert secret not in headers


def test_create_an_api_client_and_get_a_token_with_its_secret(server, logged_in, traffic):
    page = logged_in
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    # A few clients already exist, as on a real site.
    new_client(
        "Mobile app",
        confidential=False,
        grant_types=[GT.AUTHORIZATION_CODE, GT.REFRESH_TOKEN],
        redirect_uris=["com.example.app:/callback"],
        scopes=["content:read", "user:profile"],
    )
    new_client(
        "Partner dashboard",
        third_party=True,
        grant_types=[GT.AUTHORIZATION_CODE, GT.REFRESH_TOKEN],
        redirect_uris=["https://partner.example.com/oauth/callback"],
        scopes=["content:read"],
    )

    open_add_form(page)
    page.get_by_role("textbox", name="Name").fill("Next.js site")
    page.get_by_label("Thumbnail").check()
    page.get_by_label("Medium").check()
    expect(page.get_by_label("Confidential Client")).to_be_checked()
    expect(page.get_by_label("Require PKCE")).to_be_checked()
    page.get_by_label("content:read").check()
    page.get_by_label("Client credentials").check()
    assert not scrolls_sideways(page)
    screenshot(page, "admin", "api-client-add.png")
    save(page)

    client_id, secret = one_time_credentials(page)
    expect(page.get_by_role("heading", name="Change API client")).to_be_visible()
    assert "one_time" not in page.url  # taken out of the address bar and the history
    screenshot(page, "admin", "api-client-saved.png")
    page.get_by_role("region", name="Copy the credentials").get_by_role(
        "button", name="Copy"
    ).last.click()
    assert page.evaluate("navigator.clipboard.readText()") == secret

    response = token_response(server, client_id, secret)
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "content:read"

    # Shown once: after a reload only the masked hint is left.
    page.reload()
    expect(page.locator(".field-client_secret_hint")).to_contain_text("Stored as a hash only")
    assert secret not in page.content()

    page.locator(".breadcrumbs").get_by_role("link", name="API clients").click()
    rows = page.locator("#result_list tbody tr")
    expect(rows.first).to_contain_text("Default API client")
    expect(rows.first.locator(".source-oauth-badge")).to_have_text("Default")
    screenshot(page, "admin", "api-clients-list.png")
    # Every column fits at 1280 px, beside the sidebar and the filters.
    assert not scrolls_sideways(page)
    assert page.evaluate(
        "(() => { const r = document.querySelector('#changelist .results');"
        " return r.scrollWidth <= r.clientWidth; })()"
    )
    row = rows.filter(has_text="Next.js site")
    expect(row.locator(f'code[title="{client_id}"]')).to_have_text(f"{client_id[:8]}…")
    row.get_by_role("button", name="Copy client ID").click()
    assert page.evaluate("navigator.clipboard.readText()") == client_id
    assert secret not in page.content()
    nowhere_but_the_page(page, traffic, [secret])


def test_regenerate_follows_the_overlap_rule_and_stays_out_of_cookies(
    server, logged_in, traffic, settings
):
    settings.SOURCE_OAUTH = {**settings.SOURCE_OAUTH, "SECRET_ROTATION_OVERLAP_SECONDS": 3600}
    page = logged_in
    client, first = new_client("Backend", scopes=["content:read"])
    page.goto(f"{server}/admin/source_oauth/apiclient/{client.pk}/change/")

    # A planned rotation: the old secret keeps working for the overlap.
    page.get_by_role("link", name="Regenerate secret").click()
    expect(page.locator("#content-main")).to_contain_text("keeps working for 60 more minutes")
    page.get_by_role("button", name="Regenerate the secret").click()
    client_id, second = one_time_credentials(page)
    assert client_id == client.client_id and second != first
    expect(page.locator(".field-client_secret_hint")).to_contain_text(
        "The previous secret keeps working until"
    )
    assert token_response(server, client_id, second).status_code == 200
    assert token_response(server, client_id, first).status_code == 200

    # A leak: stopped at once.
    page.get_by_role("link", name="Regenerate secret").click()
    page.get_by_label("The current secret has leaked: stop it at once").check()
    page.get_by_role("button", name="Regenerate the secret").click()
    _, third = one_time_credentials(page)
    assert token_response(server, client_id, third).status_code == 200
    assert token_response(server, client_id, second).status_code == 401
    page.reload()
    assert third not in page.content()
    nowhere_but_the_page(page, traffic, [second, third])


def test_settings_errors_and_warnings_are_shown_on_the_form(server, logged_in):
    page = logged_in
    open_add_form(page)
    page.get_by_role("textbox", name="Name").fill("Web app")
    page.get_by_label("Authorization code").check()
    page.get_by_label("Refresh token", exact=True).check()
    page.get_by_label("Redirect URIs").fill(
        "https://app.example.com/callback\nhttp://app.example.com/callback two words"
    )
    save(page)
    expect(page.locator(".errornote")).to_be_visible()
    errors = page.locator(".field-redirect_uris .errorlist li")
    expect(errors).to_have_text(
        [
            "Line 2: “http://app.example.com/callback two words” contains a space. "
            "Put one URI per line."
        ]
    )

    page.get_by_label("Redirect URIs").fill("https://app.example.com/callback")
    page.get_by_label("Confidential Client").uncheck()
    # A public client always uses PKCE: the box says so and cannot be unticked.
    expect(page.get_by_label("Require PKCE")).to_be_checked()
    expect(page.get_by_label("Require PKCE")).to_be_disabled()
    page.get_by_label("Client credentials").check()
    save(page)
    expect(page.locator(".field-grant_types .errorlist")).to_contain_text(
        "Client credentials needs a confidential client"
    )
    assert not ApiClient.objects.filter(name="Web app").exists()

    page.get_by_label("Client credentials").uncheck()
    save(page)  # no scope ticked: saved, with a warning
    messages = page.locator(".messagelist")
    expect(messages).to_contain_text("public client: it has no secret")
    expect(messages.locator(".warning")).to_contain_text("has no allowed scopes")
    client = ApiClient.objects.get(name="Web app")
    assert not client.confidential and client.require_pkce


def test_an_id_token_algorithm_without_a_key_is_refused_on_the_form(server, logged_in):
    page = logged_in
    open_add_form(page)
    page.get_by_role("textbox", name="Name").fill("Partner")
    page.get_by_label("Authorization code").check()
    page.get_by_label("Redirect URIs").fill("https://partner.example.com/cb")
    page.get_by_label("ID token signing algorithm").select_option("ES256")
    save(page)
    expect(page.locator(".field-algorithm .errorlist")).to_contain_text(
        "oidc_keys generate --algorithm ES256"
    )
    assert not ApiClient.objects.filter(name="Partner").exists()

    call_command("oidc_keys", "generate", "--algorithm", "ES256", stdout=StringIO())
    save(page)  # the form kept what was typed; now there is a key
    expect(page.locator(".messagelist")).to_contain_text("Partner")
    assert ApiClient.objects.get(name="Partner").algorithm == "ES256"


def test_a_token_revoked_in_the_admin_is_refused_at_once(server, logged_in):
    api_client, secret = new_client("Backend")
    token = token_response(server, api_client.client_id, secret).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{server}/api/articles/", headers=bearer).status_code == 200  # cached

    page = logged_in
    page.goto(f"{server}/admin/source_oauth/accesstoken/")
    page.locator("input[name=_selected_action]").first.check()
    page.get_by_role("combobox", name="Action").select_option(label="Revoke selected access tokens")
    # The admin's action button says "Go" up to Django 6.0 and "Run" from 6.1.
    page.get_by_role("button", name=re.compile(r"^(Go|Run)$")).click()
    expect(page.locator(".messagelist")).to_contain_text("Revoked 1 access token.")

    assert requests.get(f"{server}/api/articles/", headers=bearer).status_code == 401
    page.goto(f"{server}/admin/source_oauth/accesstoken/?status=revoked")
    expect(page.locator("#result_list")).to_contain_text("Backend")


def test_the_default_clients_delete_page_explains(server, logged_in):
    page = logged_in
    default = ApiClient.objects.get(is_default=True)
    page.goto(f"{server}/admin/source_oauth/apiclient/{default.pk}/delete/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Cannot delete the default API client"
    )
    expect(page.locator("#content-main")).to_contain_text("stands for every request")
    screenshot(page, "admin", "default-client-delete.png")
    page.get_by_role("link", name="Back to the client").click()
    expect(page.get_by_role("heading", name="Change API client")).to_be_visible()


def test_the_admin_pages_fit_a_phone(server, phone, django_user_model):
    django_user_model.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    phone.goto(f"{server}/admin/")
    phone.get_by_label("Username").fill("admin")
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Log in").click()
    phone.goto(f"{server}/admin/source_oauth/apiclient/")
    assert not scrolls_sideways(phone)
    phone.goto(f"{server}/admin/source_oauth/apiclient/add/")
    assert not scrolls_sideways(phone)
    screenshot(phone, "admin", "api-client-add-mobile.png")
