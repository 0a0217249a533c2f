"""A token never carries a scope outside its client's allowed scopes, after a change too.

An administrator takes ``content:write`` away from a client that holds live
tokens: from then on those tokens cannot write, on any server, and a refresh
does not bring the scope back.
"""

from __future__ import annotations

import requests
from django.urls import reverse

from source_oauth.models import ApiClient, Scope
from tests.oauth_helpers import (
    REDIRECT_URI,
    follow_to_redirect_uri,
    login,
    new_client,
    pkce_pair,
    query_of,
    web_client,
)
from tests.test_admin import form_data, pks

ARTICLE = {"title": "Hello", "body": "World", "status": "published"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def client_credentials(server, client, secret) -> str:
    return requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, secret),
        timeout=30,
    ).json()["access_token"]


def introspected_scope(server, token, client, secret) -> str:
    return requests.post(
        f"{server}/oauth/introspect", data={"token": token}, auth=(client.client_id, secret)
    ).json()["scope"]


def test_a_scope_taken_away_in_the_admin_leaves_live_tokens_at_once(server, admin_client):
    client, secret = new_client(scopes=["content:read", "content:write"])
    token = client_credentials(server, client, secret)
    api = f"{server}/api/articles/"
    assert requests.get(api, headers=bearer(token)).status_code == 200  # cached now

    # The administrator unticks "content:write" on the client's page and saves.
    change = reverse("admin:source_oauth_apiclient_change", args=[client.pk])
    saved = admin_client.post(
        change, form_data(name=client.name, allowed_scopes=pks(Scope, "content:read"))
    )
    assert saved.status_code == 302, saved.content.decode()[:2000]

    created = requests.post(api, json=ARTICLE, headers=bearer(token))
    assert created.status_code == 403
    assert created.json()["error"] == "insufficient_scope"
    assert requests.get(api, headers=bearer(token)).status_code == 200
    assert introspected_scope(server, token, client, secret) == "content:read"


def test_a_refresh_does_not_bring_a_removed_scope_back(server, user, user_password):
    client, secret = web_client(scopes=["content:read", "user:profile"])
    session = requests.Session()
    login(session, server, user.username, user_password)
    verifier, challenge = pkce_pair()
    url = f"{server}/oauth/authorize?" + "&".join(
        f"{k}={v}"
        for k, v in {
            "client_id": client.client_id,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "scope": "content:read%20user:profile",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }.items()
    )
    code = query_of(follow_to_redirect_uri(session, url))["code"]
    tokens = requests.post(
        f"{server}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=(client.client_id, secret),
    ).json()
    assert requests.get(f"{server}/api/me/", headers=bearer(tokens["access_token"])).ok

    Scope.objects.get(name="user:profile").api_clients.remove(client)  # the other side
    assert (
        requests.get(f"{server}/api/me/", headers=bearer(tokens["access_token"])).status_code == 403
    )
    refreshed = requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(client.client_id, secret),
    ).json()
    assert refreshed["scope"] == "content:read"


def test_a_deleted_or_renamed_scope_leaves_the_tokens(server):
    Scope.objects.create(name="reports:read", description="Read the reports")
    Scope.objects.create(name="stats:read", description="Read the statistics")
    client, secret = new_client(scopes=["content:read", "reports:read", "stats:read"])
    token = client_credentials(server, client, secret)
    Scope.objects.get(name="reports:read").delete()
    scope = Scope.objects.get(name="stats:read")
    scope.name = "statistics:read"
    scope.save()
    assert introspected_scope(server, token, client, secret) == "content:read"
    assert ApiClient.objects.get(pk=client.pk).allowed_scope_names == [
        "content:read",
        "statistics:read",
    ]
