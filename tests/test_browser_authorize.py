"""The authorization code flow as a person lives it, in Chromium: sign in, consent, return.

Nothing is added to the pages: the browser sends what a browser sends (its own
Origin and Referer), so Django's CSRF check sees what it sees in production.
The client's web site is answered by ``tests.browser`` (the browser cannot
reach it here); its back end redeems the code with ``requests``.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser import (
    CLIENT_SITE,
    Traffic,
    client_home,
    query,
    screenshot,
    scrolls_sideways,
)
from tests.oauth_helpers import REDIRECT_URI, authorization_request, web_client

pytestmark = pytest.mark.browser

ARTIFACTS = "authorize"
SITE_NAME = "Example CMS"  # SOURCE_OAUTH["SITE_NAME"] of the example project


@pytest.fixture(autouse=True)
def site_name(settings) -> None:
    settings.SOURCE_OAUTH = {**settings.SOURCE_OAUTH, "SITE_NAME": SITE_NAME}


def authorize_url(server: str, client, **params) -> tuple[str, str]:
    """An authorization request's URL, with its code verifier."""
    params = {"scope": "content:read user:profile", "state": "state-Xy7", **params}
    path, verifier = authorization_request(client, **params)
    return f"{server}{path}", verifier


def start_at_the_client(page: Page, traffic: Traffic, url: str) -> None:
    """Open the client app and click its "Sign in" link, which leads to ``url``."""
    traffic.client_pages["/"] = client_home(url)
    page.goto(f"{CLIENT_SITE}/")
    page.get_by_role("link", name="Sign in").click()


def sign_in(page: Page, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def redeem(server: str, client, secret: str | None, code: str, verifier: str) -> requests.Response:
    """What the client's back end does with the code."""
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    if secret is None:
        return requests.post(f"{server}/oauth/token", data={**data, "client_id": client.client_id})
    return requests.post(f"{server}/oauth/token", data=data, auth=(client.client_id, secret))


def expect_back_at_the_client(page: Page) -> dict[str, str]:
    page.wait_for_url(f"{REDIRECT_URI}?**")
    return query(page.url)


def no_refusals(server: str, traffic: Traffic) -> None:
    """Every answer of the site was a page or a redirect: no CSRF 403, no error."""
    refused = [(r.url, r.status) for r in traffic.responses if r.url.startswith(server)]
    assert all(status < 400 for _, status in refused), refused


# --- the third-party journey ---------------------------------------------------------------


def test_sign_in_consent_allow_and_the_code_redeems(server, page, traffic, user, user_password):
    client, secret = web_client(third_party=True)
    url, verifier = authorize_url(server, client)
    start_at_the_client(page, traffic, url)

    # The sign-in page says who is asking.
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Sign in to {SITE_NAME}")
    expect(page.get_by_role("main")).to_contain_text("Web app is asking to access your account")
    screenshot(page, ARTIFACTS, "sign-in.png")
    sign_in(page, user.username, user_password)

    # The consent page: site, client, third party, account, scopes, destination.
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(f"Web app wants to access your {SITE_NAME} account")
    main = page.get_by_role("main")
    expect(main).to_contain_text(f"Web app is made by a third party, not by {SITE_NAME}")
    expect(main).to_contain_text("Signed in as alice")
    expect(page.get_by_role("button", name="Not you? Switch account")).to_be_visible()
    scopes = page.get_by_role("list", name="If you allow it, Web app will be able to:")
    expect(scopes.get_by_role("listitem")).to_have_text(
        [
            re.compile(r"^Read the site's content\s+content:read$"),
            re.compile(r"^See your user profile \(name and email address\)\s+user:profile$"),
        ]
    )
    expect(main).to_contain_text("you will then be sent to app.example.com")
    screenshot(page, ARTIFACTS, "consent.png")
    page.get_by_role("button", name="Allow").click()

    params = expect_back_at_the_client(page)
    assert params["state"] == "state-Xy7" and params["code"]
    response = redeem(server, client, secret, params["code"], verifier)
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "content:read user:profile"

    no_refusals(server, traffic)
    posts = [r for r in traffic.requests if r.method == "POST"]
    assert [r.url.split("?")[0] for r in posts] == [
        f"{server}/accounts/login/",
        f"{server}/oauth/authorize",
    ]
    for post in posts:  # the browser's own Origin, which Django's CSRF check accepts
        assert post.all_headers()["origin"] == server
    # The authorize URL (state, code challenge) is never sent to the client's site.
    to_client = [r for r in traffic.requests if r.url.startswith(CLIENT_SITE)]
    assert to_client and all("referer" not in r.all_headers() for r in to_client)


def test_deny_returns_access_denied_with_the_state(server, page, traffic, user, user_password):
    client, _ = web_client(third_party=True)
    url, _ = authorize_url(server, client)
    start_at_the_client(page, traffic, url)
    sign_in(page, user.username, user_password)
    page.get_by_role("button", name="Deny").click()
    params = expect_back_at_the_client(page)
    assert params["error"] == "access_denied" and params["state"] == "state-Xy7"
    assert "code" not in params


def test_a_first_party_client_gets_its_code_without_a_consent_page(
    server, page, traffic, user, user_password
):
    client, secret = web_client(third_party=False)
    url, verifier = authorize_url(server, client)
    start_at_the_client(page, traffic, url)
    sign_in(page, user.username, user_password)
    params = expect_back_at_the_client(page)
    assert params["state"] == "state-Xy7"
    assert redeem(server, client, secret, params["code"], verifier).status_code == 200
    shown = [urlsplit(r.url).path for r in traffic.responses if r.status == 200]
    assert "/oauth/authorize" not in shown, shown


def test_a_signed_in_person_goes_straight_to_consent(server, page, user, user_password):
    client, _ = web_client(third_party=True)
    page.goto(f"{server}/accounts/login/")
    sign_in(page, user.username, user_password)
    url, _ = authorize_url(server, client)
    page.goto(url)
    expect(page).to_have_url(url)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Web app wants to access your {SITE_NAME} account"
    )


