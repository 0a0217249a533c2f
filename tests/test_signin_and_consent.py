"""The pages a person sees during authorization, below the browser: what they say and check.

The journeys themselves run in Chromium (``test_browser_authorize.py``).
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from django.template import Context, RequestContext, Template
from django.test import RequestFactory

from source_oauth import pages
from source_oauth.checks import check_login_page_referrer_policy
from source_oauth.forms import SignInForm
from tests.oauth_helpers import REDIRECT_URI, authorization_request, web_client

pytestmark = pytest.mark.usefixtures("catalog")


def authorize_path(client, **params) -> str:
    return authorization_request(client, **params)[0]


# --- W003: a login page the browser cannot post ---------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "login_url", "warned"),
    [
        ("no-referrer", "/accounts/login/", True),
        ("same-origin, no-referrer", "/accounts/login/", True),  # the last one applies
        (["strict-origin", "no-referrer"], "/accounts/login/", True),
        ("no-referrer, same-origin", "/accounts/login/", False),
        ("same-origin", "/accounts/login/", False),
        (None, "/accounts/login/", False),
        ("no-referrer", "/accounts/login-wrapped/", False),  # user_facing sends its own
        ("no-referrer", "https://sso.example.com/login", False),  # not this site's page
        ("no-referrer", "/no/such/page/", False),
    ],
)
def test_w003_login_page_sent_without_referrer(settings, policy, login_url, warned):
    settings.ROOT_URLCONF = "tests.urls_plain_login"
    settings.SECURE_REFERRER_POLICY = policy
    settings.LOGIN_URL = login_url
    messages = check_login_page_referrer_policy()
    assert [m.id for m in messages] == (["source_oauth.W003"] if warned else [])
    assert all(m.hint and "user_facing" in m.hint for m in messages)


def test_w003_needs_the_security_middleware(settings):
    settings.ROOT_URLCONF = "tests.urls_plain_login"
    settings.SECURE_REFERRER_POLICY = "no-referrer"
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "SecurityMiddleware" not in m]
    assert check_login_page_referrer_policy() == []


def test_w003_is_reported_by_manage_py_check(settings, capsys):
    settings.ROOT_URLCONF = "tests.urls_plain_login"
    settings.SECURE_REFERRER_POLICY = "no-referrer"
    call_command("check")
    assert "source_oauth.W003" in capsys.readouterr().err


def test_the_example_login_page_passes_w003(settings):
    settings.SECURE_REFERRER_POLICY = "no-referrer"
    assert check_login_page_referrer_policy() == []  # wrapped in user_facing


# --- the pages' headers ---------------------------------------------------------------------------


def test_login_consent_and_error_pages_keep_their_url_on_this_site(client, user):
    api_client, _ = web_client(third_party=True)
    login = client.get("/accounts/login/")
    client.force_login(user)
    consent = client.get(authorize_path(api_client))
    error = client.get(authorize_path(api_client, redirect_uri="https://evil.example.net/cb"))
    assert 'id="authorizationForm"' in consent.content.decode()
    assert error.status_code == 400
    for page in (login, consent, error):
        assert page["Referrer-Policy"] == "same-origin"
        assert b'<meta name="referrer" content="same-origin">' in page.content
        assert page["X-Frame-Options"] == "DENY"
        assert b"<main>" in page.content


# --- before the password: the request is checked --------------------------------------------------


def test_an_unknown_client_gets_the_error_page_without_signing_in(client):
    api_client, _ = web_client(third_party=True)
    api_client.client_id = "nobody"
    response = client.get(authorize_path(api_client))
    assert response.status_code == 400 and "Location" not in response
    assert 'role="alert"' in response.content.decode()


def test_an_unregistered_redirect_uri_gets_the_error_page_without_signing_in(client):
    api_client, _ = web_client(third_party=True)
    response = client.get(authorize_path(api_client, redirect_uri="https://evil.example.net/cb"))
    assert response.status_code == 400 and "Location" not in response
    assert "evil.example.net" not in response.content.decode()


def test_an_error_for_the_client_goes_back_to_it_without_signing_in(client):
    api_client, _ = web_client(confidential=False, third_party=True)
    response = client.get(authorize_path(api_client, code_challenge=None))
    assert response.status_code == 302
    assert response["Location"].startswith(REDIRECT_URI + "?error=invalid_request")
    assert "state=st" in response["Location"]
    response = client.get(authorize_path(api_client, scope="content:read nothing:here"))
    assert response["Location"].startswith(REDIRECT_URI + "?error=invalid_scope")


def test_a_valid_request_asks_for_a_password(client):
    api_client, _ = web_client(third_party=True)
    path = authorize_path(api_client)
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?" + urlencode({"next": path}, safe="/")


# --- the consent page -----------------------------------------------------------------------------


def test_consent_names_site_client_account_scopes_and_destination(client, settings, user):
    settings.SOURCE_OAUTH = {"SITE_NAME": "Acme News"}
    api_client, _ = web_client(third_party=True, scopes=["content:read", "user:profile"])
    client.force_login(user)
    page = client.get(authorize_path(api_client, scope="content:read")).content.decode()
    assert "Web app wants to access your Acme News account" in page
    assert "Web app is made by a third party, not by Acme News." in page
    assert "Signed in as <strong>alice</strong>" in page
    assert "Read the site&#x27;s content" in page and "user:profile" not in page
    assert "sent to <strong>app.example.com</strong>" in page
    assert 'name="switch_account"' in page


def test_the_site_name_defaults_to_the_host(client, settings, user):
    settings.SOURCE_OAUTH = {}
    api_client, _ = web_client(third_party=True)
    client.force_login(user)
    page = client.get(authorize_path(api_client)).content.decode()
    assert "access your testserver account" in page


@pytest.mark.parametrize(
    ("uri", "name", "kind"),
    [
        ("https://app.example.com/callback", "app.example.com", "site"),
        ("http://127.0.0.1:53817/cb", "127.0.0.1", "loopback"),
        ("http://[::1]/cb", "::1", "loopback"),
        ("com.example.app:/callback", "com.example.app", "app"),
    ],
)
def test_destination_is_the_host_or_the_app_on_the_device(uri, name, kind):
    assert pages.destination(uri) == pages.Destination(name, kind)


def test_a_native_app_destination_says_so(client, user):
    api_client, _ = web_client(
        third_party=True, confidential=False, redirect_uris=["com.example.app:/callback"]
    )
    client.force_login(user)
    page = client.get(authorize_path(api_client, redirect_uri="com.example.app:/callback"))
    assert "back to the app <strong>com.example.app</strong> on this device" in page.text


def test_not_you_signs_out_and_comes_back_to_the_same_request(client, user):
    api_client, _ = web_client(third_party=True)
    client.force_login(user)
    path = authorize_path(api_client)
    consent = client.get(path)
    assert consent.wsgi_request.user.is_authenticated
    response = client.post(path, {"switch_account": "1"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?" + urlencode({"next": path}, safe="/")
    assert "_auth_user_id" not in client.session


def test_the_consent_template_has_blocks_to_extend():
    from django.template.loader import get_template

    source = get_template("source_oauth/authorize.html").template.source
    for block in ("scopes", "identity_claims", "connected_apps_link", "error"):
        assert f"{{% block {block} %}}" in source


# --- the sign-in page -----------------------------------------------------------------------------


def test_the_sign_in_page_names_the_application_asking(client):
    api_client, _ = web_client(third_party=True)
    page = client.get("/accounts/login/", {"next": authorize_path(api_client)}).content.decode()
    assert "<strong>Web app</strong> is asking to access your account" in page
    assert "is asking" not in client.get("/accounts/login/").content.decode()


@pytest.mark.parametrize(
    "next_url",
    [
        None,
        "",
        "/admin/",
        "/oauth/authorize?client_id=nobody",
        "/oauth/authorize",
        "https://evil.example.net/oauth/authorize?client_id={client_id}",
        "/oauth/authorize?client_id=%00",
        "/%zz",
    ],
)
def test_client_asking_only_for_this_sites_authorize_url(next_url):
    api_client, _ = web_client(third_party=True)
    if next_url:
        next_url = next_url.format(client_id=api_client.client_id)
    assert pages.client_asking(next_url) is None
    assert pages.client_asking(f"/oauth/authorize/?client_id={api_client.client_id}") == api_client


def test_the_template_tags_read_next_from_the_request(settings):
    settings.SOURCE_OAUTH = {"SITE_NAME": "Acme News"}
    api_client, _ = web_client(third_party=True)
    request = RequestFactory().get("/accounts/login/", {"next": authorize_path(api_client)})
    template = Template(
        "{% load source_oauth %}{% oauth_client_asking as c %}{% oauth_site_name as s %}"
        "{{ c.name }}|{{ s }}"
    )
    assert template.render(RequestContext(request)) == "Web app|Acme News"
    assert template.render(Context({})) == "|"


def test_a_refused_sign_in_marks_both_fields(db, user):
    form = SignInForm(data={"username": "alice", "password": "wrong"})
    assert not form.is_valid()
    html = str(form["username"]) + str(form["password"])
    assert html.count('aria-invalid="true"') == 2
    assert html.count('aria-describedby="signin-error"') == 2
    good = SignInForm(data={"username": "alice", "password": "correct horse battery staple"})
    assert good.is_valid() and "aria-invalid" not in str(good["username"])


# --- the demo -------------------------------------------------------------------------------------


def test_the_demo_web_app_flow_works_as_printed(db):
    import io
    import re

    from django.contrib.auth import get_user_model
    from django.test import Client

    host = "http://127.0.0.1:8000"
    client = Client(HTTP_HOST="127.0.0.1:8000")
    out = io.StringIO()
    call_command("demo_setup", "--host", host, stdout=out)
    printed = out.getvalue()
    password = re.search(r"as user demo password (\S+):", printed).group(1)
    authorize = re.search(r"  (http://127.0.0.1:8000/oauth/authorize\?\S+)", printed).group(1)
    redeem = re.search(r"curl -s -u '([^:]+):([^']+)' -d grant_type=authorization_code .*", printed)
    verifier = re.search(r"code_verifier=(\S+)", printed).group(1)
    assert not get_user_model().objects.get(username="demo").is_staff

    path = authorize.removeprefix(host)
    login = client.get(path, follow=True)
    assert "Demo web app</strong> is asking" in login.content.decode()
    client.post(login.redirect_chain[-1][0], {"username": "demo", "password": password})
    consent = client.get(path)
    assert "Demo web app wants to access" in consent.content.decode()
    assert "sent to <strong>127.0.0.1</strong>, on this device" in consent.text
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', consent.text))
    landed = client.post(path, {**fields, "allow": "Authorize"}, follow=True)
    assert landed.redirect_chain[-1][0].startswith(f"{host}/demo/callback?code=")
    code = re.search(r'<code id="code">([^<]+)</code>', landed.content.decode()).group(1)
    token = client.post(
        "/oauth/token",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": f"{host}/demo/callback",
            "code_verifier": verifier,
            "client_id": redeem.group(1),
            "client_secret": redeem.group(2),
        },
    )
    assert token.status_code == 200, token.content
