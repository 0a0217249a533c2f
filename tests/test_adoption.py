"""Adopting a site that ran stock django-oauth-toolkit, as docs/adoption.md tells a user to.

The site (``tests/hosts/dot_host``) migrates stock DOT, registers an
application of every kind and issues real tokens through DOT's own
endpoints. Then its settings switch to source_oauth (``adopted``): the checks
name the command, ``adopt_oauth_toolkit`` runs, and every token, refresh
token and secret issued before keeps working over HTTP. On the test run's
database: SQLite, or PostgreSQL when ``DATABASE_URL`` says so.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from tests.hosts.processes import host_database, manage, serve
from tests.oauth_helpers import login, pkce_pair, query_of

STOCK = "tests.hosts.dot_host.settings"
ADOPTED = "tests.hosts.dot_host.adopted"
UNSWITCHED = "tests.hosts.dot_host.unswitched"
ALICE = ("alice", "wonderland")
DOT_TABLES = [
    "oauth2_provider_accesstoken",
    "oauth2_provider_refreshtoken",
    "oauth2_provider_grant",
    "oauth2_provider_idtoken",
]

# Printed by the adopted site itself: what its database holds.
SNAPSHOT = """
import json
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from oauth2_provider.models import AccessToken, RefreshToken
from source_oauth.models import ApiClient, Scope

def application_fk(table):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return sorted(
        c["foreign_key"][0] for c in constraints.values()
        if c["foreign_key"] and c["columns"] == ["application_id"]
    )