def test_not_you_signs_in_as_someone_else_and_returns_to_consent(
    server, page, traffic, user, user_password, django_user_model
):
    django_user_model.objects.create_user("bob", password=user_password)
    client, _ = web_client(third_party=True)
    url, _ = authorize_url(server, client)
    start_at_the_client(page, traffic, url)
    sign_in(page, user.username, user_password)
    expect(page.get_by_role("main")).to_contain_text("Signed in as alice")
    page.get_by_role("button", name="Not you? Switch account").click()
    expect(page.get_by_role("main")).to_contain_text("Web app is asking to access your account")
    sign_in(page, "bob", user_password)
    expect(page.get_by_role("main")).to_contain_text("Signed in as bob")
    expect(page).to_have_url(url)


# --- requests that cannot succeed: refused before any password ---------------------------------


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("unknown client", "Invalid client_id parameter value."),
        ("unregistered redirect URI", "Mismatching redirect URI."),
    ],
)
def test_a_bad_request_shows_the_error_page_before_asking_for_a_password(
    server, page, traffic, case, message
):
    client, _ = web_client(third_party=True)
    unregistered = "https://evil.example.net/callback"
    if case == "unknown client":
        client.client_id = "no-such-client"
        url, _ = authorize_url(server, client)
    else:
        url, _ = authorize_url(server, client, redirect_uri=unregistered)
    response = page.goto(url)
    assert response.status == 400
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "This authorization request cannot be completed"
    )
    expect(page.get_by_role("alert")).to_contain_text(message)
    expect(page.get_by_label("Password")).to_have_count(0)
    assert not any("/accounts/login/" in u for u in traffic.urls())
    assert not any(u.startswith("https://evil.example.net") for u in traffic.urls())
    assert response.all_headers()["referrer-policy"] == "same-origin"


def test_missing_pkce_goes_back_to_the_client_before_asking_for_a_password(server, page, traffic):
    """RFC 7636 §4.4.1: the error goes back to the (registered) redirect URI, with the state."""
    client, _ = web_client(confidential=False, third_party=True)
    url, _ = authorize_url(server, client, code_challenge=None, code_challenge_method=None)
    start_at_the_client(page, traffic, url)
    params = expect_back_at_the_client(page)
    assert params["error"] == "invalid_request" and params["state"] == "state-Xy7"
    assert not any("/accounts/login/" in u for u in traffic.urls())


# --- accessible, and usable on a phone ------------------------------------------------------


