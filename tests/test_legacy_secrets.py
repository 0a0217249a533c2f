"""Secrets adopted from django-oauth-toolkit: DOT's hash authenticates once, then ours replaces it.

``adopt_oauth_toolkit`` copies a secret DOT hashed (PBKDF2 by default) as it
is; see docs/adoption.md. These tests set such a hash on a client the way
adoption leaves it, then use the client as its owner would.
"""

import base64
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import make_password
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from source_oauth.cache import clients as client_cache
from source_oauth.cache import shared as shared_cache
from source_oauth.clients import rotate_client_secret
from source_oauth.models import ApiClient
from source_oauth.secrets import check_secret, hash_secret, is_stored_hash, mask, needs_upgrade
from tests.oauth_helpers import new_client

SECRET = "dot-era-secret-0123456789abcdef"


@pytest.fixture
def adopted(catalog):
    """A confidential client holding DOT's PBKDF2 hash of ``SECRET``, in the client cache."""
    api_client, _ = new_client(scopes=["content:read"])
    ApiClient.objects.filter(pk=api_client.pk).update(client_secret=make_password(SECRET))
    cache.clear()
    assert needs_upgrade(client_cache.get_client(api_client.client_id).client_secret)
    return ApiClient.objects.get(pk=api_client.pk)


def token(client, client_id, secret):
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return client.post(
        "/oauth/token", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=f"Basic {basic}"
    )


def stored(api_client):
    return ApiClient.objects.values_list("client_secret", flat=True).get(pk=api_client.pk)


def test_a_dot_hash_authenticates_and_is_replaced_by_ours_at_its_first_use(client, adopted):
    with CaptureQueriesContext(connection) as queries:
        assert token(client, adopted.client_id, SECRET).status_code == 200
    # Once per client: the conditional UPDATE; save(): the audit trail's read of the row,
    # the UPDATE, the token cache's read of the client's tokens to forget; then the token.
    # (The client itself comes from the cache; savepoints are the test's transaction.)
    statements = [
        q["sql"].split()[0]
        for q in queries.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))
    ]
    assert statements == ["UPDATE", "SELECT", "UPDATE", "SELECT", "INSERT"], statements
    assert stored(adopted) == hash_secret(SECRET)
    # The cached copy with DOT's hash is gone: the next request reads the row.
    assert shared_cache.read(client_cache.key(adopted.client_id)) is None
    assert client_cache.get_client(adopted.client_id).client_secret == hash_secret(SECRET)
    assert token(client, adopted.client_id, SECRET).status_code == 200


def test_a_wrong_secret_against_a_dot_hash_is_refused_and_changes_nothing(client, adopted):
    response = token(client, adopted.client_id, "wrong")
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert stored(adopted) == adopted.client_secret


def test_a_secret_rotated_meanwhile_is_never_overwritten(adopted):
    stale = ApiClient.objects.get(pk=adopted.pk)  # read before the rotation
    rotated = rotate_client_secret(adopted, overlap=timedelta(0)).client_secret
    assert stale.check_client_secret(SECRET)  # it matched the hash this copy holds...
    assert stored(adopted) == hash_secret(rotated)  # ...but the new secret stays


def test_a_dot_hash_kept_as_the_previous_secret_is_upgraded_during_the_overlap(adopted):
    rotated = rotate_client_secret(adopted, overlap=timedelta(hours=1)).client_secret
    assert needs_upgrade(adopted.previous_client_secret)
    reloaded = ApiClient.objects.get(pk=adopted.pk)
    assert reloaded.check_client_secret(SECRET) and reloaded.check_client_secret(rotated)
    assert reloaded.previous_client_secret == hash_secret(SECRET)
    assert stored(adopted) == hash_secret(rotated)


def test_an_expired_previous_dot_hash_is_refused(adopted):
    rotate_client_secret(adopted, overlap=timedelta(hours=1))
    ApiClient.objects.filter(pk=adopted.pk).update(
        previous_secret_expires=timezone.now() - timedelta(seconds=1)
    )
    assert not ApiClient.objects.get(pk=adopted.pk).check_client_secret(SECRET)


def test_saving_an_adopted_client_keeps_its_dot_hash(adopted):
    adopted.name = "Renamed"
    adopted.save()
    assert stored(adopted) == adopted.client_secret and needs_upgrade(stored(adopted))


def test_what_counts_as_a_stored_hash():
    dot_hash = make_password(SECRET)
    assert is_stored_hash(dot_hash) and is_stored_hash(hash_secret(SECRET))
    assert not is_stored_hash(SECRET) and not needs_upgrade(hash_secret(SECRET))
    # A hasher PASSWORD_HASHERS does not list cannot check anything: never a match.
    unknown = "md5crypt$salt$c2FsdA$aGFzaA"
    assert not needs_upgrade(unknown) and not check_secret(SECRET, unknown)
    assert check_secret(SECRET, dot_hash) and not check_secret("other", dot_hash)
    assert mask(dot_hash) == "pbkdf2_sha256…"
    # A listed hasher whose library may be missing (argon2-cffi): fails closed, never a 500.
    argon2 = "argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$aGFzaA"
    assert needs_upgrade(argon2) and not check_secret(SECRET, argon2)
    assert mask(hash_secret(SECRET)) == hash_secret(SECRET)[7:15] + "…"
