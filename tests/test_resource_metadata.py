"""RFC 9728: a client that only knows the API finds its authorization server, and signs in."""

from __future__ import annotations

import re

import pytest
import requests

from tests.oauth_helpers import issued_token


def challenge_params(header: str) -> dict[str, str]:
    assert header.startswith("Bearer ")
    return dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', header))


def test_the_api_names_its_metadata_and_the_metadata_its_authorization_server(server):
    # A client knows only the API: a request without a token is refused with directions.
    refusal = requests.post(f"{server}/api/articles/", json={"title": "x"}, timeout=30)
    assert refusal.status_code == 401
    params = challenge_params(refusal.headers["WWW-Authenticate"])
    assert params["resource_metadata"] == f"{server}/.well-known/oauth-protected-resource"

    metadata = requests.get(params["resource_metadata"], timeout=30)
    assert metadata.headers["Access-Control-Allow-Origin"] == "*"
    document = metadata.json()
    assert document["resource"] == server
    assert document["authorization_servers"] == [server]
    assert document["bearer_methods_supported"] == ["header"]
    assert document["resource_name"] == "Example CMS API"
    assert document["scopes_supported"] == ["content:read", "content:write", "user:profile"]

    # From there, the authorization server's own metadata, and a token the API accepts.
    (issuer,) = document["authorization_servers"]
    as_metadata = requests.get(f"{issuer}/.well-known/oauth-authorization-server", timeout=30)
    assert as_metadata.json()["issuer"] == issuer
    _client, _secret, token = issued_token(server, scopes=("content:read",))
    response = requests.get(
        f"{server}/api/articles/", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert response.status_code == 200


@pytest.mark.parametrize("token", ["not-a-token", ""])
def test_every_401_of_the_api_names_the_metadata(server, token):
    response = requests.get(
        f"{server}/api/me/", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert response.status_code == 401
    params = challenge_params(response.headers["WWW-Authenticate"])
    assert params["resource_metadata"] == f"{server}/.well-known/oauth-protected-resource"
    assert params["error"] == "invalid_token"


def test_the_bearer_header_the_metadata_promises_is_the_one_the_api_takes(server):
    _client, _secret, token = issued_token(server, scopes=("content:read",))
    in_query = requests.get(f"{server}/api/articles/", params={"access_token": token}, timeout=30)
    assert in_query.status_code == 401  # only "header" is advertised, and only it is honoured
