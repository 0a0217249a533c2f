"""The token cache: exact query counts of a protected request, and immediate invalidation."""

from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, set_token_value

from source_oauth.cache import shared as shared_cache
from source_oauth.cache.tokens import PREFIX, get_access_token
from source_oauth.clients import rotate_client_secret
from source_oauth.scopes import all_scopes
from source_oauth.validator import checksum
from tests.oauth_helpers import issued_token, new_client, web_client

AccessToken = get_access_token_model()
ROOT = Path(__file__).resolve().parent.parent


def issue(client, user=None, scope="content:read user:profile", raw="raw-token-value-0123456789"):
    token = AccessToken(
        application=client,
        user=user,
        scope=scope,
        expires=timezone.now() + timedelta(hours=1),
    )
    set_token_value(token, raw)
    token.save()
    return raw


@pytest.fixture
def user_token(catalog, user):
    client, _ = web_client()
    return client, issue(client, user)


def get_me(client, raw):
    return client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_protected_get_costs_no_query_warm_and_one_cold(client, user_token):
    _, raw = user_token
    all_scopes()  # the scope catalogue has its own cache entry, loaded once
    with CaptureQueriesContext(connection) as cold:
        assert get_me(client, raw).status_code == 200
    with CaptureQueriesContext(connection) as warm:
        response = get_me(client, raw)
    assert response.status_code == 200
    assert response.json()["username"] == "alice"
    assert len(cold.captured_queries) == 1, [q["sql"] for q in cold.captured_queries]
    assert len(warm.captured_queries) == 0, [q["sql"] for q in warm.captured_queries]


def test_app_only_token_warm_is_free_too(client, catalog):
    api_client, _ = new_client(scopes=["content:read"])
    raw = issue(api_client, scope="content:read")
    all_scopes()
    get_access_token(checksum(raw))
    with CaptureQueriesContext(connection) as warm:
        response = client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 403  # needs a user, said without touching the database
    assert len(warm.captured_queries) == 0


def cached(raw):
    return shared_cache.read(PREFIX + checksum(raw)) is not None


def test_revoking_a_token_drops_it_at_once(client, user_token):
    _, raw = user_token
    get_me(client, raw)
    assert cached(raw)
    AccessToken.objects.get(token_checksum=checksum(raw)).revoke()
    assert not cached(raw)
    assert get_me(client, raw).status_code == 401


@pytest.mark.parametrize("change", ["settings", "rotation", "deletion"])
def test_changing_the_client_drops_its_tokens(client, user_token, change):
    api_client, raw = user_token
    get_me(client, raw)
    assert cached(raw)
    if change == "settings":
        api_client.third_party = True
        api_client.save()
    elif change == "rotation":
        rotate_client_secret(api_client)
    else:
        api_client.delete()
    assert not cached(raw)
    assert get_me(client, raw).status_code == (401 if change == "deletion" else 200)


def test_deactivating_the_user_drops_the_token(client, user_token, user):
    _, raw = user_token
    get_me(client, raw)
    user.is_active = False
    user.save()
    assert not cached(raw)
    assert get_me(client, raw).status_code == 401


def test_cache_can_be_disabled(client, user_token, settings):
    settings.SOURCE_OAUTH = {"TOKEN_CACHE_SECONDS": 0}
    _, raw = user_token
    get_me(client, raw)
    assert not cached(raw)


# --- two servers sharing Redis (the two_servers fixture is in conftest) ----------------


def test_revocation_on_one_server_is_honoured_at_once_by_another(two_servers):
    first, second = two_servers
    api_client, secret, token = issued_token(first)
    headers = {"Authorization": f"Bearer {token}"}
    # Both servers have now cached the token.
    assert requests.get(f"{first}/api/articles/", headers=headers).status_code == 200
    assert requests.get(f"{second}/api/articles/", headers=headers).status_code == 200

    revoked = requests.post(
        f"{first}/oauth/revoke", data={"token": token}, auth=(api_client.client_id, secret)
    )
    assert revoked.status_code == 200
    response = requests.get(f"{second}/api/articles/", headers=headers)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
