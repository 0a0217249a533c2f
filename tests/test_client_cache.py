"""The client cache: a warm token request loads no client, and every change is seen at once."""

import base64
import json
import subprocess
import sys
from datetime import timedelta

import pytest
import redis
import requests
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from source_oauth.cache import clients as client_cache
from source_oauth.cache import shared as shared_cache
from source_oauth.clients import rotate_client_secret
from source_oauth.models import ApiClient, Scope
from tests.conftest import REDIS_URL, ROOT, server_env
from tests.oauth_helpers import new_client


@pytest.fixture
def cached_client(catalog):
    """A confidential client with a secret, already in the client cache."""
    api_client, secret = new_client(scopes=["content:read", "content:write"])
    cache.clear()  # as if it had been created a while ago (see shared_cache)
    assert client_cache.get_client(api_client.client_id) is not None
    assert is_cached(api_client)
    return api_client, secret


def is_cached(api_client):
    return shared_cache.read(client_cache.key(api_client.client_id)) is not None


def token(client, api_client, secret, scope="content:read"):
    basic = base64.b64encode(f"{api_client.client_id}:{secret}".encode()).decode()
    return client.post(
        "/oauth/token",
        {"grant_type": "client_credentials", "scope": scope},
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )


def test_a_cached_client_costs_no_query_and_keeps_its_scopes(cached_client):
    api_client, _ = cached_client
    with CaptureQueriesContext(connection) as queries:
        loaded = client_cache.get_client(api_client.client_id)
    assert len(queries.captured_queries) == 0
    assert loaded.pk == api_client.pk
    assert loaded.allowed_scope_names == ["content:read", "content:write"]


def test_unknown_client_ids_are_not_cached(db):
    assert client_cache.get_client("no-such-client") is None
    assert shared_cache.read(client_cache.key("no-such-client")) is None


def test_a_regenerated_secret_works_at_once_and_the_old_one_stops(client, cached_client):
    api_client, old_secret = cached_client
    assert token(client, api_client, old_secret).status_code == 200
    new_secret = rotate_client_secret(api_client, overlap=timedelta(0)).client_secret
    assert not is_cached(api_client)
    assert token(client, api_client, new_secret).status_code == 200
    response = token(client, api_client, old_secret)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_a_removed_scope_is_refused_at_once(client, cached_client):
    api_client, secret = cached_client
    assert token(client, api_client, secret, "content:write").status_code == 200
    api_client.allowed_scopes.remove(Scope.objects.get(name="content:write"))
    assert not is_cached(api_client)
    response = token(client, api_client, secret, "content:write")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_a_scope_deleted_or_detached_from_its_side_is_refused_at_once(client, cached_client):
    api_client, secret = cached_client
    Scope.objects.get(name="content:write").api_clients.clear()
    assert not is_cached(api_client)
    assert token(client, api_client, secret, "content:write").json()["error"] == "invalid_scope"
    client_cache.get_client(api_client.client_id)
    Scope.objects.filter(name="content:read").delete()
    assert not is_cached(api_client)
    assert token(client, api_client, secret, "content:read").json()["error"] == "invalid_scope"


def test_a_disabled_grant_is_refused_at_once(client, cached_client):
    api_client, secret = cached_client
    api_client.grant_types = [ApiClient.GrantType.AUTHORIZATION_CODE]
    api_client.redirect_uris = "https://app.example.com/callback"
    api_client.save()
    response = token(client, api_client, secret)
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


def test_a_deleted_client_is_refused_at_once(client, cached_client):
    api_client, secret = cached_client
    api_client.delete()
    assert token(client, api_client, secret).status_code == 401


def test_a_row_loaded_before_a_change_is_not_cached_after_it(cached_client):
    """The race the tombstones close: load, change and forget, then cache what was loaded."""
    api_client, _ = cached_client
    cache.clear()
    stale = ApiClient.objects.get(pk=api_client.pk)  # a request loads the row ...
    rotate_client_secret(api_client)  # ... an admin changes it, which forgets it ...
    shared_cache.remember(client_cache.key(api_client.client_id), stale, 300)  # ... too late
    assert not is_cached(api_client)


def test_cache_can_be_disabled(cached_client, settings, client):
    settings.SOURCE_OAUTH = {"CLIENT_CACHE_SECONDS": 0}
    api_client, secret = cached_client
    cache.clear()
    assert token(client, api_client, secret).status_code == 200
    assert not is_cached(api_client)


def test_a_secret_rotated_by_a_command_is_honoured_at_once_by_every_server(two_servers):
    """Both servers cache the client in Redis; the command's rotation reaches both."""
    first, second = two_servers
    api_client, secret = new_client(scopes=["content:read"])
    form = {"grant_type": "client_credentials"}
    for server in (first, second):
        response = requests.post(
            f"{server}/oauth/token", data=form, auth=(api_client.client_id, secret)
        )
        assert response.status_code == 200
    # Both servers now share the client's cache entry (django-redis's key format).
    shared = redis.Redis.from_url(REDIS_URL)
    assert shared.exists(":1:" + client_cache.key(api_client.client_id))

    rotated = subprocess.run(
        [sys.executable, "manage.py", "rotate_client_secret", api_client.client_id, "--json"],
        cwd=ROOT,
        env=server_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    new_secret = json.loads(rotated.stdout)["client_secret"]
    for server in (first, second):
        response = requests.post(
            f"{server}/oauth/token", data=form, auth=(api_client.client_id, new_secret)
        )
        assert response.status_code == 200, response.text
    # The old secret stays valid for the rotation overlap, on both servers too.
    response = requests.post(
        f"{second}/oauth/token", data=form, auth=(api_client.client_id, secret)
    )
    assert response.status_code == 200
