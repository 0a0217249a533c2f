"""Playwright fixtures for the browser tests: Debian's Chromium, used as a person uses it.

Loaded by ``tests/conftest.py`` (``pytest_plugins``). Nothing here adds a
header, a cookie or a DOM node to a page: the tests type, click and read.
The one thing the browser cannot do here is reach a client's web site, so
``client_site`` answers for it, as the client's own server would.

Chromium is Debian's (``apt-get install chromium``; ``scripts/test.sh``
installs it): Playwright's own download needs the internet. Screenshots land
in ``test-artifacts/`` (override with ``TEST_ARTIFACTS_DIR``).
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connections
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Request,
    Response,
    Route,
    expect,
    sync_playwright,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR", ROOT / "test-artifacts"))
DESKTOP = {"width": 1280, "height": 900}
MOBILE = {"width": 390, "height": 844}


@pytest.fixture
def chromium(monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: apt-get install chromium")
    # Playwright's sync API runs an asyncio loop in this thread; Django would
    # then refuse ORM calls made by the test itself (SynchronousOnlyOperation).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # The machine may be busy: wait as long for an assertion as for an action.
    expect.set_options(timeout=15_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            # While Playwright runs, the ORM works in another asgiref context and
            # so on its own connection; close it, or PostgreSQL cannot drop the
            # test database at the end of the session.
            connections.close_all()


@dataclass
class Traffic:
    """Every request and response of a browser context, headers included (cookies too)."""

    requests: list[Request] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    # What the client's web site answers, by path (see ``new_context``).
    client_pages: dict[str, str] = field(default_factory=dict)

    def record_request(self, request: Request) -> None:
        self.requests.append(request)
        self.headers.append(request.all_headers())

    def record_response(self, response: Response) -> None:
        self.responses.append(response)
        self.headers.append(response.all_headers())

    def urls(self) -> list[str]:
        return [request.url for request in self.requests]


@pytest.fixture
def traffic() -> Traffic:
    return Traffic()


# The client's web site, which the browser cannot reach here: it answers as the
# client's server would, and every request to it is in ``Traffic``.
CLIENT_SITE = "https://app.example.com"


def client_home(authorize_url: str) -> str:
    """The client app's page with its "Sign in" link, where a person starts the flow."""
    return f'<h1>The client app</h1><a href="{html.escape(authorize_url)}">Sign in</a>'


def new_context(browser: Browser, traffic: Traffic, **options: object) -> BrowserContext:
    context = browser.new_context(**options)
    context.set_default_timeout(15_000)
    context.on("request", traffic.record_request)
    context.on("response", traffic.record_response)

    def answer(route: Route) -> None:
        body = traffic.client_pages.get(urlsplit(route.request.url).path, "<h1>The client app</h1>")
        route.fulfill(status=200, content_type="text/html", body=body)

    context.route(f"{CLIENT_SITE}/**", answer)
    return context


@pytest.fixture
def page(server: str, chromium: Browser, traffic: Traffic) -> Iterator[Page]:
    """A desktop browser tab (1280×900) whose traffic is recorded."""
    context = new_context(chromium, traffic, viewport=DESKTOP)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def phone(server: str, chromium: Browser, traffic: Traffic) -> Iterator[Page]:
    """A phone-sized browser tab (390×844, touch) whose traffic is recorded."""
    context = new_context(chromium, traffic, viewport=MOBILE, is_mobile=True, has_touch=True)
    try:
        yield context.new_page()
    finally:
        context.close()


def query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def screenshot(page: Page, folder: str, name: str) -> Path:
    path = ARTIFACTS / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


def scrolls_sideways(page: Page) -> bool:
    """Whether the page is wider than the window (a person would have to scroll sideways)."""
    return page.evaluate(
        "document.documentElement.scrollWidth > document.documentElement.clientWidth"
    )
