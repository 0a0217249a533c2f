"""Each process's copy of tokens and clients: no round trip when warm, exact through pub/sub."""

import gc
import time

import pytest
import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext

from source_oauth.cache import process as process_cache
from source_oauth.cache import shared as shared_cache
from source_oauth.cache import tokens as token_cache
from source_oauth.cache.process import ProcessCache
from source_oauth.validator import checksum
from tests.conftest import REDIS_URL
from tests.oauth_helpers import issued_token, new_client
from tests.test_token_cache import issue

redis = pytest.importorskip("redis")


@pytest.fixture
def redis_server():
    server = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        server.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"Redis is not running at {REDIS_URL}")
    return server


@pytest.fixture
def enabled(redis_server, settings):
    settings.SOURCE_OAUTH = {"PROCESS_CACHE_REDIS_URL": REDIS_URL}
    yield process_cache.current()
    process_cache._instance = None


def confirmed(cache):
    """A cache whose subscription Redis has confirmed (the first read waits for nothing)."""
    # A deadline, not a number of tries: on a busy machine the listening thread may wait
    # a while for a CPU.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if cache.get("any") is None and cache.confirmed:
            return cache
        time.sleep(0.01)
    raise AssertionError("the subscription was never confirmed")


@pytest.fixture
def two_processes(redis_server):
    """Two process caches on one Redis, as two workers would have."""
    first, second = ProcessCache(REDIS_URL), ProcessCache(REDIS_URL)
    yield confirmed(first), confirmed(second)
    for cache in (first, second):
        cache._drop()


def test_a_forgotten_key_is_dropped_by_every_process_at_once(two_processes):
    first, second = two_processes
    first.put("source_oauth:token:abc", "token")
    second.put("source_oauth:token:abc", "token")
    second.put("source_oauth:token:other", "other")
    first.publish(["source_oauth:token:abc"])
    # No wait: publish() returns once Redis has written the message to both.
    assert first.get("source_oauth:token:abc") is None
    assert second.get("source_oauth:token:abc") is None
    assert second.get("source_oauth:token:other") == "other"


def test_a_lost_subscription_drops_the_whole_copy(two_processes, redis_server):
    first, _ = two_processes
    first.put("source_oauth:token:abc", "token")
    assert first.get("source_oauth:token:abc") == "token"
    # Messages published while it is disconnected would be lost: nothing can be trusted.
    redis_server.client_kill_filter(_type="pubsub")
    assert first.get("source_oauth:token:abc") is None
    assert first.entries == {}


def test_a_quiet_subscription_costs_one_poll_and_no_read(two_processes, monkeypatch):
    """redis-py's can_read (a non-blocking recv and its exception) only when there is news."""
    first, second = two_processes
    first.put("source_oauth:token:abc", "token")
    assert first.get("source_oauth:token:abc") == "token"  # drains what the socket held
    reads = []
    connection = first.subscription.connection
    original = connection.can_read
    monkeypatch.setattr(connection, "can_read", lambda **kw: reads.append(1) or original(**kw))
    assert first.get("source_oauth:token:abc") == "token"
    assert reads == []
    second.publish(["source_oauth:token:abc"])
    assert first.get("source_oauth:token:abc") is None
    assert reads


def test_messages_redis_py_read_ahead_are_applied_though_the_socket_is_quiet(two_processes):
    """One recv may bring several messages; those still in redis-py's buffer count."""
    first, second = two_processes
    for key in ("a", "b", "c"):
        first.put(f"source_oauth:token:{key}", key)
    second.publish(["source_oauth:token:a"])
    second.publish(["source_oauth:token:b"])
    # A read outside get() (as the wait for a heartbeat's answer does) takes both messages
    # from the socket and returns the first.
    first.buffered = True
    first._apply(first.subscription.get_message(timeout=1))
    assert first.entries.keys() == {"source_oauth:token:b", "source_oauth:token:c"}
    assert first.get("source_oauth:token:b") is None
    assert first.get("source_oauth:token:c") == "c"


def test_the_subscription_outlives_garbage_collection(redis_server):
    """A collected redis-py client would disconnect its pool: the subscription owns its own."""
    cache = confirmed(ProcessCache(REDIS_URL))
    gc.collect()
    cache.put("source_oauth:token:abc", "token")
    assert cache.get("source_oauth:token:abc") == "token"
    cache._drop()


def test_nothing_is_kept_before_the_subscription_is_confirmed(redis_server):
    cache = ProcessCache(REDIS_URL)
    cache.put("source_oauth:token:abc", "token")
    assert cache.entries == {}
    cache._drop()


