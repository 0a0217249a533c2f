"""OpenID Connect Discovery: each field of the live document is checked against behaviour.

A field nobody checks fails the test, so the document cannot say more than the
server does. The fields it shares with the RFC 8414 document have the same values.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from source_oauth.models import Scope
from source_oauth.oidc import keys
from tests.oauth_helpers import REDIRECT_URI, follow_to_redirect_uri, login, new_client, pkce_pair
from tests.oidc_helpers import jose_header, oidc_client, relying_party, verified_id_token

pytestmark = pytest.mark.usefixtures("signing_key")


def query(response: requests.Response) -> dict[str, str]:
    location = response.headers["Location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


class Discovery:
    """What each field of the document claims, checked against a live server."""

    def __init__(self, server: str, browser: requests.Session, user: Any, password: str) -> None:
        self.server, self.browser, self.user, self.password = server, browser, user, password
        self.doc = requests.get(f"{server}/.well-known/openid-configuration", timeout=30).json()
        every_scope = sorted(Scope.objects.values_list("name", flat=True))
        self.client, self.secret = oidc_client(scopes=every_scope)
        self.public, _ = oidc_client("Mobile app", confidential=False)

    # --- helpers ---------------------------------------------------------------------------

    def authorize(
        self, client: Any = None, consent: bool | None = None, **params: str
    ) -> requests.Response:
        verifier, challenge = pkce_pair()
        url = (
            self.doc["authorization_endpoint"]
            + "?"
            + urlencode(
                {
                    "response_type": "code",
                    "client_id": (client or self.client).client_id,
                    "redirect_uri": REDIRECT_URI,
                    "scope": "openid profile email",
                    "state": "s",
                    "nonce": "n",
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                    **params,
                }
            )
        )
        response = follow_to_redirect_uri(self.browser, url, consent=consent)
        response.verifier = verifier
        return response

    def tokens(self, client: Any = None, secret: str | None = None, **params: str) -> dict:
        client = client or self.client
        secret = self.secret if client is self.client else secret
        answer = self.authorize(client, **params)
        data = {
            "grant_type": "authorization_code",
            "code": query(answer)["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": answer.verifier,
        }
        auth = (client.client_id, secret) if secret else None
        if not secret:
            data["client_id"] = client.client_id
        response = requests.post(self.doc["token_endpoint"], data=data, auth=auth, timeout=30)
        assert response.status_code == 200, response.text
        return {**response.json(), "nonce": params.get("nonce", "n")}

    # --- the fields ------------------------------------------------------------------------

    def issuer(self, value: str) -> None:
        rfc8414 = requests.get(f"{self.server}/.well-known/oauth-authorization-server").json()
        assert value == self.server == rfc8414["issuer"]
        id_token = verified_id_token(self.server, self.tokens(), self.client, self.secret)
        assert id_token["iss"] == value

    def authorization_endpoint(self, value: str) -> None:
        assert value == f"{self.server}/oauth/authorize"
        assert "code" in query(self.authorize())

    def token_endpoint(self, value: str) -> None:
        assert value == f"{self.server}/oauth/token"
        assert self.tokens()["token_type"] == "Bearer"

    def userinfo_endpoint(self, value: str) -> None:
        token = self.tokens()
        for method in ("GET", "POST"):
            response = requests.request(
                method, value, headers={"Authorization": f"Bearer {token['access_token']}"}
            )
            assert response.json()["sub"] == str(self.user.pk)

    def jwks_uri(self, value: str) -> None:
        token = self.tokens()
        kid = jose_header(token["id_token"])["kid"]
        assert kid in {key["kid"] for key in requests.get(value).json()["keys"]}
        assert verified_id_token(self.server, token, self.client, self.secret)

    def end_session_endpoint(self, value: str) -> None:
        other = requests.Session()
        login(other, self.server, "alice", self.password)
        token = self.tokens()
        response = other.get(
            value, params={"id_token_hint": token["id_token"]}, allow_redirects=False
        )
        assert response.headers["Location"] == f"{self.server}/"  # signed out, to the front page
        page = other.get(f"{self.server}/oauth/connected-apps", allow_redirects=False)
        assert "/accounts/login/" in page.headers["Location"]

    def scopes_supported(self, value: list[str]) -> None:
        assert value == sorted(Scope.objects.values_list("name", flat=True))
        token = self.tokens(scope=" ".join(value))
        assert set(token["scope"].split()) == set(value)

    def response_types_supported(self, value: list[str]) -> None:
        assert value == ["code"]
        for unoffered in ("token", "id_token", "code id_token"):
            error = query(self.authorize(response_type=unoffered))["error"]
            assert error in ("unsupported_response_type", "unauthorized_client"), unoffered

    def response_modes_supported(self, value: list[str]) -> None:
        assert value == ["query"]
        assert "code" in query(self.authorize())
        for mode in ("fragment", "form_post"):
            answer = self.authorize(response_mode=mode)
            assert query(answer)["error"] == "invalid_request"
            assert "#" not in answer.headers["Location"]

    def grant_types_supported(self, value: list[str]) -> None:
        assert value == ["authorization_code", "client_credentials", "refresh_token"]
        refreshed = requests.post(
            self.doc["token_endpoint"],
            data={"grant_type": "refresh_token", "refresh_token": self.tokens()["refresh_token"]},
            auth=(self.client.client_id, self.secret),
        )
        assert refreshed.status_code == 200
        backend, secret = new_client("Backend")
        credentials = requests.post(
            self.doc["token_endpoint"],
            data={"grant_type": "client_credentials"},
            auth=(backend.client_id, secret),
        )
        assert credentials.status_code == 200

    def subject_types_supported(self, value: list[str]) -> None:
        assert value == ["public"]  # the same sub for every client
        other, other_secret = oidc_client("Other site")
        first = verified_id_token(self.server, self.tokens(), self.client, self.secret)
        second = self.tokens(other, other_secret)
        assert verified_id_token(self.server, second, other, other_secret)["sub"] == first["sub"]

    def id_token_signing_alg_values_supported(self, value: list[str]) -> None:
        assert value == ["RS256", "ES256"]
        for algorithm in value:
            client, secret = oidc_client(f"Signed with {algorithm}", algorithm=algorithm)
            token = self.tokens(client, secret)
            assert jose_header(token["id_token"])["alg"] == algorithm
            assert verified_id_token(self.server, token, client, secret)

    def token_endpoint_auth_methods_supported(self, value: list[str]) -> None:
        assert value == ["client_secret_basic", "client_secret_post", "none"]
        self.tokens()  # client_secret_basic
        answer = self.authorize()
        post = requests.post(
            self.doc["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": query(answer)["code"],
                "redirect_uri": REDIRECT_URI,
                "code_verifier": answer.verifier,
                "client_id": self.client.client_id,
                "client_secret": self.secret,
            },
        )
        assert post.status_code == 200
        assert "id_token" in self.tokens(self.public)  # none: a public client

    def revocation_endpoint(self, value: str) -> None:
        assert value == f"{self.server}/oauth/revoke"

    def revocation_endpoint_auth_methods_supported(self, value: list[str]) -> None:
        assert value == ["client_secret_basic", "client_secret_post", "none"]
        endpoint = self.doc["revocation_endpoint"]
        for auth, extra in [
            ((self.client.client_id, self.secret), {}),
            (None, {"client_id": self.client.client_id, "client_secret": self.secret}),
        ]:
            token = self.tokens()["access_token"]
            assert requests.post(endpoint, data={"token": token, **extra}, auth=auth).ok
            assert self.userinfo_status(token) == 401
        token = self.tokens(self.public)["access_token"]
        assert requests.post(endpoint, data={"token": token, "client_id": self.public.client_id}).ok
        assert self.userinfo_status(token) == 401

    def introspection_endpoint(self, value: str) -> None:
        assert value == f"{self.server}/oauth/introspect"

    def introspection_endpoint_auth_methods_supported(self, value: list[str]) -> None:
        assert value == ["client_secret_basic", "client_secret_post"]
        endpoint, token = self.doc["introspection_endpoint"], self.tokens()["access_token"]
        basic = requests.post(
            endpoint, data={"token": token}, auth=(self.client.client_id, self.secret)
        )
        post = requests.post(
            endpoint,
            data={"token": token, "client_id": self.client.client_id, "client_secret": self.secret},
        )
        assert basic.json()["active"] is post.json()["active"] is True
        public = requests.post(endpoint, data={"token": token, "client_id": self.public.client_id})
        assert public.status_code == 401

    def code_challenge_methods_supported(self, value: list[str]) -> None:
        assert value == ["S256"]
        plain = self.authorize(code_challenge="x" * 43, code_challenge_method="plain")
        assert query(plain)["error"] == "invalid_request"

    def claims_supported(self, value: list[str]) -> None:
        self.user.last_name = "Liddell"
        self.user.save()
        token = self.tokens()
        userinfo = requests.get(
            self.doc["userinfo_endpoint"],
            headers={"Authorization": f"Bearer {token['access_token']}"},
        ).json()
        assert sorted(userinfo) == value

    def prompt_values_supported(self, value: list[str]) -> None:
        assert value == ["none", "login", "consent"]
        verifier, challenge = pkce_pair()
        params = {
            "response_type": "code",
            "client_id": self.client.client_id,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        signed_out = requests.get(
            self.doc["authorization_endpoint"],
            params={**params, "prompt": "none"},
            allow_redirects=False,
        )
        assert query(signed_out)["error"] == "login_required"
        login_again = self.browser.get(
            self.doc["authorization_endpoint"],
            params={**params, "prompt": "login"},
            allow_redirects=False,
        )
        assert urlsplit(login_again.headers["Location"]).path == "/accounts/login/"
        third, _ = oidc_client("Partner", third_party=True, remember_approval=True)
        assert "code" in query(self.authorize(third, consent=True, scope="openid"))
        assert "code" in query(self.authorize(third, scope="openid"))  # remembered
        page = self.browser.get(
            self.doc["authorization_endpoint"],
            params={**params, "client_id": third.client_id, "prompt": "consent"},
        )
        assert 'id="authorizationForm"' in page.text

    def claims_parameter_supported(self, value: bool) -> None:
        assert value is False
        token = self.tokens(scope="openid", claims='{"userinfo": {"email": {"essential": true}}}')
        assert "email" not in verified_id_token(self.server, token, self.client, self.secret)

    def request_parameter_supported(self, value: bool) -> None:
        assert value is False
        assert query(self.authorize(request="eyJhbGciOiJub25lIn0.e30."))["error"] == (
            "request_not_supported"
        )

    def request_uri_parameter_supported(self, value: bool) -> None:
        assert value is False
        answer = self.authorize(request_uri="https://app.example.com/request.jwt")
        assert query(answer)["error"] == "request_uri_not_supported"

    def client_id_metadata_document_supported(self, value: bool) -> None:
        assert value is False
        url = (
            self.doc["authorization_endpoint"]
            + "?"
            + urlencode(
                {
                    "response_type": "code",
                    "client_id": "https://app.example.com/client.json",
                    "redirect_uri": REDIRECT_URI,
                }
            )
        )
        response = self.browser.get(url, allow_redirects=False)
        assert response.status_code == 400 and "Location" not in response.headers

    def authorization_response_iss_parameter_supported(self, value: bool) -> None:
        assert value is True
        assert query(self.authorize())["iss"] == self.doc["issuer"]

    def userinfo_status(self, token: str) -> int:
        return requests.get(
            self.doc["userinfo_endpoint"], headers={"Authorization": f"Bearer {token}"}
        ).status_code


def test_every_field_of_the_document_is_what_the_server_does(server, user, user_password):
    keys.generate(keys.ES256)
    browser = requests.Session()
    login(browser, server, "alice", user_password)
    checker = Discovery(server, browser, user, user_password)
    unchecked = sorted(field for field in checker.doc if not hasattr(Discovery, field))
    assert not unchecked, f"fields nobody checks: {unchecked}"
    for field, value in checker.doc.items():
        getattr(checker, field)(value)


def test_the_fields_shared_with_rfc_8414_agree(server):
    oidc = requests.get(f"{server}/.well-known/openid-configuration", timeout=30).json()
    rfc8414 = requests.get(f"{server}/.well-known/oauth-authorization-server", timeout=30).json()
    shared = set(oidc) & set(rfc8414)
    assert shared >= {
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "scopes_supported",
        "response_types_supported",
        "grant_types_supported",
        "token_endpoint_auth_methods_supported",
        "code_challenge_methods_supported",
        "revocation_endpoint",
        "introspection_endpoint",
    }
    assert {field: oidc[field] for field in shared} == {field: rfc8414[field] for field in shared}


def test_discovery_is_public_and_follows_the_key_setting(server, signing_key):
    response = requests.get(f"{server}/.well-known/openid-configuration/", timeout=30)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.json()["id_token_signing_alg_values_supported"] == ["RS256"]
    signing_key.delete()  # none at all: RS256 is still what the server would sign with
    doc = requests.get(f"{server}/.well-known/openid-configuration", timeout=30).json()
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]


def test_an_authlib_client_configures_itself_from_discovery(server, user):
    client, secret = oidc_client()
    app = relying_party(server, client, secret)
    metadata = app.load_server_metadata()
    assert metadata["userinfo_endpoint"] == f"{server}/oauth/userinfo"
    assert app.fetch_jwk_set()["keys"]
