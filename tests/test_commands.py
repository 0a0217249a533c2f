"""The management commands, as an operator runs them."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from source_oauth.models import ApiClient
from source_oauth.secrets import is_hashed

pytestmark = pytest.mark.usefixtures("catalog")


def run(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_api_client_json_prints_one_object_and_stores_a_hash():
    out, _ = run(
        "create_api_client",
        "Backend",
        "--scope",
        "content:read",
        "--scope",
        "content:write",
        "--json",
    )
    data = json.loads(out)  # nothing else on stdout
    assert set(data) == {"client_id", "client_secret"}
    client = ApiClient.objects.get(client_id=data["client_id"])
    assert client.grant_types == ["client_credentials"]
    assert sorted(client.allowed_scopes.values_list("name", flat=True)) == [
        "content:read",
        "content:write",
    ]
    assert is_hashed(client.client_secret)
    assert data["client_secret"] not in client.client_secret
    assert client.check_client_secret(data["client_secret"])
    assert len(data["client_secret"]) >= 43  # 256 bits, base64url


def test_create_public_client_has_null_secret():
    out, _ = run(
        "create_api_client",
        "Mobile",
        "--public",
        "--third-party",
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "refresh_token",
        "--redirect-uri",
        "com.example.app:/callback",
        "--image-style",
        "thumbnail",
        "--json",
    )
    data = json.loads(out)
    assert data["client_secret"] is None
    client = ApiClient.objects.get(client_id=data["client_id"])
    assert (client.confidential, client.third_party) == (False, True)
    assert client.grant_types == ["authorization_code", "refresh_token"]
    assert client.client_secret == ""
    assert list(client.image_styles.values_list("name", flat=True)) == ["thumbnail"]


def test_create_without_json_warns_on_stderr():
    out, err = run("create_api_client", "Plain")
    assert "client_secret:" in out
    assert "never shown again" in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--grant-type", "authorization_code"], "redirect URI"),
        (["--public"], "confidential client"),
        (["--scope", "nope"], "Unknown scope: nope"),
        (["--image-style", "huge"], "Unknown image style: huge"),
        (
            ["--grant-type", "authorization_code", "--redirect-uri", "http://example.com/cb"],
            "uses http",
        ),
    ],
)
def test_create_rejects_bad_settings_and_creates_nothing(args, message):
    before = ApiClient.objects.count()
    with pytest.raises(CommandError, match=message):
        run("create_api_client", "Bad", *args)
    assert ApiClient.objects.count() == before


def test_rotate_client_secret_prints_new_secret_once_and_old_stops_working(settings):
    settings.SOURCE_OAUTH = {"SECRET_ROTATION_OVERLAP_SECONDS": 0}
    data = json.loads(run("create_api_client", "Backend", "--json")[0])
    rotated = json.loads(run("rotate_client_secret", data["client_id"], "--json")[0])
    assert rotated["client_id"] == data["client_id"]
    assert rotated["client_secret"] != data["client_secret"]
    client = ApiClient.objects.get(client_id=data["client_id"])
    assert client.check_client_secret(rotated["client_secret"])
    assert not client.check_client_secret(data["client_secret"])


def test_rotation_keeps_the_previous_secret_for_the_overlap():
    data = json.loads(run("create_api_client", "Backend", "--json")[0])
    rotated = json.loads(run("rotate_client_secret", data["client_id"], "--json")[0])
    client = ApiClient.objects.get(client_id=data["client_id"])
    assert client.check_client_secret(rotated["client_secret"])
    assert client.check_client_secret(data["client_secret"])  # default overlap: one hour


def test_rotate_unknown_or_public_client_is_a_clear_error():
    with pytest.raises(CommandError, match="No API client"):
        run("rotate_client_secret", "missing")
    data = json.loads(
        run(
            "create_api_client",
            "Mobile",
            "--public",
            "--grant-type",
            "authorization_code",
            "--redirect-uri",
            "https://app.example.com/cb",
            "--json",
        )[0]
    )
    with pytest.raises(CommandError, match="public client has no secret"):
        run("rotate_client_secret", data["client_id"])


def test_default_client_gets_a_secret_by_rotation():
    default = ApiClient.objects.get(is_default=True)
    assert default.client_secret == ""
    rotated = json.loads(run("rotate_client_secret", default.client_id, "--json")[0])
    default.refresh_from_db()
    assert default.check_client_secret(rotated["client_secret"])


def test_rotation_says_when_a_running_server_cannot_see_it_at_once(settings):
    data = json.loads(run("create_api_client", "Backend", "--json")[0])
    shared = settings.CACHES
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    _, err = run("rotate_client_secret", data["client_id"], "--json")
    assert "local to each process" in err and "300 s" in err

    settings.CACHES = shared
    if shared["default"]["BACKEND"].endswith("LocMemCache"):
        settings.SOURCE_OAUTH = {"TOKEN_CACHE_SECONDS": 0, "CLIENT_CACHE_SECONDS": 0}
    _, err = run("rotate_client_secret", data["client_id"], "--json")
    assert "local to each process" not in err
