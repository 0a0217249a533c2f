"""What a host includes besides ``source_oauth.urls``: DOT's old paths and a sign-in page.

And the checks that lead a host there: ``E006`` (a database that migrated
stock DOT first) and ``W007`` (DOT's own URLconf still included).
"""

from urllib.parse import urlencode

import pytest
import requests
from django.db import OperationalError
from django.urls import include, path

from source_oauth.adoption import state
from source_oauth.checks import check_dot_adoption, check_dot_urls
from tests.oauth_helpers import REDIRECT_URI, new_client, pkce_pair, web_client


class DotPathsUrls:
    """A site that replaced ``include("oauth2_provider.urls")`` as the README says."""

    urlpatterns = [
        path("o/", include("source_oauth.dot_urls")),
        path("", include("source_oauth.urls")),
        path("accounts/", include("source_oauth.login")),
    ]


class StockDotUrls:
    urlpatterns = [
        path("api/", include([path("o/", include("oauth2_provider.urls"))])),
        path("", include("source_oauth.urls")),
    ]


def ids(messages):
    return {message.id for message in messages}


def test_w007_names_dots_urlconf_wherever_it_is_included(settings):
    settings.ROOT_URLCONF = StockDotUrls
    messages = check_dot_urls()
    assert ids(messages) == {"source_oauth.W007"}
    assert 'include("source_oauth.dot_urls")' in messages[0].hint
    settings.ROOT_URLCONF = DotPathsUrls
    assert check_dot_urls() == []


@pytest.mark.django_db
def test_e006_when_dot_was_migrated_before_source_oauth(monkeypatch):
    assert check_dot_adoption(databases=["default"]) == []  # this test database: migrated
    monkeypatch.setattr(state, "applied_migrations", lambda connection: {state.DOT_INITIAL})
    messages = check_dot_adoption(databases=["default"])
    assert ids(messages) == {"source_oauth.E006"}
    assert "adopt_oauth_toolkit --dry-run" in messages[0].hint
    assert ids(check_dot_adoption()) == {"source_oauth.E006"}  # `check`: the default database
    both = {state.DOT_INITIAL, state.SOURCE_INITIAL}
    monkeypatch.setattr(state, "applied_migrations", lambda connection: both)
    assert check_dot_adoption(databases=["default"]) == []


def test_e006_is_silent_when_the_database_cannot_be_read(monkeypatch):
    def unreachable(connection):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(state, "applied_migrations", unreachable)
    assert check_dot_adoption(databases=["default"]) == []


@pytest.fixture
def dot_paths(settings, server):
    settings.ROOT_URLCONF = DotPathsUrls
    return server


def test_dots_paths_are_served_by_source_oauths_views(dot_paths):
    api_client, secret = new_client()
    grant = {"grant_type": "client_credentials"}
    response = requests.post(
        f"{dot_paths}/o/token/", data=grant, auth=(api_client.client_id, secret)
    )
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    access_token = response.json()["access_token"]
    introspected = requests.post(
        f"{dot_paths}/o/introspect/",
        data={"token": access_token},
        auth=(api_client.client_id, secret),
    )
    assert introspected.json()["active"] is True
    revoked = requests.post(
        f"{dot_paths}/o/revoke_token/",
        data={"token": access_token},
        auth=(api_client.client_id, secret),
    )
    assert revoked.status_code == 200
    # source_oauth's rules: a repeated parameter is refused before oauthlib sees it.
    repeated = requests.post(
        f"{dot_paths}/o/token",
        data="grant_type=client_credentials&grant_type=client_credentials",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=(api_client.client_id, secret),
    )
    assert repeated.status_code == 400 and repeated.json()["error"] == "invalid_request"
    # Metadata and every reversed URL name the canonical paths.
    metadata = requests.get(f"{dot_paths}/.well-known/oauth-authorization-server").json()
    assert metadata["token_endpoint"] == f"{dot_paths}/oauth/token"


def test_the_included_sign_in_page_takes_the_authorization_flow_back(
    dot_paths, user, user_password
):
    api_client, _ = web_client()
    _, challenge = pkce_pair()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": api_client.client_id,
            "redirect_uri": REDIRECT_URI,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    session = requests.Session()
    to_login = session.get(f"{dot_paths}/o/authorize/?{query}", allow_redirects=False)
    assert to_login.status_code == 302
    assert to_login.headers["Location"].startswith("/accounts/login/?next=")
    page = session.get(dot_paths + to_login.headers["Location"])
    assert page.status_code == 200
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert 'name="username"' in page.text and 'name="password"' in page.text
    signed_in = session.post(
        page.url,
        data={
            "username": user.username,
            "password": user_password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "next": f"/o/authorize/?{query}",
        },
        allow_redirects=False,
    )
    assert signed_in.status_code == 302
    assert signed_in.headers["Location"] == f"/o/authorize/?{query}"
    back = session.get(dot_paths + signed_in.headers["Location"], allow_redirects=False)
    assert back.status_code == 302 and back.headers["Location"].startswith(REDIRECT_URI)
