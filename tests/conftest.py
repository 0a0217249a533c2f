import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.apps import apps as django_apps
from django.db import connection

from source_oauth.catalog import ensure_catalog

# Playwright fixtures of the browser tests (Chromium, recorded traffic).
pytest_plugins = ["tests.browser"]

ROOT = Path(__file__).resolve().parent.parent
# The Redis database the tests use and flush: database 13 of the local Redis unless
# SOURCE_OAUTH_TEST_REDIS_URL names another (so parallel runs can keep apart).
REDIS_URL = os.environ.get("SOURCE_OAUTH_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")

# The live server speaks plain http on loopback; tell the OAuth client libraries so.
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (tokens, scopes, rate limits live there)."""
    from django.core.cache import caches

    from source_oauth import scopes
    from source_oauth.cache.breaker import breaker

    breaker.reset()  # no cache failure of an earlier test carries over
    for cache in caches.all():
        cache.clear()
    scopes._forget_scopes()
    yield


@pytest.fixture
def catalog(db):
    """The scopes, image styles and default client that ``migrate`` creates.

    Transactional tests flush the database, data migrations included, so
    every test that relies on them asks for this fixture.
    """
    ensure_catalog(django_apps)


@pytest.fixture
def server(transactional_db, live_server):
    """Base URL of a live server on 127.0.0.1 with the migrated catalog."""
    ensure_catalog(django_apps)
    return live_server.url


@pytest.fixture(scope="session")
def _rsa_test_key():
    """One RSA key for the whole run: generating one costs tens of milliseconds."""
    from jwcrypto import jwk

    return jwk.JWK.generate(kty="RSA", size=2048)


@pytest.fixture
def signing_key(db, _rsa_test_key):
    """An active RS256 key in the database, as ``manage.py oidc_keys generate`` stores it."""
    from source_oauth.oidc import keys

    return keys.save(_rsa_test_key, keys.RS256)


@pytest.fixture
def user(db, django_user_model):
    return django_user_model.objects.create_user(
        "alice", "alice@example.com", "correct horse battery staple", first_name="Alice"
    )


@pytest.fixture
def user_password():
    return "correct horse battery staple"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url():
    """The test database, as a URL the server processes can open."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    return (
        f"postgres://{settings['USER'] or 'postgres'}@{settings['HOST'] or '127.0.0.1'}:"
        f"{settings['PORT'] or 5432}/{settings['NAME']}"
    )


def server_env():
    """The environment of a server process sharing this test's database and Redis."""
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
    }


@pytest.fixture
def two_servers(transactional_db):
    """Base URLs of two runserver processes on one database, sharing a Redis cache.

    The database holds the migrated catalog (scopes, styles, default client).
    """
    ensure_catalog(django_apps)
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"Redis is not running at {REDIS_URL}")
    env = server_env()
    redis.Redis.from_url(REDIS_URL).flushdb()
    servers, urls = [], []
    for _ in range(2):
        port = free_port()
        servers.append(
            subprocess.Popen(
                [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        for url in urls:
            while True:
                try:
                    requests.get(f"{url}/.well-known/oauth-authorization-server", timeout=1)
                    break
                except requests.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        yield urls
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
        redis.Redis.from_url(REDIS_URL).flushdb()
