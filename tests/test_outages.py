"""Degrade, don't fail: a dead cache is an empty one; a dead database is a 503 in JSON.

In-process: the cache is a Redis on a port nothing listens on (refused at
once), or the test's own Redis made to fail one command; the database fails
through ``connection.execute_wrapper``. Real processes killed and restarted:
``test_redis_outage.py``, ``test_postgres_outage.py``.
"""

from __future__ import annotations

import logging

import pytest
import redis
from django.core.cache import caches
from django.db import connection
from django.db.utils import InterfaceError, OperationalError
from django.test.utils import CaptureQueriesContext
from oauth2_provider.models import get_access_token_model

from source_oauth import outages, ratelimit, scopes
from source_oauth.cache import breaker as breaker_module
from source_oauth.cache import process as process_cache
from source_oauth.cache import shared
from source_oauth.cache import tokens as token_cache
from source_oauth.cache.breaker import breaker
from source_oauth.cache.process import ProcessCache
from source_oauth.models import AuditEvent
from source_oauth.validator import checksum
from tests.conftest import REDIS_URL
from tests.oauth_helpers import REDIRECT_URI, basic, new_client, pkce_pair, web_client
from tests.own_services import wait_until
from tests.test_token_cache import issue

AccessToken = get_access_token_model()
DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: refused at once
BACKENDS = {
    "django": (
        "django.core.cache.backends.redis.RedisCache",
        {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    ),
    "django_redis": (
        "django_redis.cache.RedisCache",
        {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
    ),
}


@pytest.fixture(autouse=True)
def _fresh_state():
    """No failure of an earlier test carries over: breaker, counters, outage logs."""

    def reset():
        breaker.reset()
        ratelimit._local.clear()
        for outage in (outages.database, breaker_module.outage):
            outage.started = None
            outage.logged_at = 0.0

    reset()
    yield
    reset()


def use_cache(settings, backend: str, location: str) -> None:
    path, options = BACKENDS[backend]
    settings.CACHES = {"default": {"BACKEND": path, "LOCATION": location, "OPTIONS": options}}


@pytest.fixture(params=sorted(BACKENDS))
def dead_cache(request, settings):
    """The shared cache is a Redis that refuses every connection (Django's or django-redis)."""
    use_cache(settings, request.param, DEAD_REDIS)
    return request.param


@pytest.fixture
def live_redis_cache(settings):
    """The shared cache is the tests' Redis database, through django-redis."""
    server = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        server.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"Redis is not running at {REDIS_URL}")
    use_cache(settings, "django_redis", REDIS_URL)
    caches["default"].clear()
    yield server
    caches["default"].clear()


def token_request(client, api_client, secret, **headers):
    return client.post(
        "/oauth/token",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic(api_client.client_id, secret),
        **headers,
    )


def never_asked(monkeypatch) -> None:
    """From now on, asking the cache fails the test (and not as a cache error)."""

    def asked(*args, **kwargs):
        raise AssertionError("the cache was asked while the breaker is open")

    backend = type(caches["default"])
    for name in ("get", "get_many", "add", "set", "set_many", "delete_many", "incr"):
        monkeypatch.setattr(backend, name, asked)


# --- the cache unreachable ------------------------------------------------------------


def test_token_requests_are_served_from_the_database_and_the_cache_asked_once(
    dead_cache, client, catalog, monkeypatch
):
    api_client, secret = new_client()
    with CaptureQueriesContext(connection) as queries:
        assert token_request(client, api_client, secret).status_code == 200
    # As with an empty cache: the client, its scopes, the token's INSERT.
    assert len(queries.captured_queries) == 3
    assert breaker.down
    never_asked(monkeypatch)
    for _ in range(3):
        assert token_request(client, api_client, secret).status_code == 200


def test_protected_requests_are_served_from_the_database(dead_cache, client, catalog, user):
    api_client, _ = new_client(scopes=["content:read", "user:profile"])
    raw = issue(api_client, user, scope="content:read user:profile")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    for _ in range(2):
        assert client.get("/api/me/", **headers).status_code == 200
        assert client.get("/api/articles/", **headers).status_code == 200
        assert client.options("/api/articles/", **headers).status_code == 200
    assert client.get("/api/articles/").status_code == 200  # the default client's scopes
    assert client.get("/api/me/", HTTP_AUTHORIZATION="Bearer unknown").status_code == 401


def test_a_revocation_takes_effect_and_answers_success(dead_cache, client, catalog, user):
    api_client, secret = new_client(scopes=["user:profile"])
    raw = issue(api_client, user, scope="user:profile")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert client.get("/api/me/", **headers).status_code == 200
    response = client.post(
        "/oauth/revoke", {"token": raw}, HTTP_AUTHORIZATION=basic(api_client.client_id, secret)
    )
    assert response.status_code == 200
    assert not AccessToken.objects.filter(token_checksum=checksum(raw)).exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TOKEN_REVOKED).count() == 1
    assert client.get("/api/me/", **headers).status_code == 401
    assert breaker.owed  # the cache is not trusted until its epoch has been replaced


