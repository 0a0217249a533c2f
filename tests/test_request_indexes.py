"""Every statement a request runs finds its rows through an index (issue #16).

The cost of a request must not grow with the token tables. Each request of
the token endpoint, introspection, revocation and a protected API call runs
here with the caches cold (the path with the most SQL), its statements are
captured, and each one that reads a table that grows with traffic is
EXPLAINed: no full scan of such a table. On PostgreSQL sequential scans are
switched off for the EXPLAIN, so the plan shows whether an index *can* serve
the statement, whatever the planner picks for a test's few rows.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from source_oauth.models import (
    AuditEvent,
    ConsentRecord,
    RedeemedCode,
    RevokedAccessToken,
)

from .oauth_helpers import REDIRECT_URI, basic, new_client, pkce_pair, web_client

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
Grant = get_grant_model()

GROWING_TABLES = [
    model._meta.db_table
    for model in (
        AccessToken,
        RefreshToken,
        Grant,
        get_id_token_model(),
        RedeemedCode,
        AuditEvent,
        RevokedAccessToken,
        ConsentRecord,
    )
]


@pytest.fixture(autouse=True)
def _catalog(catalog):
    cache.clear()


def full_scans(statements: list[str]) -> list[tuple[str, str]]:
    """(statement, plan) of each statement that reads a growing table without an index."""
    found = []
    for sql in statements:
        if not sql.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
            continue
        tables = [table for table in GROWING_TABLES if f'"{table}"' in sql]
        if not tables:
            continue
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SAVEPOINT explain")
                cursor.execute("SET LOCAL enable_seqscan = off")
                cursor.execute(f"EXPLAIN {sql}")
                plan = "\n".join(row[0] for row in cursor.fetchall())
                cursor.execute("ROLLBACK TO SAVEPOINT explain")
                scans = [t for t in tables if f"Seq Scan on {t}" in plan]
            else:
                cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
                rows = [str(row[-1]) for row in cursor.fetchall()]
                plan = "\n".join(rows)
                scans = [
                    t for t in tables for row in rows if f"SCAN {t}" in row and "USING" not in row
                ]
        if scans:
            found.append((sql, plan))
    return found


def statements_of(request) -> list[str]:
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        response = request()
    assert response.status_code == 200, response.content
    return [query["sql"] for query in queries.captured_queries]


@pytest.mark.django_db
def test_issuance_introspection_api_call_and_revocation_use_indexes(client):
    api_client, secret = new_client(scopes=["content:read"])
    auth = basic(api_client.client_id, secret)

    def issue():
        return client.post(
            "/oauth/token", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=auth
        )

    assert not full_scans(statements_of(issue))
    token = issue().json()["access_token"]

    def introspect():
        return client.post("/oauth/introspect", {"token": token}, HTTP_AUTHORIZATION=auth)

    def api_call():
        return client.get("/api/articles/", HTTP_AUTHORIZATION=f"Bearer {token}")

    def revoke():
        return client.post("/oauth/revoke", {"token": token}, HTTP_AUTHORIZATION=auth)

    assert introspect().json()["active"] is True
    assert not full_scans(statements_of(introspect))
    assert not full_scans(statements_of(api_call))
    assert not full_scans(statements_of(revoke))
    assert AccessToken.objects.count() == 1  # of the two issued, the revoked one is gone


@pytest.mark.django_db
def test_code_redemption_and_refresh_use_indexes(client, user):
    api_client, secret = web_client()
    auth = basic(api_client.client_id, secret)
    verifier, challenge = pkce_pair()

    def grant(code: str) -> None:
        Grant.objects.create(
            application=api_client,
            user=user,
            code=code,
            expires=timezone.now() + timedelta(minutes=1),
            redirect_uri=REDIRECT_URI,
            scope="content:read",
            code_challenge=challenge,
            code_challenge_method="S256",
        )

    grant("the-code")

    def redeem(code="the-code"):
        return client.post(
            "/oauth/token",
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
            HTTP_AUTHORIZATION=auth,
        )

    statements = statements_of(redeem)
    assert not full_scans(statements)
    refresh_token = RefreshToken.objects.get(application=api_client)
    assert refresh_token.revoked is None

    # The refresh token's value is not stored: take it from a second, fresh redemption.
    grant("another-code")
    issued = redeem("another-code").json()

    def refresh():
        return client.post(
            "/oauth/token",
            {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]},
            HTTP_AUTHORIZATION=auth,
        )

    assert not full_scans(statements_of(refresh))


@pytest.mark.django_db
def test_a_full_scan_is_seen():
    table = AccessToken._meta.db_table
    assert full_scans([f'SELECT "id" FROM "{table}" WHERE "scope" = \'x\''])
    assert not full_scans([f'SELECT "id" FROM "{table}" WHERE "id" = 1'])
