"""The "API clients" screen of the Django admin, driven like an administrator would."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import IntegrityError, transaction
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_grant_model,
    get_refresh_token_model,
    set_token_value,
)

from source_oauth.dot_settings import OAUTH2_PROVIDER
from source_oauth.models import ApiClient, AuditEvent, ImageStyle, Scope
from source_oauth.secrets import hash_secret
from tests.oauth_helpers import basic, new_client

pytestmark = pytest.mark.usefixtures("catalog")

GT = ApiClient.GrantType
AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
Grant = get_grant_model()

CHANGELIST = "admin:source_oauth_apiclient_changelist"
ADD = "admin:source_oauth_apiclient_add"
SECRET_RE = re.compile(r'class="source-oauth-client-secret"[^>]*>([^<]+)</code>')


def change_url(client: ApiClient) -> str:
    return reverse("admin:source_oauth_apiclient_change", args=[client.pk])


def regenerate_url(client: ApiClient) -> str:
    return reverse("admin:source_oauth_apiclient_regenerate_secret", args=[client.pk])


def pks(model, *names):
    return [str(pk) for pk in model.objects.filter(name__in=names).values_list("pk", flat=True)]


def form_data(**overrides):
    """What the add form posts when an administrator fills it in."""
    data = {
        "name": "Backend service",
        "confidential": "on",
        "allowed_scopes": pks(Scope, "content:read"),
        "image_styles": pks(ImageStyle, "thumbnail"),
        "grant_types": [GT.CLIENT_CREDENTIALS],
        "redirect_uris": "",
        "_save": "Save",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def secret_on(page: str) -> str | None:
    match = SECRET_RE.search(page)
    return match.group(1) if match else None


def row_of(page: str, text: str) -> str:
    return next(row for row in page.split("<tr") if text in row)


def errors_of(page: str) -> str:
    return " ".join(re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', page, re.S))


def make_tokens(client: ApiClient, user, *, raw_access: str, raw_refresh: str):
    access = AccessToken(
        user=user,
        application=client,
        expires=timezone.now() + timedelta(hours=1),
        scope="content:read",
    )
    set_token_value(access, raw_access)
    access.save()
    refresh = RefreshToken(user=user, application=client, access_token=access)
    set_token_value(refresh, raw_refresh)
    refresh.save()
    return access, refresh


# --- the "API" section ----------------------------------------------------------------


def test_index_has_an_api_section_with_api_clients(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()
    section = re.search(r'<div class="app-source_oauth.*?</div>', page, re.S).group(0)
    assert ">API<" in section
    for name in ("API clients", "Scopes", "Image styles"):
        assert f">{name}<" in section
    listing = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "Add API client" in listing


# --- the list -------------------------------------------------------------------------


def test_list_shows_the_client_columns(admin_client):
    new_client("Backend", grant_types=[GT.CLIENT_CREDENTIALS], scopes=["content:read"])
    new_client(
        "Mobile app",
        confidential=False,
        third_party=True,
        grant_types=[GT.AUTHORIZATION_CODE, GT.REFRESH_TOKEN],
        redirect_uris=["com.example.app:/callback"],
        scopes=["content:read", "user:profile"],
    )
    page = admin_client.get(reverse(CHANGELIST)).content.decode()
    headers = re.findall(r'<div class="text">(?:<a [^>]*>|<span>)([^<]+)<', page)
    assert [h.strip() for h in headers] == [
        "Name",
        "Client ID",
        "Grant types",
        "Client type",
        "Allowed scopes",
    ]
    mobile = ApiClient.objects.get(name="Mobile app")
    row = row_of(page, mobile.client_id)
    assert "Authorization code, Refresh token" in row
    assert "content:read, user:profile" in row
    assert re.search(r'Public<br><span class="source-oauth-tag">3rd party</span>', row)
    assert re.search(r'field-client_type_column">Confidential</td>', row_of(page, "Backend"))
    # The client ID: its first characters shown, all of it copied.
    assert f'<code title="{mobile.client_id}">{mobile.client_id[:8]}…</code>' in row
    assert f'data-copy="{mobile.client_id}"' in row
    assert 'class="source-oauth-badge"' not in row
    # The default client comes first, marked as such in its name's cell.
    default = ApiClient.objects.get(is_default=True)
    rows = [r for r in page.split("<tr") if "field-name_column" in r]
    assert default.client_id in rows[0]
    assert re.search(r'Default API client <span class="source-oauth-badge"[^>]*>Default<', rows[0])


def test_search_by_name_and_by_client_id(admin_client):
    backend, _ = new_client("Backend")
    new_client("Website")
    page = admin_client.get(reverse(CHANGELIST), {"q": "backe"}).content.decode()
    assert "Backend" in page and "Website" not in page
    page = admin_client.get(reverse(CHANGELIST), {"q": backend.client_id}).content.decode()
    assert "Backend" in page and "Website" not in page


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ({"grant_type": "authorization_code"}, {"Web", "Mobile"}, {"Backend"}),
        ({"grant_type": "refresh_token"}, {"Mobile"}, {"Backend", "Web"}),
        ({"grant_type": "client_credentials"}, {"Backend"}, {"Web", "Mobile"}),
        ({"confidential__exact": "0"}, {"Mobile"}, {"Backend", "Web"}),
        ({"third_party__exact": "1"}, {"Web"}, {"Backend", "Mobile"}),
    ],
)
def test_filters(admin_client, query, shown, hidden):
    new_client("Backend")
    new_client(
        "Web",
        third_party=True,
        grant_types=[GT.AUTHORIZATION_CODE],
        redirect_uris=["https://web.example.com/cb"],
    )
    new_client(
        "Mobile",
        confidential=False,
        grant_types=[GT.AUTHORIZATION_CODE, GT.REFRESH_TOKEN],
        redirect_uris=["com.example.app:/cb"],
    )
    page = admin_client.get(reverse(CHANGELIST), query).content.decode()
    assert "grant_type=authorization_code" in page  # the filter is offered
    names = set(re.findall(r'<th class="field-name_column"><a [^>]*>([^<]+)</a>', page))
    assert shown <= names
    assert not hidden & names


# --- the add form -----------------------------------------------------------------------


def test_add_form_groups_the_seed_settings_with_checkboxes(admin_client):
    page = admin_client.get(reverse(ADD)).content.decode()
    # A field's caption: a <label>, or for a group of checkboxes a <legend> (Django 6.1+).
    labels = re.findall(r"<(?:label|legend)[^>]*>([^<]+?):?</(?:label|legend)>", page)
    seed_order = [
        "Image Styles",
        "Confidential Client",
        "3rd Party",
        "Allowed Scopes",
        "Redirect URIs",
        "Grant types",
    ]
    positions = [labels.index(label) for label in ["Name", *seed_order]]
    assert positions == sorted(positions)
    assert re.search(r"<h2[^>]*>\s*Client settings\s*</h2>", page)
    assert re.search(r"<h2[^>]*>\s*Grant types\s*</h2>", page)
    for value in GT.values:
        assert re.search(rf'type="checkbox" name="grant_types" value="{value}"', page)
    for scope in Scope.objects.all():
        assert re.search(rf'type="checkbox" name="allowed_scopes" value="{scope.pk}"', page)
        assert f"{scope.name} — {scope.description}".replace("'", "&#x27;") in page
    assert 'type="checkbox" name="image_styles"' in page
    # Nothing about secrets is typed in: no secret field, no "remove" box on a new client.
    assert 'name="client_secret"' not in page and 'name="remove_secret"' not in page


def test_saving_a_new_confidential_client_shows_its_secret_once(admin_client, admin_user):
    response = admin_client.post(reverse(ADD), form_data(), follow=True)
    client = ApiClient.objects.get(name="Backend service")
    assert response.redirect_chain[-1][0].startswith(change_url(client) + "?one_time=")
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    secret = secret_on(page)
    assert secret and len(secret) >= 43
    assert client.client_secret == hash_secret(secret) and client.check_client_secret(secret)
    assert client.client_id in page
    assert "viewsitelink" not in page  # DOT's get_absolute_url names no page here
    assert set(client.allowed_scopes.values_list("name", flat=True)) == {"content:read"}
    assert set(client.image_styles.values_list("name", flat=True)) == {"thumbnail"}
    assert client.grant_types == [GT.CLIENT_CREDENTIALS]

    again = admin_client.get(change_url(client)).content.decode()
    assert secret not in again and secret_on(again) is None
    assert f"sha256 {client.client_secret[7:15]}…" in again  # the masked hint
    assert client.client_secret not in again and client.client_secret[7:] not in again
    assert secret not in admin_client.get(reverse(CHANGELIST)).content.decode()

    created = AuditEvent.objects.get(action=AuditEvent.Action.CLIENT_CREATED, client=client)
    assert created.actor == f"user admin (#{admin_user.pk})"


def test_the_secret_authenticates_at_the_token_endpoint(admin_client, client):
    page = admin_client.post(reverse(ADD), form_data(), follow=True).content.decode()
    api_client = ApiClient.objects.get(name="Backend service")
    response = client.post(
        "/oauth/token",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic(api_client.client_id, secret_on(page)),
    )
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "content:read"


def test_save_and_add_another_still_shows_the_secret(admin_client):
    data = form_data(_save=None, _addanother="1")
    response = admin_client.post(reverse(ADD), data, follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse(ADD) + "?one_time=")
    page = response.content.decode()
    assert secret_on(page) and "Copy the credentials of “Backend service” now" in page


def test_a_public_client_gets_no_secret(admin_client):
    data = form_data(
        name="Mobile app",
        confidential=None,
        grant_types=[GT.AUTHORIZATION_CODE, GT.REFRESH_TOKEN],
        redirect_uris="com.example.app:/callback\nhttp://127.0.0.1/cb",
    )
    page = admin_client.post(reverse(ADD), data, follow=True).content.decode()
    client = ApiClient.objects.get(name="Mobile app")
    assert not client.confidential and client.client_secret == ""
    assert secret_on(page) is None
    assert "public client: it has no secret" in page
    assert "None: a public client has no secret." in page
    assert client.redirect_uris == "com.example.app:/callback http://127.0.0.1/cb"
    # Edited one per line.
    assert "com.example.app:/callback\nhttp://127.0.0.1/cb</textarea>" in page


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"grant_types": []}, "grant_types", "Choose at least one grant type"),
        (
            {"grant_types": [GT.AUTHORIZATION_CODE]},
            "redirect_uris",
            "needs at least one redirect URI",
        ),
        (
            {"grant_types": [GT.AUTHORIZATION_CODE], "redirect_uris": "/callback"},
            "redirect_uris",
            "is not an absolute URI",
        ),
        (
            {"grant_types": [GT.AUTHORIZATION_CODE], "redirect_uris": "http://app.example.com/cb"},
            "redirect_uris",
            "uses http; use https",
        ),
        (
            {"grant_types": [GT.AUTHORIZATION_CODE], "redirect_uris": "https://a.example/cb#x"},
            "redirect_uris",
            "has a fragment",
        ),
        (
            {"grant_types": [GT.CLIENT_CREDENTIALS], "confidential": None},
            "grant_types",
            "Client credentials needs a confidential client",
        ),
        (
            {"grant_types": [GT.CLIENT_CREDENTIALS, GT.REFRESH_TOKEN]},
            "grant_types",
            "Refresh tokens are only issued with the authorization code grant",
        ),
        ({"grant_types": ["password"]}, "grant_types", "Select a valid choice"),
        ({"name": ""}, "name", "This field is required"),
    ],
)
def test_invalid_settings_are_form_errors(admin_client, overrides, field, message):
    response = admin_client.post(reverse(ADD), form_data(**overrides))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Please correct the error" in page
    field_block = re.search(rf'<div class="form-row[^"]*field-{field}.*?</ul>', page, re.S)
    assert field_block and message in field_block.group(0)
    assert not ApiClient.objects.filter(name="Backend service").exists()


# --- confidential <-> public ----------------------------------------------------------


def test_making_a_client_public_needs_the_secret_removed(admin_client):
    client, secret = new_client(
        "Web", grant_types=[GT.AUTHORIZATION_CODE], redirect_uris=["https://web.example.com/cb"]
    )
    edit = form_data(
        name="Web",
        confidential=None,
        grant_types=[GT.AUTHORIZATION_CODE],
        redirect_uris="https://web.example.com/cb",
    )
    page = admin_client.post(change_url(client), edit).content.decode()
    assert "A public client cannot have a secret" in errors_of(page)
    assert 'name="remove_secret"' in page
    # The page still describes the stored client, not the unsaved box.
    assert "Stored as a hash only" in page and regenerate_url(client) in page
    client.refresh_from_db()
    assert client.confidential and client.check_client_secret(secret)

    response = admin_client.post(change_url(client), {**edit, "remove_secret": "on"}, follow=True)
    assert response.status_code == 200
    client.refresh_from_db()
    assert not client.confidential
    assert client.client_secret == "" and client.previous_client_secret == ""
    assert not client.check_client_secret(secret)


def test_removing_the_secret_of_a_confidential_client_is_refused(admin_client):
    client, secret = new_client("Backend")
    data = form_data(name="Backend", remove_secret="on", image_styles=[])
    page = admin_client.post(change_url(client), data).content.decode()
    assert "removed only to make the client public" in errors_of(page)
    client.refresh_from_db()
    assert client.check_client_secret(secret)


def test_making_a_public_client_confidential_generates_its_secret(admin_client):
    client, _ = new_client(
        "Mobile",
        confidential=False,
        grant_types=[GT.AUTHORIZATION_CODE],
        redirect_uris=["com.example.app:/cb"],
    )
    data = form_data(
        name="Mobile",
        grant_types=[GT.AUTHORIZATION_CODE],
        redirect_uris="com.example.app:/cb",
    )
    page = admin_client.post(change_url(client), data, follow=True).content.decode()
    secret = secret_on(page)
    client.refresh_from_db()
    assert client.confidential and secret and client.check_client_secret(secret)


def test_changing_other_settings_generates_no_secret(admin_client):
    default = ApiClient.objects.get(is_default=True)
    data = form_data(name=default.name, allowed_scopes=pks(Scope, "content:read", "user:profile"))
    page = admin_client.post(change_url(default), data, follow=True).content.decode()
    assert secret_on(page) is None
    default.refresh_from_db()
    assert default.client_secret == ""
    assert default.allowed_scopes.count() == 2


# --- "Regenerate secret" ----------------------------------------------------------------


@override_settings(SOURCE_OAUTH={"SECRET_ROTATION_OVERLAP_SECONDS": 3600})
def test_regenerate_secret_shows_the_new_secret_once(admin_client, admin_user):
    client, old = new_client("Backend")
    page = admin_client.get(change_url(client)).content.decode()
    assert f'href="{regenerate_url(client)}"' in page and "Regenerate secret" in page

    confirm = admin_client.get(regenerate_url(client)).content.decode()
    assert "keeps working for 60 more minutes" in confirm
    response = admin_client.post(regenerate_url(client), {}, follow=True)
    assert response.redirect_chain[-1][0].startswith(change_url(client) + "?one_time=")
    new = secret_on(response.content.decode())
    client.refresh_from_db()
    assert new and new != old
    assert client.check_client_secret(new) and client.check_client_secret(old)  # overlap
    assert "The previous secret keeps working until" in response.content.decode()
    assert secret_on(admin_client.get(change_url(client)).content.decode()) is None
    rotated = AuditEvent.objects.get(action=AuditEvent.Action.SECRET_ROTATED, client=client)
    assert rotated.actor == f"user admin (#{admin_user.pk})"


@override_settings(SOURCE_OAUTH={"SECRET_ROTATION_OVERLAP_SECONDS": 0})
def test_without_overlap_the_old_secret_stops_at_once(admin_client):
    client, old = new_client("Backend")
    confirm = admin_client.get(regenerate_url(client)).content.decode()
    assert "The current secret stops working at once." in confirm
    assert 'name="stop_now"' not in confirm
    page = admin_client.post(regenerate_url(client), {}, follow=True).content.decode()
    client.refresh_from_db()
    assert client.check_client_secret(secret_on(page)) and not client.check_client_secret(old)


@override_settings(SOURCE_OAUTH={"SECRET_ROTATION_OVERLAP_SECONDS": 3600})
def test_a_leaked_secret_can_be_stopped_at_once(admin_client):
    client, old = new_client("Backend")
    page = admin_client.post(regenerate_url(client), {"stop_now": "on"}, follow=True)
    new = secret_on(page.content.decode())
    client.refresh_from_db()
    assert client.check_client_secret(new) and not client.check_client_secret(old)


def test_the_default_client_gets_its_first_secret_on_request(admin_client):
    default = ApiClient.objects.get(is_default=True)
    page = admin_client.get(change_url(default)).content.decode()
    assert "Generate secret" in page
    page = admin_client.post(regenerate_url(default), {}, follow=True).content.decode()
    default.refresh_from_db()
    assert default.check_client_secret(secret_on(page))


def test_a_public_client_has_no_secret_to_regenerate(admin_client):
    client, _ = new_client(
        "Mobile",
        confidential=False,
        grant_types=[GT.AUTHORIZATION_CODE],
        redirect_uris=["com.example.app:/cb"],
    )
    assert "Regenerate secret" not in admin_client.get(change_url(client)).content.decode()
    response = admin_client.post(regenerate_url(client), {}, follow=True)
    assert "has no secret to regenerate" in response.content.decode()
    client.refresh_from_db()
    assert client.client_secret == ""


def test_regenerating_an_unknown_client_redirects(admin_client):
    response = admin_client.get(
        reverse("admin:source_oauth_apiclient_regenerate_secret", args=[999999])
    )
    assert response.status_code == 302


# --- the default client ----------------------------------------------------------------


def test_the_default_client_is_marked_and_cannot_be_deleted(admin_client):
    default = ApiClient.objects.get(is_default=True)
    page = admin_client.get(change_url(default)).content.decode()
    assert "This is the default API client" in page
    assert 'class="deletelink"' not in page
    delete = reverse("admin:source_oauth_apiclient_delete", args=[default.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert ApiClient.objects.filter(pk=default.pk).exists()


def test_bulk_delete_refuses_the_default_client(admin_client):
    other, _ = new_client("Backend")
    default = ApiClient.objects.get(is_default=True)
    for confirmed in ({}, {"post": "yes"}):
        data = {"action": "delete_selected", "_selected_action": [default.pk, other.pk]}
        response = admin_client.post(reverse(CHANGELIST), {**data, **confirmed}, follow=True)
        assert "is the default API client and cannot be deleted" in response.content.decode()
    assert ApiClient.objects.filter(pk__in=[default.pk, other.pk]).count() == 2

    data = {"action": "delete_selected", "_selected_action": [other.pk], "post": "yes"}
    admin_client.post(reverse(CHANGELIST), data)
    assert not ApiClient.objects.filter(pk=other.pk).exists()


def test_other_clients_can_be_deleted_one_by_one(admin_client):
    other, _ = new_client("Backend")
    delete = reverse("admin:source_oauth_apiclient_delete", args=[other.pk])
    assert admin_client.get(delete).status_code == 200
    admin_client.post(delete, {"post": "yes"})
    assert not ApiClient.objects.filter(pk=other.pk).exists()


def test_the_default_flag_is_not_editable_and_unique(admin_client):
    admin_client.post(reverse(ADD), form_data(is_default="on"))
    assert not ApiClient.objects.get(name="Backend service").is_default
    assert ApiClient.objects.filter(is_default=True).count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiClient.objects.create(name="Second default", is_default=True)


# --- tokens ------------------------------------------------------------------------------


RAW_ACCESS = "access-" + "A1b2C3d4" * 5
RAW_REFRESH = "refresh-" + "Z9y8X7w6" * 5


@pytest.fixture
def tokens(admin_user):
    client, _ = new_client("Backend")
    access, refresh = make_tokens(
        client, admin_user, raw_access=RAW_ACCESS, raw_refresh=RAW_REFRESH
    )
    return client, access, refresh


def token_urls(access, refresh):
    return [
        reverse("admin:source_oauth_accesstoken_changelist"),
        reverse("admin:source_oauth_accesstoken_change", args=[access.pk]),
        reverse("admin:source_oauth_refreshtoken_changelist"),
        reverse("admin:source_oauth_refreshtoken_change", args=[refresh.pk]),
    ]


def test_tokens_are_listed_per_client_and_user_masked(admin_client, tokens):
    client, access, refresh = tokens
    page = admin_client.get(reverse("admin:source_oauth_accesstoken_changelist")).content
    page = page.decode()
    assert f"{access.token_checksum[:8]}…" in page
    assert "Backend" in page and ">admin<" in page
    assert "?application__id__exact=" in page and "?user__id__exact=" in page
    filtered = admin_client.get(
        reverse("admin:source_oauth_refreshtoken_changelist"),
        {"application__id__exact": client.pk},
    ).content.decode()
    assert f"{refresh.token_checksum[:8]}…" in filtered
    # The client's page links to its tokens.
    client_page = admin_client.get(change_url(client)).content.decode()
    assert f"?application__id__exact={client.pk}" in client_page
    assert "1 access token<" in client_page and "1 active refresh token<" in client_page


@pytest.mark.parametrize("plaintext_storage", [False, True])
def test_no_token_page_shows_a_token_or_its_checksum(admin_client, admin_user, plaintext_storage):
    settings = {**OAUTH2_PROVIDER, "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": not plaintext_storage}
    with override_settings(OAUTH2_PROVIDER=settings):
        client, _ = new_client("Backend")
        access, refresh = make_tokens(
            client, admin_user, raw_access=RAW_ACCESS, raw_refresh=RAW_REFRESH
        )
        assert bool(access.token) is plaintext_storage
        for url in token_urls(access, refresh):
            response = admin_client.get(url)
            assert response.status_code == 200, url
            page = response.content.decode()
            for value in (RAW_ACCESS, RAW_REFRESH, access.token_checksum, refresh.token_checksum):
                assert value not in page, url
            assert "<textarea" not in page and 'name="token' not in page


def test_token_detail_pages_are_read_only(admin_client, tokens):
    _, access, refresh = tokens
    for url in token_urls(access, refresh)[1::2]:
        page = admin_client.get(url).content.decode()
        assert 'name="_save"' not in page
    url = reverse("admin:source_oauth_accesstoken_change", args=[access.pk])
    assert admin_client.post(url, {"scope": "content:write"}).status_code == 403
    assert reverse("admin:source_oauth_accesstoken_add")
    assert admin_client.get(reverse("admin:source_oauth_accesstoken_add")).status_code == 403


def test_revoke_access_tokens(admin_client, admin_user, tokens):
    client, access, refresh = tokens
    response = admin_client.post(
        reverse("admin:source_oauth_accesstoken_changelist"),
        {"action": "revoke_tokens", "_selected_action": [access.pk]},
        follow=True,
    )
    assert "Revoked 1 access token." in response.content.decode()
    assert not AccessToken.objects.filter(pk=access.pk).exists()
    refresh.refresh_from_db()
    assert refresh.revoked is not None  # DOT revokes the bound refresh token too
    event = AuditEvent.objects.get(action=AuditEvent.Action.TOKEN_REVOKED)
    assert event.client == client and event.actor == f"user admin (#{admin_user.pk})"
    assert event.detail == {"tokens": ["access_token", "refresh_token"]}


def test_revoke_refresh_tokens(admin_client, tokens):
    _, access, refresh = tokens
    url = reverse("admin:source_oauth_refreshtoken_changelist")
    data = {"action": "revoke_tokens", "_selected_action": [refresh.pk]}
    page = admin_client.post(url, data, follow=True).content.decode()
    assert "Revoked 1 refresh token." in page
    refresh.refresh_from_db()
    assert refresh.revoked is not None
    assert not AccessToken.objects.filter(pk=access.pk).exists()
    revoked = admin_client.get(url, {"status": "revoked"}).content.decode()
    assert f"{refresh.token_checksum[:8]}…" in revoked
    active = admin_client.get(url, {"status": "active"}).content.decode()
    assert f"{refresh.token_checksum[:8]}…" not in active


def test_revoked_tokens_no_longer_work(admin_client, client):
    api_client, secret = new_client("Backend")
    issued = client.post(
        "/oauth/token",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic(api_client.client_id, secret),
    ).json()["access_token"]
    token = AccessToken.objects.get(application=api_client)
    admin_client.post(
        reverse("admin:source_oauth_accesstoken_changelist"),
        {"action": "revoke_tokens", "_selected_action": [token.pk]},
    )
    response = client.post(
        "/oauth/introspect",
        {"token": issued},
        HTTP_AUTHORIZATION=basic(api_client.client_id, secret),
    )
    assert response.json()["active"] is False


def test_dots_own_admin_section_is_gone(admin_client):
    """Grants (codes alive 60 s) and ID tokens are not listed; tokens are, under API."""
    from django.contrib import admin
    from oauth2_provider.models import get_id_token_model

    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "Django OAuth Toolkit" not in page and "/admin/oauth2_provider/" not in page
    for model in (Grant, get_id_token_model(), AccessToken, RefreshToken):
        assert not admin.site.is_registered(model)
    assert admin_client.get("/admin/oauth2_provider/grant/").status_code == 404


def test_e003_covers_the_token_admins(settings):
    from source_oauth.checks import check_dot_settings

    settings.OAUTH2_PROVIDER = {
        **OAUTH2_PROVIDER,
        "GRANT_ADMIN_CLASS": "oauth2_provider.admin.GrantAdmin",
    }
    messages = check_dot_settings()
    assert [m.id for m in messages] == ["source_oauth.E003"]
    assert "GRANT_ADMIN_CLASS" in messages[0].msg


# --- no page shows a secret's hash -----------------------------------------------------


def test_no_client_page_shows_the_stored_hash(admin_client, tokens):
    client, _, _ = tokens
    client.set_new_secret(timedelta(hours=1))  # a previous secret in overlap, too
    client.save()
    urls = [
        reverse(CHANGELIST),
        reverse(ADD),
        change_url(client),
        regenerate_url(client),
        reverse("admin:source_oauth_apiclient_history", args=[client.pk]),
        reverse("admin:source_oauth_apiclient_delete", args=[client.pk]),
        reverse("admin:source_oauth_auditevent_changelist"),
    ]
    stored = [client.client_secret, client.previous_client_secret]
    assert all(stored)
    for url in urls:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        for value in stored:
            assert value not in page and value.split("$", 1)[1] not in page, url
    page = admin_client.get(change_url(client)).content.decode()
    assert 'name="client_secret"' not in page and 'name="previous_client_secret"' not in page


# --- scopes ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["content read", 'content"read', "content\\read", "inhalt:lesen✓"])
def test_scope_names_follow_rfc_6749(admin_client, name):
    url = reverse("admin:source_oauth_scope_add")
    response = admin_client.post(url, {"name": name, "description": "Nope"})
    assert response.status_code == 200
    assert "RFC 6749 §3.3" in errors_of(response.content.decode())
    assert not Scope.objects.filter(name=name).exists()


def test_a_valid_scope_is_saved_with_its_description(admin_client):
    url = reverse("admin:source_oauth_scope_add")
    data = {"name": "content:publish", "description": "Publish content"}
    assert admin_client.post(url, data).status_code == 302
    assert Scope.objects.get(name="content:publish").description == "Publish content"
    page = admin_client.get(reverse(ADD)).content.decode()
    assert "content:publish — Publish content" in page


# --- permissions -------------------------------------------------------------------------


@pytest.fixture
def staff(django_user_model, client):
    user = django_user_model.objects.create_user("editor", password="pw", is_staff=True)
    client.force_login(user)
    return user


def test_staff_without_permissions_cannot_see_or_change_clients(client, staff):
    api_client, _ = new_client("Backend")
    assert "API clients" not in client.get(reverse("admin:index")).content.decode()
    for url in (reverse(CHANGELIST), reverse(ADD), change_url(api_client)):
        assert client.get(url).status_code == 403, url
    assert client.post(regenerate_url(api_client)).status_code == 403
    assert client.post(change_url(api_client), form_data(name="Hacked")).status_code == 403
    api_client.refresh_from_db()
    assert api_client.name == "Backend"
    url = reverse("admin:source_oauth_accesstoken_changelist")
    assert client.get(url).status_code == 403


def test_view_permission_shows_the_client_read_only(client, staff):
    staff.user_permissions.add(Permission.objects.get(codename="view_apiclient"))
    api_client, secret = new_client(
        "Web",
        grant_types=[GT.AUTHORIZATION_CODE, GT.REFRESH_TOKEN],
        redirect_uris=["https://web.example.com/cb"],
    )
    page = client.get(change_url(api_client)).content.decode()
    assert "Authorization code, Refresh token" in page
    assert 'name="_save"' not in page and "Regenerate secret" not in page
    assert api_client.client_secret not in page
    assert client.get(regenerate_url(api_client)).status_code == 403
    assert client.post(regenerate_url(api_client)).status_code == 403
    assert client.post(change_url(api_client), form_data(name="Hacked")).status_code == 403
    api_client.refresh_from_db()
    assert api_client.check_client_secret(secret) and api_client.name == "Web"


def test_change_permission_without_delete_cannot_bulk_delete(client, staff):
    for codename in ("view_apiclient", "change_apiclient"):
        staff.user_permissions.add(Permission.objects.get(codename=codename))
    other, _ = new_client("Backend")
    data = {"action": "delete_selected", "_selected_action": [other.pk], "post": "yes"}
    client.post(reverse(CHANGELIST), data)
    assert ApiClient.objects.filter(pk=other.pk).exists()
    # ...but may regenerate a secret.
    response = client.post(regenerate_url(other), {}, follow=True)
    assert secret_on(response.content.decode())


def test_tokens_are_listed_in_the_api_section(admin_client):
    index = admin_client.get(reverse("admin:app_list", args=["source_oauth"])).content.decode()
    for url in (
        reverse("admin:source_oauth_apiclient_changelist"),
        reverse("admin:source_oauth_accesstoken_changelist"),
        reverse("admin:source_oauth_refreshtoken_changelist"),
        reverse("admin:source_oauth_scope_changelist"),
        reverse("admin:source_oauth_imagestyle_changelist"),
    ):
        assert url in index
    assert "/admin/oauth2_provider/accesstoken/" not in admin_client.get("/admin/").content.decode()
