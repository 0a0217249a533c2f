"""Redis killed, restarted with its data, or frozen, under two gunicorn servers.

The servers share the test database and a Redis of this test's own (its
data kept on disk, so a restart brings back what was cached before). They
run the example settings: django-redis with short timeouts, and each
process's copy of tokens and clients kept by pub/sub.
"""

from __future__ import annotations

import time

import pytest
import requests
from django.apps import apps as django_apps
from oauth2_provider.models import get_access_token_model

from source_oauth.cache import process
from source_oauth.cache.shared import EPOCH_KEY
from source_oauth.cache.tokens import key as token_key
from source_oauth.catalog import ensure_catalog
from source_oauth.models import AuditEvent
from source_oauth.validator import checksum
from tests.conftest import server_env
from tests.oauth_helpers import issued_token
from tests.own_services import Gunicorn, OwnRedis, wait_until

AccessToken = get_access_token_model()
PREFIX = ":1:"  # django-redis's key prefix (version 1)


@pytest.fixture
def own_redis():
    server = OwnRedis(persistent=True)
    server.start()
    yield server
    server.close()


@pytest.fixture
def servers(transactional_db, own_redis):
    """Two gunicorn servers (one sync worker each) on the test database and ``own_redis``."""
    ensure_catalog(django_apps)
    env = {**server_env(), "REDIS_URL": own_redis.url, "DJANGO_DEBUG": "0"}
    started = []
    try:
        for _ in range(2):
            started.append(Gunicorn(env))
        yield started
    finally:
        for server in started:
            server.close()


def get(server: Gunicorn, token: str, method: str = "GET") -> int:
    response = requests.request(
        method, f"{server.url}/api/articles/", headers={"Authorization": f"Bearer {token}"}
    )
    return response.status_code


def token_status(server: Gunicorn, client_id: str, secret: str) -> int:
    response = requests.post(
        f"{server.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )
    return response.status_code


def revoke(server: Gunicorn, client_id: str, secret: str, token: str) -> requests.Response:
    return requests.post(
        f"{server.url}/oauth/revoke", data={"token": token}, auth=(client_id, secret)
    )


def epoch(own_redis: OwnRedis) -> bytes | None:
    return own_redis.client().get(PREFIX + EPOCH_KEY)


def refuse_until_cached_again(servers, own_redis: OwnRedis, revoked: str) -> None:
    """Wait until both servers cache tokens in Redis again, the revoked one refused meanwhile."""

    def cached_again() -> bool:
        # Every request meanwhile refuses the revoked token, whichever way it is served.
        assert [get(server, revoked) for server in servers] == [401, 401]
        _, _, probe = issued_token(servers[0].url)
        return all(get(server, probe) == 200 for server in servers) and own_redis.client().exists(
            PREFIX + token_key(checksum(probe))
        )

    wait_until(cached_again, "the servers cache tokens in Redis again")


def assert_quiet_logs(servers, *, failures_seen: bool = True) -> None:
    """A line or two per outage and process, not a traceback per request."""
    for server in servers:
        output = server.output()
        assert "Traceback" not in output, output
        lines = [line for line in output.splitlines() if "shared cache" in line]
        assert len(lines) <= 4, output
        assert lines or not failures_seen, output


def test_redis_killed_then_restarted_with_its_data(servers, own_redis):
    first, second = servers
    api_client, secret, token = issued_token(first.url)
    client_id = api_client.client_id
    for server in servers:
        assert get(server, token) == get(server, token) == 200  # cached: Redis and copies
    entry = PREFIX + token_key(checksum(token))
    assert own_redis.client().exists(entry)
    before = epoch(own_redis)

    own_redis.kill()
    for server in servers:
        assert token_status(server, client_id, secret) == 200
        assert get(server, token) == 200
        assert get(server, token, "OPTIONS") == 200
    _, _, fresh = issued_token(second.url)
    assert get(first, fresh) == 200

    revoked = revoke(first, client_id, secret, token)
    assert revoked.status_code == 200
    assert not AccessToken.objects.filter(token_checksum=checksum(token)).exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TOKEN_REVOKED).exists()
    for server in servers * 3:
        assert get(server, token) == 401

    # Rate limiting goes on in each process: past AUTH_FAILURE_LIMIT (10), 429.
    statuses = [token_status(first, client_id, "wrong") for _ in range(11)]
    assert statuses == [401] * 10 + [429]
    assert token_status(first, client_id, secret) == 200

    own_redis.start()  # from its append-only file: the revoked token's entry is back
    assert own_redis.client().exists(entry)

    refuse_until_cached_again(servers, own_redis, token)
    assert epoch(own_redis) != before
    for server in servers * 3:
        assert get(server, token) == 401
    assert_quiet_logs(servers)


def test_redis_frozen_stops_every_copy_and_the_cache(servers, own_redis):
    first, second = servers
    api_client, secret, token = issued_token(first.url)
    for server in servers:
        assert get(server, token) == get(server, token) == 200  # in each process's copy
    entry = PREFIX + token_key(checksum(token))

    own_redis.freeze()  # no socket closes: the processes must notice the silence
    time.sleep(process.TRUST_SECONDS + 0.2)
    assert revoke(first, api_client.client_id, secret, token).status_code == 200
    assert not AccessToken.objects.filter(token_checksum=checksum(token)).exists()
    for server in (second, first, second):
        assert get(server, token) == 401

    own_redis.thaw()
    assert own_redis.client().exists(entry)  # never forgotten in Redis, and still refused

    refuse_until_cached_again(servers, own_redis, token)
    # A process that only found Redis silent stopped using its copy without a failed call.
    assert_quiet_logs(servers, failures_seen=False)
