"""End to end in Chromium: an administrator creates an API client and the client uses it.

Drives Debian's Chromium (``apt-get install chromium``; ``scripts/test.sh``
installs it) through Playwright against a live server. Screenshots land in
``test-artifacts/admin/`` (override with ``TEST_ARTIFACTS_DIR``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.db import connections
from playwright.sync_api import Page, expect, sync_playwright

from source_oauth.models import ApiClient
from tests.oauth_helpers import new_client

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse battery staple"
ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR", ROOT / "test-artifacts")) / "admin"
GT = ApiClient.GrantType


@pytest.fixture(autouse=True)
def allow_orm_next_to_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    # Playwright's sync API runs an asyncio loop in this thread; Django would
    # then refuse ORM calls made by the test itself (SynchronousOnlyOperation).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def page(server: str) -> Iterator[Page]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # Wide enough for every column of the list beside the sidebar and filters.
        context = browser.new_context(viewport={"width": 1920, "height": 1000})
        context.set_default_timeout(15_000)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()
            # While Playwright runs, the ORM works in another asgiref context and
            # so on its own connection; close it, or PostgreSQL cannot drop the
            # test database at the end of the session.
            connections.close_all()


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


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def open_add_form(page: Page) -> None:
    """API > API clients > Add API client, as the product text says."""
    page.locator(".app-source_oauth").get_by_role("link", name="API clients").first.click()
    expect(page.get_by_role("heading", name="Select API client to change")).to_be_visible()
    page.get_by_role("link", name="Add API client").click()
    expect(page.get_by_role("heading", name="Add API client")).to_be_visible()


def save(page: Page) -> None:
    page.get_by_role("button", name="Save", exact=True).click()


def one_time_credentials(page: Page) -> tuple[str, str]:
    message = page.locator(".messagelist")
    expect(message).to_contain_text("shown only this once")
    client_id = message.locator("code.source-oauth-client-id").inner_text()
    secret = message.locator("code.source-oauth-client-secret").inner_text()
    return client_id, secret


def token_response(server: str, client_id: str, secret: str) -> requests.Response:
    return requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "client_credentials", "scope": "content:read"},
        auth=(client_id, secret),
        timeout=10,
    )


def test_create_an_api_client_and_get_a_token_with_its_secret(server: str, logged_in: Page):
    page = logged_in
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
    page.get_by_label("content:read").check()
    page.get_by_label("Client credentials").check()
    page.set_viewport_size({"width": 1280, "height": 900})  # a form reads better narrower
    screenshot(page, "api-client-add.png")
    page.set_viewport_size({"width": 1920, "height": 1000})
    save(page)

    client_id, secret = one_time_credentials(page)
    expect(page.get_by_role("heading", name="Change API client")).to_be_visible()
    screenshot(page, "api-client-saved.png")

    response = token_response(server, client_id, secret)
    assert response.status_code == 200, response.text
    assert response.json()["access_token"]
    assert response.json()["scope"] == "content:read"

    # Shown once: after a reload only the masked hint is left.
    page.reload()
    expect(page.locator(".field-client_secret_hint")).to_contain_text("Stored as a hash only")
    assert secret not in page.content()

    page.locator(".breadcrumbs").get_by_role("link", name="API clients").click()
    expect(page.locator("#result_list")).to_contain_text("Next.js site")
    expect(page.locator("#result_list")).to_contain_text(client_id)
    assert secret not in page.content()
    screenshot(page, "api-clients-list.png")


def test_settings_errors_are_shown_on_the_form(server: str, logged_in: Page):
    page = logged_in
    open_add_form(page)
    page.get_by_role("textbox", name="Name").fill("Web app")
    page.get_by_label("Authorization code").check()
    page.get_by_label("Refresh token", exact=True).check()
    page.get_by_label("Redirect URIs").fill("http://app.example.com/callback")
    save(page)
    expect(page.locator(".errornote")).to_be_visible()
    expect(page.locator(".field-redirect_uris .errorlist")).to_contain_text("uses http; use https")

    page.get_by_label("Redirect URIs").fill("https://app.example.com/callback")
    page.get_by_label("Confidential Client").uncheck()
    page.get_by_label("Client credentials").check()
    save(page)
    expect(page.locator(".field-grant_types .errorlist")).to_contain_text(
        "Client credentials needs a confidential client"
    )
    assert not ApiClient.objects.filter(name="Web app").exists()

    page.get_by_label("Client credentials").uncheck()
    save(page)
    expect(page.locator(".messagelist")).to_contain_text("public client: it has no secret")
    assert not ApiClient.objects.get(name="Web app").confidential


def test_regenerate_a_leaked_secret(server: str, logged_in: Page):
    page = logged_in
    client, old_secret = new_client("Backend", scopes=["content:read"])
    page.goto(f"{server}/admin/source_oauth/apiclient/{client.pk}/change/")
    page.get_by_role("link", name="Regenerate secret").click()
    page.get_by_label("The current secret has leaked: stop it at once").check()
    page.get_by_role("button", name="Regenerate the secret").click()

    client_id, new_secret = one_time_credentials(page)
    assert client_id == client.client_id and new_secret != old_secret
    assert token_response(server, client_id, new_secret).status_code == 200
    assert token_response(server, client_id, old_secret).status_code == 401
