"""CORS for registered API clients' browser apps (source_oauth.cors, django-cors-headers).

A client registered with ``https://app.example.com/callback`` may call the
token, revocation and introspection endpoints and ``/api/`` from
``https://app.example.com``; every other origin, and the authorization
endpoint for every origin, get no CORS header.
"""

from __future__ import annotations

import base64

import pytest
import requests
from corsheaders.middleware import CorsMiddleware
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from source_oauth.cache import shared
from source_oauth.checks import check_cors_middleware
from source_oauth.cors import ORIGINS_KEY, client_origins, origin_of, registered_origins
from tests.oauth_helpers import new_client, web_client

APP = "https://app.example.com"
EVIL = "https://evil.example.com"
CORS_HEADERS = {
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-allow-headers",
    "access-control-allow-methods",
    "access-control-expose-headers",
    "access-control-max-age",
}
CORS_PATHS = [
    "/oauth/token",
    "/oauth/token/",
    "/oauth/revoke",
    "/oauth/introspect",
    "/api/articles/",
    "/api/me/",
]
OTHER_PATHS = ["/oauth/authorize", "/oauth/authorize/", "/admin/", "/accounts/login/", "/"]


def cors_headers(response):
    return {name.lower() for name in response.headers} & CORS_HEADERS


@pytest.fixture
def app_client(catalog):
    """A browser app registered with https://app.example.com/callback."""
    client, _ = web_client(confidential=False, redirect_uris=[f"{APP}/callback"])
    return client


def preflight(client, path, origin=APP, method="POST"):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )


# --- origins of a client ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "origin"),
    [
        ("https://app.example.com/callback", "https://app.example.com"),
        ("https://App.Example.COM:443/cb?x=1", "https://app.example.com"),
        ("HTTPS://app.example.com", "https://app.example.com"),
        ("https://app.example.com:8443/cb", "https://app.example.com:8443"),
        ("http://localhost:3000/callback", "http://localhost:3000"),
        ("http://127.0.0.1/callback", "http://127.0.0.1"),
        ("http://127.0.0.1:80/callback", "http://127.0.0.1"),
        ("http://[::1]:8080/cb", "http://[::1]:8080"),
        ("http://app.example.com/callback", None),  # plain http on a public host
        ("com.example.app:/callback", None),  # private-use scheme: no origin
        ("com.example.app://callback", None),
        ("ftp://app.example.com/", None),
        ("https://user:pw@app.example.com/", None),
        ("https:///callback", None),
        ("https://[::1/", None),
        ("https://app.example.com:99999/", None),
        ("null", None),
        ("", None),
    ],
)
def test_origin_of(uri, origin):
    assert origin_of(uri) == origin


@pytest.mark.django_db
def test_client_origins_come_from_redirect_uris_and_allowed_origins(catalog):
    client, _ = web_client(
        redirect_uris=[
            f"{APP}/callback",
            f"{APP}/silent-renew",
            "http://localhost:3000/callback",
            "com.example.app:/callback",
        ]
    )
    assert client_origins(client) == {APP, "http://localhost:3000"}
    client.allowed_origins = "https://cdn.example.net https://preview.example.net/ http://x.test"
    assert client_origins(client) == {
        APP,
        "http://localhost:3000",
        "https://cdn.example.net",
        "https://preview.example.net",
    }


