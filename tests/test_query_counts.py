"""Exact SQL statement counts of the token endpoint (issue #7 budget: at most 3).

A warm request (its client in the client cache) costs one statement, the
INSERT of the token; a cold one three.

Counted with ``transactional_db``, as in production: each request runs in
autocommit mode, so DOT's ``atomic()`` is a real transaction, not the
SAVEPOINT it becomes inside a test-case transaction.
"""

from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.oauth_helpers import basic, new_client

FORM = "application/x-www-form-urlencoded"


@pytest.fixture(autouse=True)
def setup(transactional_db):
    from django.apps import apps

    from source_oauth.catalog import ensure_catalog

    ensure_catalog(apps)
    cache.clear()


def token_request(client, api_client, secret, scope="content:read", urlencoded=False):
    data = {"grant_type": "client_credentials", "scope": scope}
    # The test client's default is multipart; a load generator sends URL-encoded bodies.
    body = {"data": urlencode(data), "content_type": FORM} if urlencoded else {"data": data}
    return client.post(
        "/oauth/token", **body, HTTP_AUTHORIZATION=basic(api_client.client_id, secret)
    )


ENCODINGS = pytest.mark.parametrize("urlencoded", [False, True], ids=["multipart", "urlencoded"])


@ENCODINGS
def test_client_credentials_token_request_costs_one_statement_warm(client, urlencoded):
    api_client, secret = new_client(scopes=["content:read", "content:write"])
    cache.clear()  # as if the client had been created a while ago (see shared_cache)
    token_request(client, api_client, secret, urlencoded=urlencoded)  # caches the client
    with CaptureQueriesContext(connection) as queries:
        response = token_request(client, api_client, secret, urlencoded=urlencoded)
    assert response.status_code == 200
    statements = [q["sql"] for q in queries.captured_queries]
    # The new access token; no client lookup, no transaction statements.
    assert len(statements) == 1, statements
    assert statements[0].startswith('INSERT INTO "oauth2_provider_accesstoken"')


@ENCODINGS
def test_client_credentials_token_request_costs_three_statements_cold(client, urlencoded):
    api_client, secret = new_client(scopes=["content:read", "content:write"])
    cache.clear()
    token_request(client, api_client, secret, scope="content:write")  # warms up the process
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        response = token_request(client, api_client, secret, urlencoded=urlencoded)
    assert response.status_code == 200
    statements = [q["sql"] for q in queries.captured_queries]
    # The client, its allowed scopes, the new access token; no transaction statements.
    assert len(statements) == 3, statements
    assert "source_oauth_apiclient" in statements[0]
    assert statements[2].startswith("INSERT")


def test_failed_client_authentication_costs_two_statements(client):
    api_client, _ = new_client()
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            "/oauth/token",
            {"grant_type": "client_credentials"},
            HTTP_AUTHORIZATION=basic(api_client.client_id, "wrong"),
        )
    assert response.status_code == 401
    assert len(queries.captured_queries) == 2


def test_revoking_an_access_token_costs_what_dot_needs_and_two_records(client):
    """The token is looked up once, by DOT: which kinds were revoked comes from its signals."""
    api_client, secret = new_client(scopes=["content:read"])
    cache.clear()  # as if the client had been created a while ago (see shared_cache)
    token = token_request(client, api_client, secret).json()["access_token"]  # caches it
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            "/oauth/revoke",
            data=urlencode({"token": token}),
            content_type=FORM,
            HTTP_AUTHORIZATION=basic(api_client.client_id, secret),
        )
    assert response.status_code == 200
    statements = [q["sql"].split(" WHERE ")[0] for q in queries.captured_queries]
    assert [sql.split()[0] for sql in statements] == [
        "SELECT",  # DOT: the access token of this client with this checksum
        "SELECT",  # DOT: its refresh token, if any
        "BEGIN",  # Django's deletion, one transaction:
        "UPDATE",  # refresh tokens pointing at it SET_NULL,
        "DELETE",  # the token deleted (DOT's revocation),
        "INSERT",  # the revoked token remembered for the admin
        "COMMIT",
        "INSERT",  # the audit event
    ], statements
    assert '"source_oauth_revokedaccesstoken"' in statements[-3]
    assert '"source_oauth_auditevent"' in statements[-1]
    from source_oauth.models import AuditEvent

    event = AuditEvent.objects.get(action=AuditEvent.Action.TOKEN_REVOKED)
    assert event.detail["tokens"] == ["access_token"]