def contrast(page: Page, selector: str) -> float:
    """WCAG contrast ratio of an element's text against its (or the page's) background."""
    return page.evaluate(
        """selector => {
            const el = document.querySelector(selector);
            const parse = c => c.match(/[\\d.]+/g).slice(0, 4).map(Number);
            const lum = ([r, g, b]) => {
                const f = v => {
                    v /= 255;
                    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
                };
                return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
            };
            let bg = null;
            for (let node = el; node && !bg; node = node.parentElement) {
                const c = parse(getComputedStyle(node).backgroundColor);
                if (c.length < 4 || c[3] > 0) bg = c;
            }
            const [a, b] = [lum(parse(getComputedStyle(el).color)), lum(bg || [255, 255, 255])];
            return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        }""",
        selector,
    )


def test_a_wrong_password_is_announced_on_the_fields(server, page, traffic, user):
    client, _ = web_client(third_party=True)
    url, _ = authorize_url(server, client)
    start_at_the_client(page, traffic, url)
    sign_in(page, user.username, "not the password")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Please enter a correct username and password")
    for label in ("Username", "Password"):
        field = page.get_by_label(label)
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_attribute("aria-describedby", "signin-error")
    expect(page.get_by_role("main")).to_contain_text("Web app is asking to access your account")
    assert page.locator("#signin-error").get_attribute("role") == "alert"


def test_the_pages_fit_a_phone_with_readable_text_and_big_targets(
    server, phone, traffic, user, user_password
):
    client, secret = web_client(third_party=True)
    url, verifier = authorize_url(server, client)

    start_at_the_client(phone, traffic, url)  # to the sign-in page
    expect(phone.get_by_label("Password")).to_be_visible()
    assert not scrolls_sideways(phone)
    for label in ("Username", "Password"):
        box = phone.get_by_label(label).bounding_box()
        size = phone.get_by_label(label).evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
        assert size >= 16 and box["height"] >= 44, (label, size, box)
    screenshot(phone, ARTIFACTS, "sign-in-mobile.png")
    sign_in(phone, user.username, user_password)

    expect(phone.get_by_role("heading", level=1)).to_contain_text("wants to access")
    assert not scrolls_sideways(phone)
    for name in ("Allow", "Deny", "Not you? Switch account"):
        box = phone.get_by_role("button", name=name).bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44, (name, box)
    for selector in ("h1", "ul.scopes li", ".note", "button.primary", ".site", ".scope-name"):
        assert contrast(phone, selector) >= 4.5, selector
    screenshot(phone, ARTIFACTS, "consent-mobile.png")

    error_url, _ = authorize_url(server, client, redirect_uri="https://evil.example.net/cb")
    phone.goto(error_url)
    assert not scrolls_sideways(phone)
    assert contrast(phone, "[role=alert] p") >= 4.5
    screenshot(phone, ARTIFACTS, "error-mobile.png")

    start_at_the_client(phone, traffic, url)
    phone.get_by_role("button", name="Allow").click()
    params = expect_back_at_the_client(phone)
    assert redeem(server, client, secret, params["code"], verifier).status_code == 200


# --- a host's login page that the browser may not post -------------------------------------


@pytest.mark.parametrize("login_url", ["/accounts/login/", "/accounts/login-wrapped/"])
def test_a_no_referrer_login_page_cannot_be_posted(
    server, page, traffic, settings, user, user_password, login_url
):
    """What check W003 warns about, as Chromium does it: ``Origin: null``, CSRF 403."""
    from source_oauth.checks import check_login_page_referrer_policy

    settings.ROOT_URLCONF = "tests.urls_plain_login"
    settings.SECURE_REFERRER_POLICY = "no-referrer"
    settings.LOGIN_URL = login_url
    warned = [m.id for m in check_login_page_referrer_policy()]
    client, _ = web_client(third_party=True)
    url, _ = authorize_url(server, client)
    start_at_the_client(page, traffic, url)
    sign_in(page, user.username, user_password)
    login_post = next(r for r in traffic.requests if r.method == "POST")
    if login_url == "/accounts/login/":
        assert warned == ["source_oauth.W003"]
        expect(page.locator("body")).to_contain_text("CSRF verification failed")
        assert login_post.all_headers()["origin"] == "null"
        assert login_post.response().status == 403
    else:  # wrapped in user_facing: same-origin, whatever the project's default
        assert warned == []
        expect(page.get_by_role("heading", level=1)).to_contain_text("wants to access")
        assert login_post.all_headers()["origin"] == server
