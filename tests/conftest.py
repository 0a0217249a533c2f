import os

import pytest
from django.apps import apps as django_apps

from source_oauth.catalog import ensure_catalog

# The live server speaks plain http on loopback; tell the OAuth client libraries so.
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (tokens, scopes, rate limits live there)."""
    from django.core.cache import caches

    from source_oauth import scopes

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


@pytest.fixture
def user(db, django_user_model):
    return django_user_model.objects.create_user(
        "alice", "alice@example.com", "correct horse battery staple", first_name="Alice"
    )


@pytest.fixture
def user_password():
    return "correct horse battery staple"
