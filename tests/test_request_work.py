"""The work a hot request does: exact SQL counts, and what is skipped when nothing reads it.

Issue 16 asks the two busiest requests, token issuance (client_credentials)
and a protected GET whose token is cached, to do only what decides them.
Never a timing here: counts of statements, of calls, of reads.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import timedelta
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest
from django.test.utils import CaptureQueriesContext
from django.urls import include, path
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, set_token_value
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import UNICODE_ASCII_CHARACTER_SET
from rest_framework.response import Response
from rest_framework.views import APIView

from source_oauth import permissions, tokens
from source_oauth.authentication import BearerAuthentication
from source_oauth.permissions import HasScopes
from source_oauth.scopes import all_scopes
from tests.oauth_helpers import basic, new_client

AccessToken = get_access_token_model()
ITEMS = [{"id": 1, "title": "Item 1"}]


class ItemsView(APIView):
    """Like the benchmark's protected view: it never reads ``request.user``."""

    authentication_classes = [BearerAuthentication]
    permission_classes = [HasScopes.of(read=["content:read"])]

    def get(self, request):
        return Response(ITEMS)


class BothScopesView(ItemsView):
    permission_classes = [HasScopes.of("content:read", "content:write")]


urlpatterns = [
    path("items/", ItemsView.as_view()),
    path("both/", BothScopesView.as_view()),
    path("", include("example_project.urls")),
]

pytestmark = pytest.mark.urls(__name__)


@pytest.fixture(autouse=True)
def setup(transactional_db):
    from django.apps import apps

    from source_oauth.catalog import ensure_catalog

    ensure_catalog(apps)
    cache.clear()
    all_scopes()  # the scope catalogue has its own cache entry, loaded once per process


def token_request(client, api_client, secret):
    # As a load generator sends it: URL-encoded, credentials in HTTP Basic.
    return client.post(
        "/oauth/token",
        "grant_type=client_credentials&scope=content%3Aread",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic(api_client.client_id, secret),
    )


def stored_token(api_client, raw: str, **fields) -> str:
    token = AccessToken(
        application=api_client,
        scope=fields.pop("scope", "content:read"),
        expires=timezone.now() + timedelta(hours=1),
        **fields,
    )
    set_token_value(token, raw)
    token.save()
    return raw