print(json.dumps({
    "clients": {
        c.name: {
            "pk": c.pk, "client_id": c.client_id, "confidential": c.confidential,
            "third_party": c.third_party, "grant_types": c.grant_types,
            "redirect_uris": c.redirect_uris, "allowed_origins": c.allowed_origins,
            "require_pkce": c.require_pkce, "is_default": c.is_default,
            "client_secret": c.client_secret, "user": c.user.username if c.user else None,
            "scopes": sorted(s.name for s in c.allowed_scopes.all()),
        }
        for c in ApiClient.objects.all()
    },
    "scopes": dict(Scope.objects.values_list("name", "description")),
    "application_fk": {t: application_fk(t) for t in TABLES},
    "plain_tokens": AccessToken.objects.exclude(token="").count()
        + RefreshToken.objects.exclude(token="").count(),
    "source_oauth_migrations": sorted(
        name for app, name in MigrationRecorder(connection).applied_migrations()
        if app == "source_oauth"
    ),
    "tables": sorted(t for t in connection.introspection.table_names() if "source_oauth" in t),
}))
""".replace("TABLES", repr(DOT_TABLES))


def snapshot(settings: str, env: dict[str, str]) -> dict[str, Any]:
    return json.loads(manage(settings, "shell", "-v", "0", "-c", SNAPSHOT, env=env).stdout)


def host_env(url: str) -> dict[str, str]:
    return {**os.environ, "HOST_DATABASE_URL": url}


# --- what the stock site issued ----------------------------------------------------


def authorization_code_tokens(
    base: str, client: dict, redirect_uri: str, *, authorize: str, token: str, scope: str
) -> dict[str, Any]:
    """Alice signs in and authorizes ``client`` (no consent: first party); the code is redeemed."""
    session = requests.Session()
    login(session, base, *ALICE)
    verifier, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": redirect_uri,
        "scope": scope,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "s1",
    }
    response = session.get(f"{base}{authorize}?{urlencode(query)}", allow_redirects=False)
    assert response.status_code == 302, response.text[:500]
    data = {
        "grant_type": "authorization_code",
        "code": query_of(response)["code"],
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    return token_request(f"{base}{token}", data, client)


def token_request(url: str, data: dict[str, str], client: dict) -> dict[str, Any]:
    response = post_token(url, data, client)
    assert response.status_code == 200, response.text
    return response.json()


def post_token(url: str, data: dict[str, str], client: dict) -> requests.Response:
    """A token request as the client makes it: HTTP Basic with a secret, else its ID alone."""
    if client.get("public"):
        return requests.post(url, data={**data, "client_id": client["client_id"]}, timeout=30)
    return requests.post(
        url, data=data, auth=(client["client_id"], client["client_secret"]), timeout=30
    )


@dataclass
class Site:
    env: dict[str, str]
    credentials: dict[str, dict]
    tokens: dict[str, dict] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    adopted: dict[str, Any] = field(default_factory=dict)
    url: str = ""

    def client(self, name: str) -> dict:
        return {**self.credentials[name], "public": name == "Mobile app"}


@pytest.fixture(scope="module")
def site() -> Any:
    """The stock site with live tokens, then the adoption steps, then the adopted site served.

    Every step's output is kept for the tests to read, in any order.
    """
    with host_database("dothost") as url:
        env = host_env(url)
        manage(STOCK, "migrate", "-v", "0", env=env)
        site = Site(env, json.loads(manage(STOCK, "seed_dot_host", env=env).stdout))
        with serve(STOCK, env=env) as base:
            site.tokens["Backend service"] = token_request(
                f"{base}/o/token/",
                {"grant_type": "client_credentials", "scope": "read"},
                site.client("Backend service"),
            )
            stock = {"authorize": "/o/authorize/", "token": "/o/token/", "scope": "read write"}
            site.tokens["Web app"] = authorization_code_tokens(
                base, site.client("Web app"), "https://web.example.com/cb", **stock
            )
            site.tokens["Mobile app"] = authorization_code_tokens(
                base, site.client("Mobile app"), "com.example.app:/callback", **stock
            )
            site.tokens["Old password app"] = token_request(
                f"{base}/o/token/",
                {"grant_type": "password", "username": ALICE[0], "password": ALICE[1]},
                site.client("Old password app"),
            )
            site.outputs["stock API"] = {
                name: read_api(base, token["access_token"]).status_code
                for name, token in site.tokens.items()
            }
        run = {"env": env, "check": False}
        site.outputs["check before"] = manage(ADOPTED, "check", **run)
        site.outputs["migrate before"] = manage(ADOPTED, "migrate", **run)
        site.outputs["dry run"] = manage(ADOPTED, "adopt_oauth_toolkit", "--dry-run", **run)
        site.outputs["after dry run"] = snapshot_before_adoption(env)
        site.outputs["adopt"] = manage(ADOPTED, "adopt_oauth_toolkit", **run)
        site.adopted = snapshot(ADOPTED, env)
        site.outputs["adopt again"] = manage(ADOPTED, "adopt_oauth_toolkit", **run)
        site.outputs["migrate after"] = manage(ADOPTED, "migrate", **run)
        site.outputs["keys"] = manage(ADOPTED, "oidc_keys", "generate", **run)
        site.outputs["check after"] = manage(ADOPTED, "check", **run)
        with serve(ADOPTED, env=env) as site.url:
            yield site


def test_check_and_migrate_name_the_command_before_anything_fails(site):
    for step in ("check before", "migrate before"):
        result = site.outputs[step]
        assert result.returncode != 0, step
        assert "source_oauth.E006" in result.stderr, result.stderr
        assert "adopt_oauth_toolkit" in result.stderr
        assert "InconsistentMigrationHistory" not in result.stderr + result.stdout


def test_dry_run_tells_everything_and_changes_nothing(site):
    result = site.outputs["dry run"]
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for name, credentials in site.credentials.items():
        assert f"“{name}” ({credentials['client_id']})" in out
        assert credentials["client_secret"] not in out
    assert "Would apply source_oauth's migrations: 0001_initial" in out
    assert "read: Read your data" in out and "profile:email: See your email address" in out
    assert "the password grant" in out and "the implicit grant" in out
    assert out.rstrip().endswith("Dry run: nothing was changed.")
    assert site.outputs["after dry run"] == {
        "source_oauth_migrations": [],
        "source_oauth_tables": [],
    }


def test_adoption_then_migrate_and_check_are_clean(site):
    adopt, again = site.outputs["adopt"], site.outputs["adopt again"]
    assert adopt.returncode == 0, adopt.stderr
    assert "Done. Now run `manage.py migrate`." in adopt.stdout
    assert again.returncode == 0 and again.stdout.startswith("Nothing to do"), again.stdout
    migrate = site.outputs["migrate after"]
    assert migrate.returncode == 0, migrate.stderr
    assert "No migrations to apply." in migrate.stdout
    check = site.outputs["check after"]
    assert check.returncode == 0, check.stderr
    assert "source_oauth." not in check.stderr + check.stdout
    assert set(site.adopted["source_oauth_migrations"]) >= {
        "0001_initial",
        "0006_require_pkce_and_auth_throttling",
    }


def test_each_application_becomes_an_api_client_with_its_ids_and_settings(site):
    clients = site.adopted["clients"]
    expected = {
        # name: confidential, third party, grant types
        "Web app": (True, False, ["authorization_code", "refresh_token"]),
        "Partner portal": (True, True, ["authorization_code", "refresh_token"]),
        "Mobile app": (False, False, ["authorization_code", "refresh_token"]),
        "Backend service": (True, False, ["client_credentials"]),
        "Legacy integration": (True, False, ["client_credentials"]),
        "Old password app": (True, False, ["refresh_token"]),
        "Implicit SPA": (False, True, []),
    }
    for name, (confidential, third_party, grant_types) in expected.items():
        client, before = clients[name], site.credentials[name]
        assert (client["pk"], client["client_id"]) == (before["pk"], before["client_id"])
        assert (client["confidential"], client["third_party"]) == (confidential, third_party)
        assert client["grant_types"] == grant_types, name
        assert client["scopes"] == ["profile:email", "read", "write"], name
        assert client["user"] == "alice" and client["require_pkce"] is True
    assert clients["Web app"]["redirect_uris"] == "https://web.example.com/cb"
    assert clients["Web app"]["allowed_origins"] == "https://web.example.com"
    # DOT gives public applications a secret too; an API client that is public has none.
    assert clients["Mobile app"]["client_secret"] == clients["Implicit SPA"]["client_secret"] == ""
    # The product's own scopes and default client come after, numbered after the adopted ones.
    default = next(c for c in clients.values() if c["is_default"])
    assert default["pk"] > max(c["pk"] for c in site.credentials.values())
    assert site.adopted["scopes"]["read"] == "Read your data"
    assert site.adopted["scopes"]["profile:email"] == "See your email address"
    assert "content:read" in site.adopted["scopes"]


def test_tokens_point_at_the_api_client_table_and_are_stored_as_checksums(site):
    assert site.adopted["application_fk"] == {t: ["source_oauth_apiclient"] for t in DOT_TABLES}
    assert site.adopted["plain_tokens"] == 0


def test_secrets_are_kept_hashed_as_dot_hashed_them_until_first_use(site):
    clients = site.adopted["clients"]
    for name in ("Web app", "Backend service", "Old password app"):
        assert clients[name]["client_secret"] == site.credentials[name]["stored_secret"]
        assert clients[name]["client_secret"].startswith("pbkdf2_sha256$")
    # A secret DOT kept in plain text is hashed at adoption: never stored plainly here.
    plain = site.credentials["Legacy integration"]["client_secret"]
    assert clients["Legacy integration"]["client_secret"] == sha256(plain)


def sha256(secret: str) -> str:
    return "sha256$" + hashlib.sha256(secret.encode()).hexdigest()


def read_api(base: str, access_token: str) -> requests.Response:
    return requests.get(
        f"{base}/api/hello/", headers={"Authorization": f"Bearer {access_token}"}, timeout=30
    )


def test_access_tokens_issued_before_still_read_the_api(site):
    assert site.outputs["stock API"] == dict.fromkeys(site.tokens, 200)
    for name, token in site.tokens.items():
        response = read_api(site.url, token["access_token"])
        assert response.status_code == 200, (name, response.text)
        assert response.json()["client_id"] == site.credentials[name]["client_id"]
    assert read_api(site.url, "not-a-token").status_code == 403


@pytest.mark.parametrize(
    ("name", "path"),
    [("Web app", "/o/token/"), ("Mobile app", "/oauth/token"), ("Old password app", "/o/token")],
)
def test_refresh_tokens_issued_before_keep_refreshing(site, name, path):
    refresh = {"grant_type": "refresh_token", "refresh_token": site.tokens[name]["refresh_token"]}
    renewed = token_request(site.url + path, refresh, site.client(name))
    assert read_api(site.url, renewed["access_token"]).status_code == 200
    again = {"grant_type": "refresh_token", "refresh_token": renewed["refresh_token"]}
    assert token_request(site.url + "/oauth/token", again, site.client(name))["access_token"]
    # Rotation: the refresh token used first is spent.
    assert post_token(site.url + "/oauth/token", refresh, site.client(name)).status_code == 400


def test_a_hashed_secret_gets_a_token_and_is_rehashed_at_its_first_use(site):
    client = site.client("Backend service")
    grant = {"grant_type": "client_credentials", "scope": "read"}
    token = token_request(f"{site.url}/oauth/token", grant, client)
    assert read_api(site.url, token["access_token"]).status_code == 200
    stored = snapshot(ADOPTED, site.env)["clients"]["Backend service"]["client_secret"]
    assert stored == sha256(client["client_secret"])
    assert token_request(f"{site.url}/o/token/", grant, client)["access_token"]
    wrong = {**client, "client_secret": "wrong"}
    assert post_token(f"{site.url}/oauth/token", grant, wrong).status_code == 401


def test_a_secret_dot_stored_in_plain_text_gets_a_token(site):
    grant = {"grant_type": "client_credentials"}
    token = token_request(f"{site.url}/oauth/token", grant, site.client("Legacy integration"))
    assert token["scope"] == "profile:email read write"


def test_an_adopted_client_runs_a_new_authorization_code_flow(site):
    token = authorization_code_tokens(
        site.url,
        site.client("Web app"),
        "https://web.example.com/cb",
        authorize="/oauth/authorize",
        token="/oauth/token",
        scope="read",
    )
    assert read_api(site.url, token["access_token"]).json()["user"] == "alice"
    metadata = requests.get(f"{site.url}/.well-known/oauth-authorization-server", timeout=30)
    assert metadata.json()["token_endpoint"] == f"{site.url}/oauth/token"


# --- states the command refuses, and a failure half way ---------------------------------


def test_refuses_a_state_it_was_not_made_for_and_rolls_back_a_failure():
    with host_database("dothost_refusals") as url:
        env = host_env(url)

        def adopt(settings: str = ADOPTED, *args: str) -> Any:
            return manage(settings, "adopt_oauth_toolkit", *args, env=env, check=False)

        fresh = adopt()
        assert fresh.returncode == 0 and fresh.stdout.startswith("Nothing to adopt"), fresh
        manage(STOCK, "migrate", "oauth2_provider", "0010", "-v", "0", env=env)
        partial = adopt()
        assert partial.returncode == 1 and "0011_refreshtoken_token_family" in partial.stderr
        assert "manage.py migrate oauth2_provider" in partial.stderr
        manage(STOCK, "migrate", "-v", "0", env=env)
        manage(STOCK, "seed_dot_host", env=env)
        unswitched = adopt(UNSWITCHED)
        assert unswitched.returncode == 1
        assert 'OAUTH2_PROVIDER_APPLICATION_MODEL must be "source_oauth.ApiClient"' in (
            unswitched.stderr
        )

        manage(STOCK, "shell", "-v", "0", "-c", ORPHAN_TOKEN, env=env)
        orphan = adopt()
        assert orphan.returncode == 1 and "1 row(s) of oauth2_provider_accesstoken" in orphan.stderr
        manage(STOCK, "shell", "-v", "0", "-c", DELETE_ORPHAN, env=env)

        failing = manage(ADOPTED, "shell", "-v", "0", "-c", FAIL_AT_THE_END, env=env, check=False)
        assert failing.returncode != 0 and "failure injected" in failing.stderr
        state = snapshot_before_adoption(env)
        assert state == {"source_oauth_migrations": [], "source_oauth_tables": []}, state
        assert "source_oauth.E006" in manage(ADOPTED, "check", env=env, check=False).stderr

        done = adopt()
        assert done.returncode == 0 and "Done." in done.stdout, done.stderr


ORPHAN_TOKEN = """
from datetime import timedelta
from django.db import connection
from django.utils import timezone
from oauth2_provider.models import AccessToken
if connection.vendor == "sqlite":
    connection.disable_constraint_checking()
else:
    connection.cursor().execute("SET session_replication_role = replica")
AccessToken.objects.create(
    token="orphan", application_id=9999, expires=timezone.now() + timedelta(hours=1)
)
"""
DELETE_ORPHAN = """
from oauth2_provider.models import AccessToken
AccessToken.objects.filter(application_id=9999).delete()
"""
FAIL_AT_THE_END = """
from unittest import mock
from django.core.management import call_command
from source_oauth.adoption import run
with mock.patch.object(run, "_finish", side_effect=RuntimeError("failure injected")):
    call_command("adopt_oauth_toolkit")
"""


def snapshot_before_adoption(env: dict[str, str]) -> dict[str, list[str]]:
    code = """
import json
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
print(json.dumps({
    "source_oauth_migrations": sorted(
        n for a, n in MigrationRecorder(connection).applied_migrations() if a == "source_oauth"
    ),
    "source_oauth_tables": sorted(
        t for t in connection.introspection.table_names() if t.startswith("source_oauth")
    ),
}))
"""
    return json.loads(manage(STOCK, "shell", "-v", "0", "-c", code, env=env).stdout)
