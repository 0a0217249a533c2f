"""Per-client token lifetimes: used by every grant, bounded in the admin, shown in the list."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import requests
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from source_oauth.dot_settings import OAUTH2_PROVIDER
from source_oauth.models import ApiClient, ImageStyle, Scope
from tests.oauth_helpers import login, new_client, web_client
from tests.oidc_helpers import oidc_client, sign_in

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
GT = ApiClient.GrantType
SITE_ACCESS = OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"]
SITE_REFRESH = OAUTH2_PROVIDER["REFRESH_TOKEN_EXPIRE_SECONDS"]

pytestmark = pytest.mark.usefixtures("signing_key")


def with_lifetimes(client: ApiClient, access: int | None, refresh: int | None) -> ApiClient:
    client.access_token_lifetime, client.refresh_token_lifetime = access, refresh
    client.full_clean(exclude=["client_secret"])
    client.save()
    return client


def introspect(server, client, secret, token) -> dict:
    return requests.post(
        f"{server}/oauth/introspect", data={"token": token}, auth=(client.client_id, secret)
    ).json()


def stored_lifetime(token: str) -> float:
    import hashlib

    row = AccessToken.objects.get(token_checksum=hashlib.sha256(token.encode()).hexdigest())
    return (row.expires - row.created).total_seconds()


@pytest.fixture
def browser(server, user, user_password) -> requests.Session:
    session = requests.Session()
    login(session, server, "alice", user_password)
    return session


# --- every grant -----------------------------------------------------------------------------


def test_client_credentials_tokens_live_as_long_as_the_client_says(server):
    client, secret = new_client("Backend")
    with_lifetimes(client, 120, None)
    token = requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, secret),
    ).json()
    assert token["expires_in"] == 120
    assert stored_lifetime(token["access_token"]) == pytest.approx(120, abs=2)
    info = introspect(server, client, secret, token["access_token"])
    assert 0 < info["exp"] - time.time() <= 120


def test_authorization_code_and_refresh_tokens_use_the_clients_lifetime(server, browser):
    client, secret = web_client()
    with_lifetimes(client, 300, 3600)
    token = sign_in(server, browser, client, secret, scope="content:read")
    assert token["expires_in"] == 300
    refreshed = requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(client.client_id, secret),
    ).json()
    assert refreshed["expires_in"] == 300
    assert stored_lifetime(refreshed["access_token"]) == pytest.approx(300, abs=2)


def test_an_empty_lifetime_is_the_site_default(server, browser):
    client, secret = new_client("Backend")
    token = requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, secret),
    ).json()
    assert token["expires_in"] == SITE_ACCESS
    web, web_secret = web_client()
    assert (
        sign_in(server, browser, web, web_secret, scope="content:read")["expires_in"] == SITE_ACCESS
    )


def test_another_clients_lifetime_changes_nothing(server):
    short, short_secret = new_client("Short")
    with_lifetimes(short, 60, None)
    other, other_secret = new_client("Other")
    for client, secret, expected in ((short, short_secret, 60), (other, other_secret, SITE_ACCESS)):
        token = requests.post(
            f"{server}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client.client_id, secret),
        ).json()
        assert token["expires_in"] == expected


def age_refresh_token(token: str, seconds: int) -> None:
    """As if the access token issued with ``token`` had expired ``seconds`` ago."""
    import hashlib

    checksum = hashlib.sha256(token.encode()).hexdigest()
    refresh = RefreshToken.objects.get(token_checksum=checksum)
    AccessToken.objects.filter(pk=refresh.access_token_id).update(
        expires=timezone.now() - timedelta(seconds=seconds)
    )


def refresh(server, client, secret, token) -> requests.Response:
    return requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": token},
        auth=(client.client_id, secret),
    )


def test_a_refresh_token_dies_after_its_clients_lifetime_of_disuse(server, browser):
    client, secret = oidc_client()
    with_lifetimes(client, None, 600)
    token = sign_in(server, browser, client, secret)
    age_refresh_token(token["refresh_token"], 601)
    response = refresh(server, client, secret, token["refresh_token"])
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")

    fresh = sign_in(server, browser, client, secret)
    age_refresh_token(fresh["refresh_token"], 500)
    assert refresh(server, client, secret, fresh["refresh_token"]).status_code == 200


def test_without_its_own_lifetime_the_site_default_applies(server, browser):
    client, secret = oidc_client()
    token = sign_in(server, browser, client, secret)
    age_refresh_token(token["refresh_token"], 601)
    assert refresh(server, client, secret, token["refresh_token"]).status_code == 200
    again = sign_in(server, browser, client, secret)
    age_refresh_token(again["refresh_token"], SITE_REFRESH + 1)
    assert refresh(server, client, secret, again["refresh_token"]).status_code == 400


# --- the admin --------------------------------------------------------------------------------


def form_data(**overrides) -> dict:
    data = {
        "name": "Backend service",
        "confidential": "on",
        "allowed_scopes": [str(Scope.objects.get(name="content:read").pk)],
        "image_styles": [str(ImageStyle.objects.get(name="thumbnail").pk)],
        "grant_types": [GT.CLIENT_CREDENTIALS],
        "redirect_uris": "",
        "algorithm": "RS256",
        "_save": "Save",
    }
    data.update(overrides)
    return data


def field_errors(response, field: str) -> list[str]:
    """The errors the admin form shows on one field (its markup differs between Django versions)."""
    return response.context["adminform"].form.errors.get(field, [])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("access_token_lifetime", "59", "greater than or equal to 60"),
        ("access_token_lifetime", "86401", "less than or equal to 86400"),
        ("access_token_lifetime", "-5", ""),
        ("refresh_token_lifetime", "299", "greater than or equal to 300"),
        ("refresh_token_lifetime", str(SITE_REFRESH + 1), "At most the site&#x27;s refresh token"),
    ],
)
def test_lifetimes_out_of_bounds_are_form_errors(catalog, admin_client, field, value, message):
    response = admin_client.post(
        reverse("admin:source_oauth_apiclient_add"), form_data(**{field: value})
    )
    assert response.status_code == 200
    assert field_errors(response, field)
    assert 'class="errorlist' in response.content.decode()
    assert message in response.content.decode()
    assert not ApiClient.objects.filter(name="Backend service").exists()


@pytest.mark.django_db
def test_lifetimes_are_saved_and_shown_in_the_list(catalog, admin_client):
    response = admin_client.post(
        reverse("admin:source_oauth_apiclient_add"),
        form_data(access_token_lifetime="900", refresh_token_lifetime="86400"),
    )
    assert response.status_code == 302
    client = ApiClient.objects.get(name="Backend service")
    assert (client.access_token_lifetime, client.refresh_token_lifetime) == (900, 86400)

    admin_client.get(reverse("admin:source_oauth_apiclient_changelist"))  # shows the secret once
    page = admin_client.get(reverse("admin:source_oauth_apiclient_changelist")).content.decode()
    row = next(row for row in page.split("<tr") if client.client_id in row)
    assert "tokens: 15 min / 1 day<" in row
    default_row = next(row for row in page.split("<tr") if "Default API client" in row)
    assert "tokens: 1 h / 30 days (site defaults)" in default_row