def test_revoking_from_the_admin_or_code_never_fails_on_the_cache(dead_cache, catalog, user):
    from oauth2_provider.admin import revoke_access_token  # what the admin's action calls

    api_client, _ = new_client(scopes=["user:profile"])
    first = issue(api_client, user, scope="user:profile", raw="first-token-0123456789")
    second = issue(api_client, user, scope="user:profile", raw="second-token-0123456789")
    revoke_access_token(AccessToken.objects.get(token_checksum=checksum(first)))
    AccessToken.objects.get(token_checksum=checksum(second)).revoke()
    api_client.set_new_secret()
    api_client.save()  # drops its entries, and its tokens' entries
    assert not AccessToken.objects.filter(token_checksum__in=map(checksum, [first, second]))


def test_rate_limiting_counts_in_each_process_while_the_cache_is_down(
    dead_cache, client, catalog, settings
):
    settings.SOURCE_OAUTH = {"AUTH_FAILURE_LIMIT": 3}
    api_client, secret = new_client()
    statuses = [token_request(client, api_client, "wrong").status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    assert ratelimit._local["127.0.0.1"][1] == 5
    assert token_request(client, api_client, secret).status_code == 200  # never locked out
    # Another address has its own count.
    other = token_request(client, api_client, "wrong", REMOTE_ADDR="10.0.0.2")
    assert other.status_code == 401


def test_local_counters_are_bounded(monkeypatch, settings):
    monkeypatch.setattr(ratelimit, "LOCAL_MAX_ADDRESSES", 3)
    for address in ("a", "b", "c", "a", "d"):
        ratelimit._count_locally(address)
    assert list(ratelimit._local) == ["b", "c", "d"]  # "a" started first, went first


def test_one_log_line_per_interval_no_traceback_no_credential(
    dead_cache, client, catalog, user, caplog
):
    api_client, secret = new_client(scopes=["user:profile"])
    raw = issue(api_client, user, scope="user:profile")
    caplog.set_level(logging.INFO)
    for _ in range(20):
        assert token_request(client, api_client, secret).status_code == 200
        assert client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    message = lines[0].getMessage()
    assert message.startswith("The shared cache unreachable")
    assert "ConnectionError" in message and "serving from the database" in message
    assert lines[0].exc_info is None
    assert secret not in caplog.text and raw not in caplog.text


def test_the_outage_is_counted_between_lines_and_its_end_logged(caplog, monkeypatch):
    outage = outages.Outage("The thing", "doing without", "request(s)")
    clock = [1000.0]
    monkeypatch.setattr(outages.time, "monotonic", lambda: clock[0])
    caplog.set_level(logging.WARNING, logger="source_oauth.outages")
    for _ in range(5):
        outage.failed(OSError("refused\nsecond line"))
    clock[0] += outages.LOG_INTERVAL_SECONDS
    outage.failed(OSError("refused"))
    outage.recovered()
    assert [r.getMessage() for r in caplog.records] == [
        "The thing unreachable for 0 s (OSError: refused); doing without: 1 request(s) since "
        "the last line.",
        "The thing unreachable for 10 s (OSError: refused); doing without: 5 request(s) since "
        "the last line.",
        "The thing reachable again after 10.0 s; 6 request(s) in all.",
    ]


# --- the cache back: entries that outlived a failed forget are never served ------------


def test_an_entry_a_failed_forget_left_behind_is_never_served(
    live_redis_cache, client, catalog, user, monkeypatch
):
    api_client, secret = new_client(scopes=["user:profile"])
    raw = issue(api_client, user, scope="user:profile")
    key = token_cache.key(checksum(raw))
    assert client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    assert shared.read(key) is not None

    backend = type(caches["default"])
    real_set_many = backend.set_many

    def refused(*args, **kwargs):
        raise redis.exceptions.ConnectionError("Connection refused (injected)")

    monkeypatch.setattr(backend, "set_many", refused)
    response = client.post(
        "/oauth/revoke", {"token": raw}, HTTP_AUTHORIZATION=basic(api_client.client_id, secret)
    )
    assert response.status_code == 200
    # The tombstone was never written: the old entry is still in Redis...
    assert live_redis_cache.exists(":1:" + key)
    # ... and not used: the breaker is open, requests are served from the database.
    assert client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401

    monkeypatch.setattr(backend, "set_many", real_set_many)  # Redis answers again
    wait_until(breaker.trusted, "the breaker closes once Redis answers")
    assert live_redis_cache.exists(":1:" + key)  # still there, but from a retired epoch
    assert shared.read(key) is None
    assert token_cache.get_access_token(checksum(raw)) is None
    assert client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    # Tokens are cached again under the new epoch.
    fresh = issue(api_client, user, scope="user:profile", raw="fresh-token-0123456789")
    assert client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {fresh}").status_code == 200
    assert shared.read(token_cache.key(checksum(fresh))) is not None


def test_a_row_loaded_before_the_epoch_changed_is_not_trusted_after(live_redis_cache):
    def load():
        shared.replace_epoch()  # the cache came back and was retired while this loaded
        return "row as loaded before"

    assert shared.fetch("source_oauth:test:row", load, 300) == "row as loaded before"
    assert shared.read("source_oauth:test:row") is None
    # A retired entry becomes a tombstone, so a fresh load can be cached 30 s later.
    assert caches["default"].get("source_oauth:test:row") == shared.TOMBSTONE


def test_a_flushed_cache_trusts_nothing_it_did_not_stamp(live_redis_cache):
    assert shared.fetch("source_oauth:test:row", lambda: "value", 300) == "value"
    assert shared.read("source_oauth:test:row") == "value"
    caches["default"].delete(shared.EPOCH_KEY)  # evicted, or Redis restarted half-empty
    assert shared.read("source_oauth:test:row") is None


def test_replacing_the_epoch_drops_every_process_copy(live_redis_cache, settings):
    settings.SOURCE_OAUTH = {"PROCESS_CACHE_REDIS_URL": REDIS_URL}
    other = ProcessCache(REDIS_URL)
    try:
        for cache in (process_cache.current(), other):
            wait_until(lambda c=cache: c.get("any") is None and c.confirmed, "subscribed")
            cache.put("source_oauth:token:abc", "token")
            assert cache.get("source_oauth:token:abc") == "token"
        shared.replace_epoch()
        assert other.get("source_oauth:token:abc") is None
        assert process_cache.current().get("source_oauth:token:abc") is None
    finally:
        other._drop()
        process_cache.current()._drop()
        process_cache._instance = None
        breaker.reset()


def test_a_copy_is_emptied_after_redis_was_silent(live_redis_cache):
    """Frozen or idle, it cannot be told apart: a change may never have been published."""
    cache = ProcessCache(REDIS_URL)
    try:
        wait_until(lambda: cache.get("any") is None and cache.confirmed, "subscribed")
        cache.put("source_oauth:token:abc", "token")
        assert cache.get("source_oauth:token:abc") == "token"
        cache.heard -= 2 * process_cache.TRUST_SECONDS  # a silence
        cache.put("source_oauth:token:other", "other")  # not kept: not heard from lately
        assert cache.get("source_oauth:token:abc") is None
        assert cache.entries == {}
        # A ping answered at once: copies are kept again from now on.
        cache.put("source_oauth:token:abc", "token")
        assert cache.get("source_oauth:token:abc") == "token"
    finally:
        cache._drop()
        breaker.reset()


# --- the database unreachable ----------------------------------------------------------


@pytest.fixture(params=[OperationalError, InterfaceError])
def database_down(request):
    """Every query fails as with a dead server (refused) or a dead connection (closed)."""
    error_class = request.param

    def fail(execute, sql, params, many, context):
        raise error_class("connection to server at 127.0.0.1 failed: Connection refused")

    return lambda: connection.execute_wrapper(fail)


def assert_unavailable(response, *, api: bool = False):
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert int(response["Retry-After"]) > 0
    body = response.json()
    assert body["error"] == "temporarily_unavailable"
    assert body["detail" if api else "error_description"]


@pytest.mark.parametrize("debug", [False, True])
def test_oauth_endpoints_answer_503_json(database_down, client, catalog, settings, debug):
    settings.DEBUG = debug
    api_client, secret = new_client()
    auth = {"HTTP_AUTHORIZATION": basic(api_client.client_id, secret)}
    caches["default"].clear()  # nothing can be decided from the cache
    with database_down():
        assert_unavailable(
            client.post("/oauth/token", {"grant_type": "client_credentials"}, **auth)
        )
        assert_unavailable(client.post("/oauth/revoke", {"token": "abc"}, **auth))
        assert_unavailable(client.post("/oauth/introspect", {"token": "abc"}, **auth))


@pytest.mark.parametrize("debug", [False, True])
def test_the_api_answers_503_json_and_what_the_cache_decides_still_works(
    database_down, client, catalog, user, settings, debug
):
    settings.DEBUG = debug
    api_client, _ = new_client(scopes=["content:read"])
    raw = issue(api_client, user, scope="content:read")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert client.get("/api/articles/", **headers).status_code == 200  # the token is cached
    with database_down():
        assert client.options("/api/articles/", **headers).status_code == 200  # no query
        assert_unavailable(client.get("/api/articles/", **headers), api=True)
        caches["default"].clear()
        assert_unavailable(client.get("/api/articles/", **headers), api=True)


@pytest.mark.parametrize("debug", [False, True])
def test_the_authorization_page_is_a_human_503(
    database_down, client, catalog, user, settings, debug
):
    settings.DEBUG = debug
    web, _ = web_client()
    client.force_login(user)
    _, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": web.client_id,
        "redirect_uri": REDIRECT_URI,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    with database_down():
        response = client.get("/oauth/authorize", query)
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert int(response["Retry-After"]) > 0
    assert "no-store" in response["Cache-Control"]  # with never_cache's other directives
    assert response["X-Frame-Options"] == "DENY"
    assert "try again" in response.content.decode()


@pytest.mark.parametrize("debug", [False, True])
def test_the_openid_connect_and_metadata_endpoints_answer_503_json(
    database_down, client, catalog, settings, debug
):
    settings.DEBUG = debug
    caches["default"].clear()
    scopes._forget_scopes()  # the catalogue too: every document needs the database
    with database_down():
        for path in (
            "/.well-known/oauth-authorization-server",
            "/.well-known/openid-configuration",
            "/.well-known/oauth-protected-resource",
            "/oauth/jwks",
        ):
            assert_unavailable(client.get(path))
        assert_unavailable(client.get("/oauth/userinfo", HTTP_AUTHORIZATION="Bearer abc"))
        assert_unavailable(client.post("/oauth/userinfo", HTTP_AUTHORIZATION="Bearer abc"))


@pytest.mark.parametrize("path", ["/oauth/connected-apps", "/oauth/logout"])
def test_the_pages_a_person_sees_are_a_human_503(database_down, client, catalog, user, path):
    client.force_login(user)
    with database_down():
        response = client.get(path)
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert int(response["Retry-After"]) > 0
    assert "try again" in response.content.decode()


def test_a_cors_check_without_the_database_allows_nothing(database_down, client, catalog):
    caches["default"].clear()
    with database_down():
        response = client.options(
            "/oauth/token",
            HTTP_ORIGIN="https://app.example.com",
            HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        )
    assert "access-control-allow-origin" not in response


def test_database_outage_logs_one_line_not_a_traceback_per_request(
    database_down, client, catalog, caplog
):
    api_client, secret = new_client()
    auth = {"HTTP_AUTHORIZATION": basic(api_client.client_id, secret)}
    caches["default"].clear()
    caplog.set_level(logging.INFO)
    with database_down():
        for _ in range(20):
            response = client.post("/oauth/token", {"grant_type": "client_credentials"}, **auth)
            assert response.status_code == 503
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.name for r in lines] == ["source_oauth.outages"]  # not django.request's 20
    assert lines[0].getMessage().startswith("The database unreachable")
    assert lines[0].exc_info is None
    assert secret not in caplog.text