def get(client, url: str, raw: str | None = None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"} if raw else {}
    return client.get(url, **headers)


# --- protected GET (token issuance's statements: tests/test_query_counts.py) ----------


def test_warm_protected_get_is_free_and_a_cold_one_is_one_select(client):
    api_client, _ = new_client()
    raw = stored_token(api_client, "cold-token-value-0123456789")
    with CaptureQueriesContext(connection) as cold:
        assert get(client, "/items/", raw).status_code == 200
    with CaptureQueriesContext(connection) as warm:
        response = get(client, "/items/", raw)
    assert response.status_code == 200
    assert response.json() == ITEMS
    statements = [query["sql"] for query in cold.captured_queries]
    assert len(statements) == 1, statements
    assert 'FROM "oauth2_provider_accesstoken"' in statements[0]
    assert warm.captured_queries == []


def test_an_issued_token_is_served_warm_without_a_query(client):
    api_client, secret = new_client()
    cache.clear()
    raw = token_request(client, api_client, secret).json()["access_token"]
    get(client, "/items/", raw)
    with CaptureQueriesContext(connection) as warm:
        assert get(client, "/items/", raw).status_code == 200
    assert warm.captured_queries == []


def test_the_absolute_uri_is_not_built_for_an_unrestricted_token(client):
    """DOT compares the URI with a token's audiences (RFC 8707); most tokens have none."""
    api_client, _ = new_client()
    raw = stored_token(api_client, "unrestricted-token-0123456789")
    with mock.patch.object(
        HttpRequest, "build_absolute_uri", autospec=True, side_effect=HttpRequest.build_absolute_uri
    ) as built:
        assert get(client, "/items/", raw).status_code == 200
    assert built.call_count == 0


def test_an_audience_restricted_token_is_still_checked_against_the_uri(client):
    api_client, _ = new_client()
    here = stored_token(api_client, "audience-here-0123456789", resource=["http://testserver/"])
    there = stored_token(api_client, "audience-there-0123456789", resource=["https://x.test/"])
    with mock.patch.object(
        HttpRequest, "build_absolute_uri", autospec=True, side_effect=HttpRequest.build_absolute_uri
    ) as built:
        assert get(client, "/items/", here).status_code == 200
    assert [call.args[1] for call in built.call_args_list] == ["/items/"]  # without the query
    response = get(client, "/items/", there)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_the_validator_gets_oauthlibs_defaults_and_sets_the_usual_attributes(client):
    api_client, _ = new_client()
    raw = stored_token(api_client, "attributes-token-0123456789")
    seen = {}
    original = oauth2_settings.OAUTH2_VALIDATOR_CLASS.validate_bearer_token

    def spy(self, token, scopes, request):
        seen["before"] = (request.client_id, request.scopes, request.http_method, request.body)
        result = original(self, token, scopes, request)
        seen["after"] = (request.client, request.access_token, request.scopes)
        return result

    with mock.patch.object(oauth2_settings.OAUTH2_VALIDATOR_CLASS, "validate_bearer_token", spy):
        assert get(client, "/items/", raw).status_code == 200
    assert seen["before"] == (None, None, "GET", None)
    found_client, found_token, found_scopes = seen["after"]
    assert found_client.pk == api_client.pk
    assert found_token.token_checksum == AccessToken.objects.get().token_checksum
    assert found_scopes == ["content:read"]


def test_a_token_in_the_query_string_is_still_refused(client):
    api_client, _ = new_client()
    raw = stored_token(api_client, "query-token-0123456789")
    response = client.get(f"/items/?access_token={raw}")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_request"
    assert get(client, "/items/?page=2", raw).status_code == 200  # another query is fine


def test_a_tokenless_request_reads_the_default_clients_scopes_once(client):
    with mock.patch.object(
        permissions, "_default_client_scopes", wraps=permissions._default_client_scopes
    ) as read:
        response = get(client, "/both/")
    # The default client has content:read only: refused, and without a token DRF says 401.
    assert response.status_code == 401
    assert read.call_count == 1


# --- token values -----------------------------------------------------------------


def test_a_token_value_has_oauthlibs_format():
    values = {tokens.generate_token() for _ in range(200)}
    assert len(values) == 200
    for value in values:
        assert len(value) == 30
        assert set(value) <= set(UNICODE_ASCII_CHARACTER_SET)


def test_a_token_value_costs_one_read_of_randomness(monkeypatch):
    reads = []
    real_urandom = os.urandom

    def urandom(size):
        reads.append(size)
        return real_urandom(size)

    monkeypatch.setattr(tokens.os, "urandom", urandom)
    tokens.generate_token(None)
    tokens.generate_token(None, refresh_token=True)
    assert reads == [38, 38]


def test_bytes_that_would_bias_the_characters_are_dropped(monkeypatch):
    # 248 and above would make the first 8 characters likelier: dropped, and topped up.
    reads = iter([bytes([255] * 30 + [0] * 8), bytes(range(38))])
    monkeypatch.setattr(tokens.os, "urandom", lambda size: next(reads))
    value = tokens.generate_token()
    assert value == "a" * 8 + UNICODE_ASCII_CHARACTER_SET[:22]


def test_every_character_is_drawn():
    counts = Counter("".join(tokens.generate_token() for _ in range(2000)))
    assert set(counts) == set(UNICODE_ASCII_CHARACTER_SET)


def test_token_response_is_json_with_the_new_value(client):
    api_client, secret = new_client()
    body = json.loads(token_request(client, api_client, secret).content)
    assert body["token_type"] == "Bearer"
    assert len(body["access_token"]) == 30


def test_the_server_issues_tokens_from_this_generator():
    from oauth2_provider.settings import oauth2_settings

    assert oauth2_settings.ACCESS_TOKEN_GENERATOR is tokens.generate_token
    assert oauth2_settings.REFRESH_TOKEN_GENERATOR is tokens.generate_token
