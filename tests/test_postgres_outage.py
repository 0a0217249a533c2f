"""PostgreSQL stopped and restarted under a gunicorn server: 503 JSON, and no stale connection.

A PostgreSQL cluster of this module's own (never the machine's shared
server) holds a migrated database; the example project runs on it under
gunicorn, with Django's local-memory cache, so what a worker cached before
the outage can still be answered during it.
"""

from __future__ import annotations

import json
import os

import pytest
import requests

from tests.oauth_helpers import REDIRECT_URI, login, pkce_pair
from tests.own_services import Gunicorn, OwnPostgres, manage

PASSWORD = "correct horse battery staple"

pytestmark = pytest.mark.skipif(
    not OwnPostgres.available(), reason="PostgreSQL's binaries (initdb, pg_ctl) are not installed"
)


@pytest.fixture(scope="module")
def postgres():
    server = OwnPostgres()
    server.init()
    try:
        url = server.create_database("source_oauth_faults")
        env = base_env(url)
        manage(env, "migrate", "--no-input")
        created = json.loads(
            manage(env, "create_api_client", "Backend", "--scope", "content:read", "--json").strip()
        )
        web = json.loads(
            manage(
                env,
                "create_api_client",
                "Web app",
                "--grant-type",
                "authorization_code",
                "--redirect-uri",
                REDIRECT_URI,
                "--scope",
                "content:read",
                "--json",
            ).strip()
        )
        manage(
            env,
            "shell",
            "-c",
            "from django.contrib.auth.models import User; "
            f"User.objects.create_user('alice', password='{PASSWORD}')",
        )
        yield server, url, created, web
    finally:
        server.close()


def base_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    return {
        **env,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "DJANGO_DEBUG": "0",
        **extra,
    }


def token(server: Gunicorn, client: dict) -> requests.Response:
    return requests.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
    )


def assert_unavailable(response: requests.Response, *, api: bool = False) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert int(response.headers["Retry-After"]) > 0
    body = response.json()
    assert body["error"] == "temporarily_unavailable"
    assert body["detail" if api else "error_description"]


@pytest.mark.parametrize("debug", ["0", "1"])
def test_postgres_down_is_answered_503_in_json_and_a_page(postgres, debug):
    server_pg, url, backend, web = postgres
    server = Gunicorn(base_env(url, DJANGO_DEBUG=debug))
    try:
        issued = token(server, backend)
        assert issued.status_code == 200
        access = issued.json()["access_token"]
        bearer = {"Authorization": f"Bearer {access}"}
        assert requests.get(f"{server.url}/api/articles/", headers=bearer).status_code == 200
        browser = requests.Session()
        login(browser, server.url, "alice", PASSWORD)
        _, challenge = pkce_pair()
        authorize = (
            f"{server.url}/oauth/authorize?response_type=code&client_id={web['client_id']}"
            f"&redirect_uri={REDIRECT_URI}&code_challenge={challenge}&code_challenge_method=S256"
        )

        server_pg.stop()
        try:
            auth = (backend["client_id"], backend["client_secret"])
            assert_unavailable(token(server, backend))
            assert_unavailable(
                requests.post(f"{server.url}/oauth/revoke", data={"token": access}, auth=auth)
            )
            assert_unavailable(
                requests.post(f"{server.url}/oauth/introspect", data={"token": access}, auth=auth)
            )
            assert_unavailable(
                requests.get(f"{server.url}/api/articles/", headers=bearer), api=True
            )
            # Decided from the cache: the token, the scopes; the view needs no query.
            options = requests.options(f"{server.url}/api/articles/", headers=bearer)
            assert options.status_code == 200
            page = browser.get(authorize, allow_redirects=False)
            assert page.status_code == 503
            assert page.headers["Content-Type"].startswith("text/html")
            assert int(page.headers["Retry-After"]) > 0
            assert "try again" in page.text
            for _ in range(20):
                assert token(server, backend).status_code == 503
        finally:
            server_pg.start()

        assert token(server, backend).status_code == 200  # the first request after it is back
        output = server.output()
        assert "Traceback" not in output, output
        assert "Server Error" not in output and "Internal Server Error" not in output
        assert len([line for line in output.splitlines() if "database" in line]) <= 3, output
    finally:
        server.close()


@pytest.mark.parametrize(
    ("settings_module", "first_status"),
    [
        ("example_project.settings", 200),  # CONN_HEALTH_CHECKS: no request fails
        ("tests.settings_without_health_checks", 503),  # the fault they prevent
    ],
)
def test_a_persistent_connection_outlived_by_a_restart(postgres, settings_module, first_status):
    server_pg, url, backend, _ = postgres
    env = base_env(url, DATABASE_CONN_MAX_AGE="60", DJANGO_SETTINGS_MODULE=settings_module)
    server = Gunicorn(env)  # one sync worker: every request reuses its one connection
    try:
        assert token(server, backend).status_code == 200
        server_pg.restart()
        assert token(server, backend).status_code == first_status
        assert token(server, backend).status_code == 200
    finally:
        server.close()
