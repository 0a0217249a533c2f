"""The API section as an administrator meets it: the one-time secret, warnings, labels, records.

Driven through Django's test client; the same journeys run in Chromium in
``test_admin_browser.py``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from source_oauth.admin import one_time
from source_oauth.models import ApiClient, AuditEvent, RevokedAccessToken, Scope
from tests.oauth_helpers import basic, new_client
from tests.test_admin import (
    ADD,
    change_url,
    form_data,
    make_tokens,
    pks,
    regenerate_url,
    secret_on,
)

pytestmark = pytest.mark.usefixtures("catalog")

GT = ApiClient.GrantType
AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
Action = AuditEvent.Action


def everything_sent(response) -> str:
    """Every header and cookie of a test-client response, as one string."""
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    return headers + "\n" + response.cookies.output()


# --- the one-time secret: never in a cookie or a header -------------------------------------------


def test_a_new_secret_travels_in_no_cookie_and_no_header(admin_client):
    saved = admin_client.post(reverse(ADD), form_data())
    assert saved.status_code == 302
    page = admin_client.get(saved["Location"])
    secret = secret_on(page.content.decode())
    assert secret
    for response in (saved, page):
        assert secret not in everything_sent(response)
    # The session holds it only sealed, and no longer once shown.
    assert secret not in str(dict(admin_client.session))
    assert secret not in str(admin_client.cookies)


def test_the_session_holds_the_secret_sealed_until_it_is_shown(admin_client):
    saved = admin_client.post(reverse(ADD), form_data())
    secret_key = saved["Location"].split(f"{one_time.PARAM}=")[1]
    held = admin_client.session[one_time.SESSION_KEY]
    assert len(held) == 1
    client = ApiClient.objects.get(name="Backend service")
    page = admin_client.get(change_url(client), {one_time.PARAM: secret_key}).content.decode()
    secret = secret_on(page)
    assert client.check_client_secret(secret)
    assert secret not in str(held) and secret_key not in str(held)
    assert admin_client.session[one_time.SESSION_KEY] == {}


def test_the_secret_is_shown_once(admin_client):
    response = admin_client.post(reverse(ADD), form_data(), follow=True)
    assert secret_on(response.content.decode())
    again = admin_client.get(response.redirect_chain[-1][0]).content.decode()
    assert secret_on(again) is None
    assert "it cannot be shown again" in again


def test_the_link_shows_nothing_in_another_session(admin_client, client, admin_user):
    saved = admin_client.post(reverse(ADD), form_data())
    client.force_login(admin_user)  # the same person, another browser
    page = client.get(saved["Location"]).content.decode()
    assert secret_on(page) is None and "it cannot be shown again" in page
    assert secret_on(admin_client.get(saved["Location"]).content.decode())  # still there


@pytest.mark.parametrize("key", ["", "%%%", "AAAA", "x" * 200])
def test_a_wrong_key_shows_nothing(admin_client, key):
    saved = admin_client.post(reverse(ADD), form_data())
    url = saved["Location"].split("?")[0]
    response = admin_client.get(url, {one_time.PARAM: key})
    assert response.status_code == 200 and secret_on(response.content.decode()) is None


def test_sessions_in_a_signed_cookie_carry_the_secret_sealed_only(admin_user, client, settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    client.force_login(admin_user)
    saved = client.post(reverse(ADD), form_data())
    page = client.get(saved["Location"])
    secret = secret_on(page.content.decode())
    assert secret
    for response in (saved, page):
        assert secret not in everything_sent(response)


def test_a_regenerated_secret_travels_in_no_cookie_either(admin_client):
    api_client, _ = new_client("Backend")
    rotated = admin_client.post(regenerate_url(api_client), {})
    page = admin_client.get(rotated["Location"])
    secret = secret_on(page.content.decode())
    api_client.refresh_from_db()
    assert api_client.check_client_secret(secret)
    assert secret not in everything_sent(rotated) + everything_sent(page)


def test_the_secret_is_shown_next_to_the_client_id_with_copy_buttons(admin_client):
    page = admin_client.post(reverse(ADD), form_data(), follow=True).content.decode()
    client = ApiClient.objects.get(name="Backend service")
    panel = re.search(r'<section class="source-oauth-credentials".*?</section>', page, re.S)
    assert panel, "the credentials are shown above the form"
    panel = panel.group(0)
    assert client.client_id in panel and secret_on(panel)
    assert "The client secret will not be shown again." in panel
    assert panel.count('class="source-oauth-copy"') == 2
    assert "source_oauth/admin.js" in page


# --- warnings and errors --------------------------------------------------------------------------


def test_saving_a_client_without_scopes_warns_and_saves(admin_client):
    page = admin_client.post(reverse(ADD), form_data(allowed_scopes=[]), follow=True)
    page = page.content.decode()
    assert re.search(r'class="warning">[^<]*has no allowed scopes', page)
    assert ApiClient.objects.get(name="Backend service").allowed_scopes.count() == 0
    with_scope = admin_client.post(reverse(ADD), form_data(name="Other"), follow=True)
    assert "has no allowed scopes" not in with_scope.content.decode()


def test_redirect_uri_errors_name_each_bad_line_once(admin_client):
    lines = (
        "https://ok.example.com/cb\nhttp://app.example.com/cb extra words\n\nhttp://b.example/cb"
    )
    data = form_data(grant_types=[GT.AUTHORIZATION_CODE], redirect_uris=lines)
    page = admin_client.post(reverse(ADD), data).content.decode()
    block = re.search(r"field-redirect_uris.*?</ul>", page, re.S).group(0)
    errors = re.findall(r"<li>(.*?)</li>", block)
    assert errors == [
        "Line 2: “http://app.example.com/cb extra words” contains a space. Put one URI per line.",
        "Line 4: “http://b.example/cb” uses http; use https (http is only allowed for loopback "
        "hosts).",
    ]
    assert not ApiClient.objects.filter(name="Backend service").exists()


# --- the default client's delete URL --------------------------------------------------------------


def test_the_default_clients_delete_url_says_why_it_cannot_be_deleted(admin_client):
    default = ApiClient.objects.get(is_default=True)
    url = reverse("admin:source_oauth_apiclient_delete", args=[default.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Cannot delete the default API client" in text
    assert "stands for every request that carries no token" in text
    assert change_url(default) in text and 'name="post"' not in text
    refused = admin_client.post(url, {"post": "yes"})
    assert refused.status_code == 403 and "cannot be deleted" in refused.content.decode()
    assert ApiClient.objects.filter(pk=default.pk).exists()


# --- view-only staff ------------------------------------------------------------------------------


@pytest.fixture
def viewer(django_user_model, client):
    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_apiclient"))
    client.force_login(user)
    return user


def labels_and_help(page: str) -> tuple[list[str], list[str]]:
    labels = [
        label.strip().rstrip(":")
        # Django 6.1 titles a group of checkboxes with a <legend>, earlier ones with a <label>.
        for label in re.findall(r"<(?:label|legend)[^>]*>([^<]+)</(?:label|legend)>", page)
        if label.strip()
    ]
    helps = re.findall(r'<div class="help"[^>]*>\s*<div>(.*?)</div>', page, re.S)
    helps = [h.strip() for h in helps]
    return labels, helps


def test_view_only_staff_see_the_editors_labels_and_help_texts(admin_client, client, viewer):
    api_client, _ = new_client(
        "Web",
        grant_types=[GT.AUTHORIZATION_CODE, GT.REFRESH_TOKEN],
        redirect_uris=["https://web.example.com/cb"],
    )
    edit_labels, edit_helps = labels_and_help(admin_client.get(change_url(api_client)).text)
    view_page = client.get(change_url(api_client)).content.decode()
    view_labels, view_helps = labels_and_help(view_page)
    seed = [
        "Name",
        "Image Styles",
        "Confidential Client",
        "Require PKCE",
        "3rd Party",
        "Allowed Scopes",
        "Redirect URIs",
        "Grant types",
    ]
    for label in seed:
        assert label in edit_labels and label in view_labels, label
    # Every help text an editor reads, but the one of the box view-only staff cannot tick.
    missing = set(edit_helps) - set(view_helps)
    assert [h for h in missing if not h.startswith("Tick together")] == []
    assert "a new one can be generated" not in view_page
    assert "Regenerate secret" not in view_page


def test_view_only_staff_get_no_links_they_cannot_follow(client, viewer):
    api_client, _ = new_client("Backend")
    page = client.get(change_url(api_client)).content.decode()
    assert "0 access tokens · 0 active refresh tokens" in page
    for href in re.findall(r'href="([^"#]+)"', page):
        if href.startswith("/admin/") and "logout" not in href:
            assert client.get(href).status_code in (200, 302), href


def test_editors_get_links_to_the_clients_tokens(admin_client):
    api_client, _ = new_client("Backend")
    page = admin_client.get(change_url(api_client)).content.decode()
    assert f"/admin/source_oauth/accesstoken/?application__id__exact={api_client.pk}" in page


def test_require_pkce_says_what_turning_it_off_costs(admin_client):
    page = admin_client.get(reverse(ADD)).content.decode()
    assert "Always on for public clients" in page
    assert "authorization code (RFC 9700 §2.1.1)" in page


# --- revoked access tokens stay findable ----------------------------------------------------------


def test_revoked_access_tokens_are_listed_under_status_revoked(admin_client, admin_user):
    api_client, _ = new_client("Backend")
    access, _ = make_tokens(api_client, admin_user, raw_access="a" * 40, raw_refresh="r" * 40)
    other, _ = make_tokens(api_client, admin_user, raw_access="b" * 40, raw_refresh="s" * 40)
    url = reverse("admin:source_oauth_accesstoken_changelist")
    admin_client.post(url, {"action": "revoke_tokens", "_selected_action": [access.pk]})

    revoked = admin_client.get(url, {"status": "revoked"}).content.decode()
    assert f"{access.token_checksum[:8]}…" in revoked
    assert f"{other.token_checksum[:8]}…" not in revoked
    assert "Select revoked access token to view" in revoked
    assert access.token_checksum not in revoked  # never the whole checksum
    valid = admin_client.get(url, {"status": "valid"}).content.decode()
    assert f"{other.token_checksum[:8]}…" in valid
    assert f"{access.token_checksum[:8]}…" not in valid
    for page in (revoked, valid):  # one filter, on both listings
        assert "?status=revoked" in page and "?status=valid" in page
    query = {"status": "revoked", "application__id__exact": api_client.pk}
    by_client = admin_client.get(url, query)
    assert f"{access.token_checksum[:8]}…" in by_client.content.decode()
    row = RevokedAccessToken.objects.get()
    detail_url = reverse("admin:source_oauth_revokedaccesstoken_change", args=[row.pk])
    detail = admin_client.get(detail_url)
    assert detail.status_code == 200 and "Backend" in detail.content.decode()


def test_a_token_revoked_by_its_client_is_remembered(client, admin_user):
    api_client, secret = new_client("Backend")
    issued = client.post(
        "/oauth/token",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic(api_client.client_id, secret),
    ).json()["access_token"]
    client.post(
        "/oauth/revoke", {"token": issued}, HTTP_AUTHORIZATION=basic(api_client.client_id, secret)
    )
    row = RevokedAccessToken.objects.get()
    assert row.application == api_client and row.scope == "content:read"


def test_expired_tokens_and_deleted_clients_are_not_revocations(admin_user):
    api_client, _ = new_client("Backend")
    access = AccessToken.objects.create(
        user=admin_user,
        application=api_client,
        token_checksum="e" * 64,
        expires=timezone.now() - timedelta(seconds=1),
        scope="content:read",
    )
    call_command("cleartokens")
    assert not AccessToken.objects.filter(pk=access.pk).exists()
    assert not RevokedAccessToken.objects.exists()
    make_tokens(api_client, admin_user, raw_access="b" * 40, raw_refresh="s" * 40)
    api_client.delete()  # its tokens go with it
    assert not RevokedAccessToken.objects.exists()


def test_revoked_tokens_are_forgotten_after_the_refresh_token_lifetime(admin_user, settings):
    api_client, _ = new_client("Backend")
    RevokedAccessToken.objects.create(
        token_checksum="0" * 64,
        application=api_client,
        created=timezone.now() - timedelta(days=40),
        expires=timezone.now() - timedelta(days=40),
        revoked=timezone.now() - timedelta(days=31),
    )
    access, _ = make_tokens(api_client, admin_user, raw_access="a" * 40, raw_refresh="r" * 40)
    access.revoke()
    assert RevokedAccessToken.objects.count() == 2  # a revocation deletes nothing else
    call_command("clear_expired_oauth", stdout=StringIO())
    assert list(RevokedAccessToken.objects.values_list("token_checksum", flat=True)) == [
        access.token_checksum
    ]


def test_staff_without_token_permissions_cannot_list_revoked_tokens(client, viewer):
    url = reverse("admin:source_oauth_accesstoken_changelist")
    assert client.get(url, {"status": "revoked"}).status_code == 403
    revoked_list = reverse("admin:source_oauth_revokedaccesstoken_changelist")
    assert client.get(revoked_list).status_code == 403
    index = client.get(reverse("admin:index")).content.decode()
    assert "Revoked access tokens" not in index


# --- the audit trail ------------------------------------------------------------------------------


def test_an_admin_save_is_one_audit_event_with_what_changed(admin_client, admin_user):
    api_client, _ = new_client("Backend", scopes=["content:read"])
    before = AuditEvent.objects.count()
    data = form_data(
        name="Backend v2",
        allowed_scopes=pks(Scope, "content:write"),
        image_styles=[],
        third_party="on",
        require_pkce="on",
    )
    admin_client.post(change_url(api_client), data)
    events = list(AuditEvent.objects.order_by("id")[before:])
    assert [e.action for e in events] == [Action.CLIENT_CHANGED]
    event = events[0]
    assert event.actor == f"user admin (#{admin_user.pk})"
    assert event.detail["changes"] == {
        "name": {"from": "Backend", "to": "Backend v2"},
        "third_party": {"from": False, "to": True},
        "allowed_scopes": {"added": ["content:write"], "removed": ["content:read"]},
    }
    listing = admin_client.get(reverse("admin:source_oauth_auditevent_changelist")).content
    text = listing.decode()
    assert "Name: “Backend” → “Backend v2”" in text
    assert "3rd Party: No → Yes" in text
    assert "Allowed Scopes: + content:write, − content:read" in text


def test_adding_a_client_in_the_admin_is_one_event_with_its_settings(admin_client):
    admin_client.post(reverse(ADD), form_data())
    client = ApiClient.objects.get(name="Backend service")
    events = AuditEvent.objects.filter(client_identifier=client.client_id)
    assert [e.action for e in events] == [Action.CLIENT_CREATED]
    changes = events[0].detail["changes"]
    assert changes["allowed_scopes"] == {"added": ["content:read"]}
    assert changes["image_styles"] == {"added": ["thumbnail"]}
    assert changes["grant_types"] == {"from": None, "to": ["client_credentials"]}
    assert "client_secret" not in str(events[0].detail)


def test_saving_without_changes_records_nothing(admin_client):
    api_client, _ = new_client("Backend", image_styles=["thumbnail"])
    before = AuditEvent.objects.count()
    data = form_data(name="Backend", require_pkce="on")
    admin_client.post(change_url(api_client), data)
    assert AuditEvent.objects.count() == before


def test_the_audit_list_counts_audit_events(admin_client):
    new_client("Backend")
    new_client("Website")
    page = admin_client.get(reverse("admin:source_oauth_auditevent_changelist")).content.decode()
    assert "2 audit events" in page
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert "Audit events" in index and "Audit trail" not in index


def test_command_line_changes_are_attributed_to_the_command_line(capsys):
    call_command("create_api_client", "Backend", "--scope", "content:read", "--json")
    client = ApiClient.objects.get(name="Backend")
    call_command("rotate_client_secret", client.client_id, "--json")
    events = list(AuditEvent.objects.filter(client_identifier=client.client_id).order_by("id"))
    assert [e.action for e in events] == [Action.CLIENT_CREATED, Action.SECRET_ROTATED]
    assert events[0].actor.startswith("command line (manage.py create_api_client")
    assert events[1].actor.startswith("command line (manage.py rotate_client_secret")


def test_secret_rotations_and_revocations_read_as_words(admin_client, admin_user):
    api_client, _ = new_client("Backend")
    admin_client.post(regenerate_url(api_client), {"stop_now": "on"})
    access, _ = make_tokens(api_client, admin_user, raw_access="a" * 40, raw_refresh="r" * 40)
    admin_client.post(
        reverse("admin:source_oauth_accesstoken_changelist"),
        {"action": "revoke_tokens", "_selected_action": [access.pk]},
    )
    page = admin_client.get(reverse("admin:source_oauth_auditevent_changelist")).content.decode()
    assert "The previous secret stopped working at once." in page
    assert "Access token and refresh token" in page


def test_a_token_without_refresh_token_revoked_in_the_admin_is_remembered_and_refused(
    admin_client, client
):
    """The admin deletes through its proxy model: the revocation receivers must hear it too."""
    api_client, secret = new_client("Backend")
    issued = client.post(
        "/oauth/token",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic(api_client.client_id, secret),
    ).json()["access_token"]
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {issued}"}
    assert client.get("/api/articles/", **bearer).status_code == 200  # now cached
    token = AccessToken.objects.get(application=api_client)
    url = reverse("admin:source_oauth_accesstoken_changelist")
    admin_client.post(url, {"action": "revoke_tokens", "_selected_action": [token.pk]})

    assert client.get("/api/articles/", **bearer).status_code == 401
    assert RevokedAccessToken.objects.get().token_checksum == token.token_checksum
    revoked = admin_client.get(url, {"status": "revoked"}).content.decode()
    assert f"{token.token_checksum[:8]}…" in revoked


def test_an_id_token_algorithm_without_a_key_is_a_form_error(admin_client):
    data = form_data(
        name="Partner",
        grant_types=[GT.AUTHORIZATION_CODE],
        redirect_uris="https://partner.example.com/cb",
        algorithm="ES256",
    )
    response = admin_client.post(reverse(ADD), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["algorithm"]
    assert "oidc_keys generate --algorithm ES256" in errors[0]
    assert not ApiClient.objects.filter(name="Partner").exists()

    call_command("oidc_keys", "generate", "--algorithm", "ES256", stdout=StringIO())
    assert admin_client.post(reverse(ADD), data).status_code == 302
    assert ApiClient.objects.get(name="Partner").algorithm == "ES256"