def test_an_unreachable_redis_turns_the_copy_off(settings):
    cache = ProcessCache("redis://127.0.0.1:1/0")
    assert cache.get("key") is None
    cache.put("key", "value")
    assert cache.entries == {}


def test_copies_expire(two_processes, settings):
    first, _ = two_processes
    settings.SOURCE_OAUTH = {"PROCESS_CACHE_SECONDS": -1}
    first.put("source_oauth:token:abc", "token")
    assert first.get("source_oauth:token:abc") is None


def test_each_read_is_a_copy_of_its_own(two_processes, db, user):
    """What one request does to the token it read never reaches the next request."""
    first, _ = two_processes
    api_client, _ = new_client()
    raw = issue(api_client, user, scope="user:profile")
    stored = token_cache.AccessToken.objects.select_related("application", "user").get(
        token_checksum=checksum(raw)
    )
    stored.resource = ["https://api.example.com/"]
    first.put("source_oauth:token:x", stored)

    one = first.get("source_oauth:token:x")
    one.scope = "changed"
    one.resource.append("https://elsewhere.example/")
    one.user.first_name = "changed"
    one.application.grant_types.append("password")
    one.user._perm_cache = {"app.everything"}

    two = first.get("source_oauth:token:x")
    assert (two.pk, two.scope, two.resource) == (stored.pk, "user:profile", stored.resource)
    assert two.user is not one.user and two.user.first_name == user.first_name
    assert not hasattr(two.user, "_perm_cache")
    assert two.application.grant_types == stored.application.grant_types
    assert two._state.fields_cache["application"] is two.application
    assert two._state.adding is False and two._state.db == "default"
    two.save(update_fields=["scope"])  # a working model instance, as unpickled


def test_values_other_than_rows_are_copies_too(two_processes):
    first, _ = two_processes
    first.put("source_oauth:scopes", {"content:read": "Read content"})
    first.get("source_oauth:scopes")["content:read"] = "changed"
    assert first.get("source_oauth:scopes") == {"content:read": "Read content"}


def test_a_warm_protected_request_needs_no_cache_round_trip(enabled, client, catalog, user):
    api_client, _ = new_client(scopes=["user:profile"])
    raw = issue(api_client, user, scope="user:profile")
    confirmed(enabled)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert client.get("/api/me/", **headers).status_code == 200  # read into both caches
    shared_cache_reads = []
    real_get = shared_cache.caches[shared_cache.conf.CACHE_ALIAS].get

    def counting_get(*args, **kwargs):
        shared_cache_reads.append(args)
        return real_get(*args, **kwargs)

    backend = shared_cache.caches[shared_cache.conf.CACHE_ALIAS]
    backend.get = counting_get
    try:
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/me/", **headers)
    finally:
        del backend.get
    assert response.status_code == 200
    assert shared_cache_reads == []
    assert len(queries.captured_queries) == 0


def test_revoking_drops_this_process_copy_too(enabled, client, catalog, user):
    api_client, _ = new_client(scopes=["user:profile"])
    raw = issue(api_client, user, scope="user:profile")
    confirmed(enabled)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert client.get("/api/me/", **headers).status_code == 200
    assert enabled.get(token_cache.key(checksum(raw))) is not None
    token_cache.AccessToken.objects.get(token_checksum=checksum(raw)).revoke()
    assert enabled.get(token_cache.key(checksum(raw))) is None
    assert client.get("/api/me/", **headers).status_code == 401


def test_servers_serve_warm_requests_from_their_copy_and_drop_it_on_revocation(
    two_servers, redis_server
):
    """Two runserver processes with the example settings (Redis, process cache on)."""
    first, second = two_servers
    api_client, secret, token = issued_token(first)
    headers = {"Authorization": f"Bearer {token}"}
    for server in (first, second):
        assert requests.get(f"{server}/api/articles/", headers=headers).status_code == 200

    redis_server.config_resetstat()
    for server in (first, second) * 3:
        assert requests.get(f"{server}/api/articles/", headers=headers).status_code == 200
    commands = redis_server.info("commandstats")
    assert "cmdstat_get" not in commands and "cmdstat_mget" not in commands

    revoked = requests.post(
        f"{first}/oauth/revoke", data={"token": token}, auth=(api_client.client_id, secret)
    )
    assert revoked.status_code == 200
    assert requests.get(f"{second}/api/articles/", headers=headers).status_code == 401