@pytest.mark.django_db
def test_registered_origins_cost_one_query_then_none(app_client, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert registered_origins() == frozenset({APP})
    with django_assert_num_queries(0):
        assert registered_origins() == frozenset({APP})


@pytest.mark.django_db
def test_registered_origins_follow_client_changes(app_client):
    assert registered_origins() == {APP}
    other, _ = web_client(redirect_uris=["https://other.example.org/cb"])
    assert registered_origins() == {APP, "https://other.example.org"}
    app_client.redirect_uris = "https://moved.example.com/callback"
    app_client.save()
    assert registered_origins() == {"https://moved.example.com", "https://other.example.org"}
    other.delete()
    assert registered_origins() == {"https://moved.example.com"}
    assert shared.read(ORIGINS_KEY) == {"https://moved.example.com"}


# --- allowed ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", CORS_PATHS)
def test_preflight_from_a_registered_origin(client, app_client, path):
    response = preflight(client, path)
    assert response.status_code == 200
    assert response.content == b""
    assert response["Access-Control-Allow-Origin"] == APP
    assert "POST" in response["Access-Control-Allow-Methods"].split(", ")
    assert {"authorization", "content-type"} <= set(
        response["Access-Control-Allow-Headers"].split(", ")
    )
    assert response["Access-Control-Max-Age"] == "86400"
    assert "Access-Control-Allow-Credentials" not in response  # bearer tokens, no cookies


@pytest.mark.django_db
def test_token_request_from_a_registered_origin(client, catalog, app_client):
    backend, secret = new_client(scopes=["content:read"])
    response = client.post(
        "/oauth/token",
        {"grant_type": "client_credentials"},
        HTTP_ORIGIN=APP,
        HTTP_AUTHORIZATION=_basic(backend.client_id, secret),
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP
    assert "origin" in response["Vary"].lower()


@pytest.mark.django_db
def test_api_answers_a_registered_origin_even_a_refusal_with_a_readable_challenge(
    client, app_client
):
    assert client.get("/api/articles/", HTTP_ORIGIN=APP)["Access-Control-Allow-Origin"] == APP
    response = client.get("/api/articles/", HTTP_ORIGIN=APP, HTTP_AUTHORIZATION="Bearer nope")
    assert response.status_code == 401
    assert response["Access-Control-Allow-Origin"] == APP
    assert response["Access-Control-Expose-Headers"] == "WWW-Authenticate"


@pytest.mark.django_db
def test_explicit_allowed_origins(client, app_client):
    app_client.allowed_origins = "https://cdn.example.net"
    app_client.save()
    response = preflight(client, "/oauth/token", origin="https://cdn.example.net")
    assert response["Access-Control-Allow-Origin"] == "https://cdn.example.net"
    assert preflight(client, "/oauth/token")["Access-Control-Allow-Origin"] == APP


@pytest.mark.django_db
def test_a_new_client_is_allowed_at_once_and_a_deleted_one_no_more(client, app_client):
    origin = "https://new.example.org"
    assert not cors_headers(preflight(client, "/api/articles/", origin=origin))
    new, _ = web_client(redirect_uris=[f"{origin}/callback"])
    assert preflight(client, "/api/articles/", origin=origin)["Access-Control-Allow-Origin"]
    new.delete()
    assert not cors_headers(preflight(client, "/api/articles/", origin=origin))


# --- denied ----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", CORS_PATHS)
@pytest.mark.parametrize(
    "origin",
    [
        EVIL,
        "https://app.example.com.evil.com",
        "http://app.example.com",  # another scheme is another origin
        "https://app.example.com:8443",
        "https://APP.example.com",  # browsers send origins lower-cased
        "null",
        "",
    ],
)
def test_other_origins_get_no_cors_headers(client, app_client, path, origin):
    assert not cors_headers(preflight(client, path, origin=origin))
    assert not cors_headers(client.get(path, HTTP_ORIGIN=origin))


@pytest.mark.django_db
@pytest.mark.parametrize("path", OTHER_PATHS)
def test_other_paths_never_get_cors_headers_even_for_a_registered_origin(client, app_client, path):
    assert not cors_headers(preflight(client, path, method="GET"))
    assert not cors_headers(client.get(path, HTTP_ORIGIN=APP))


@pytest.mark.django_db
def test_private_use_scheme_clients_register_no_origin(client, catalog):
    web_client(confidential=False, redirect_uris=["com.example.app:/callback"])
    assert registered_origins() == frozenset()
    assert not cors_headers(preflight(client, "/oauth/token", origin="com.example.app://"))


@pytest.mark.django_db
def test_plain_http_allowed_origins_on_a_public_host_are_ignored(client, app_client):
    app_client.allowed_origins = "http://insecure.example.com"
    app_client.save()
    response = preflight(client, "/oauth/token", origin="http://insecure.example.com")
    assert not cors_headers(response)


# --- over HTTP -------------------------------------------------------------------------------


def test_browser_app_flow_over_http(server):
    """What a browser does: preflight, token request, preflight, API call, all from APP."""
    web_client(confidential=False, redirect_uris=[f"{APP}/callback"])
    backend, secret = new_client(scopes=["content:read"])
    response = requests.options(
        f"{server}/oauth/token",
        headers={"Origin": APP, "Access-Control-Request-Method": "POST"},
    )
    assert (response.status_code, response.headers["Access-Control-Allow-Origin"]) == (200, APP)
    token = requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(backend.client_id, secret),
        headers={"Origin": APP},
    )
    assert token.headers["Access-Control-Allow-Origin"] == APP
    response = requests.options(
        f"{server}/api/articles/",
        headers={
            "Origin": APP,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert response.headers["Access-Control-Allow-Origin"] == APP
    articles = requests.get(
        f"{server}/api/articles/",
        headers={"Origin": APP, "Authorization": f"Bearer {token.json()['access_token']}"},
    )
    assert (articles.status_code, articles.headers["Access-Control-Allow-Origin"]) == (200, APP)

    denied = requests.get(f"{server}/api/articles/", headers={"Origin": EVIL})
    assert denied.status_code == 200  # CORS is the browser's to enforce: no header, no read
    assert "Access-Control-Allow-Origin" not in denied.headers


# --- system check ----------------------------------------------------------------------------


def test_e004_cors_middleware_missing(settings):
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if m != "corsheaders.middleware.CorsMiddleware"
    ]
    messages = check_cors_middleware()
    assert [m.id for m in messages] == ["source_oauth.E004"]
    assert "corsheaders.middleware.CorsMiddleware" in messages[0].msg
    assert messages[0].hint
    assert "source_oauth.E004" in {m.id for m in run_checks()}


def test_e004_accepts_the_middleware_or_a_subclass(settings):
    assert check_cors_middleware() == []
    settings.MIDDLEWARE = [
        "tests.test_cors.OwnCorsMiddleware" if m.startswith("corsheaders") else m
        for m in settings.MIDDLEWARE
    ]
    assert check_cors_middleware() == []


def test_manage_py_check_reports_e004(settings):
    settings.MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
    with pytest.raises(SystemCheckError, match=r"source_oauth\.E004"):
        call_command("check")


# --- helpers ---------------------------------------------------------------------------------


class OwnCorsMiddleware(CorsMiddleware):
    """A project's own CorsMiddleware, under its own dotted path."""


def _basic(client_id, secret):
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