# --- configuration: system checks -----------------------------------------------------


def check_ids() -> list[str]:
    from django.core.checks import run_checks

    return [message.id for message in run_checks() if message.id.startswith("source_oauth")]


def test_w005_persistent_connections_without_health_checks(settings, monkeypatch):
    # In place: Django warns against overriding DATABASES, and the check reads the dict.
    database = settings.DATABASES["default"]
    monkeypatch.setitem(database, "CONN_MAX_AGE", 60)
    monkeypatch.setitem(database, "CONN_HEALTH_CHECKS", True)
    assert "source_oauth.W005" not in check_ids()
    monkeypatch.setitem(database, "CONN_HEALTH_CHECKS", False)
    for age in (60, None):  # None: connections kept forever
        monkeypatch.setitem(database, "CONN_MAX_AGE", age)
        assert check_ids().count("source_oauth.W005") == 1
    monkeypatch.setitem(database, "CONN_MAX_AGE", 0)
    assert "source_oauth.W005" not in check_ids()


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_w006_a_redis_cache_without_timeouts(settings, backend):
    path, options = BACKENDS[backend]
    settings.CACHES = {"default": {"BACKEND": path, "LOCATION": REDIS_URL, "OPTIONS": options}}
    assert "source_oauth.W006" not in check_ids()
    settings.CACHES = {"default": {"BACKEND": path, "LOCATION": REDIS_URL}}
    assert check_ids().count("source_oauth.W006") == 1
    in_url = f"{REDIS_URL}?socket_connect_timeout=0.5&socket_timeout=0.5"
    settings.CACHES = {"default": {"BACKEND": path, "LOCATION": in_url}}
    assert "source_oauth.W006" not in check_ids()


def test_w006_django_redis_ignoring_exceptions(settings):
    path, options = BACKENDS["django_redis"]
    settings.CACHES = {
        "default": {
            "BACKEND": path,
            "LOCATION": REDIS_URL,
            "OPTIONS": {**options, "IGNORE_EXCEPTIONS": True},
        }
    }
    assert check_ids().count("source_oauth.W006") == 1
    settings.CACHES["default"]["OPTIONS"] = options
    settings.DJANGO_REDIS_IGNORE_EXCEPTIONS = True
    assert check_ids().count("source_oauth.W006") == 1


def test_manage_py_check_runs_the_outage_checks(settings, capsys, monkeypatch):
    from django.core.management import call_command

    monkeypatch.setitem(settings.DATABASES["default"], "CONN_MAX_AGE", 60)
    monkeypatch.setitem(settings.DATABASES["default"], "CONN_HEALTH_CHECKS", False)
    settings.CACHES = {"default": {"BACKEND": BACKENDS["django"][0], "LOCATION": REDIS_URL}}
    call_command("check")
    output = capsys.readouterr().err
    assert "source_oauth.W005" in output and "source_oauth.W006" in output
