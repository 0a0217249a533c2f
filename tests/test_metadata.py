"""RFC 8414 §2: the metadata document says only what the server does.

One test reads the live document and checks every field it holds against the
server's behaviour over HTTP. A field nobody checks fails the test, so the
document cannot drift from what the endpoints do.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import urlencode

import requests
from jwcrypto import jwk, jwt

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

GT = ApiClient.GrantType
# Grant and response types the server must refuse although oauthlib knows them.
UNOFFERED_GRANTS = ["password", "implicit", "urn:ietf:params:oauth:grant-type:device_code"]
UNOFFERED_RESPONSE_TYPES = ["token", "id_token", "code token", "code id_token"]
UNOFFERED_AUTH_METHODS = ["client_secret_jwt", "private_key_jwt", "tls_client_auth"]


class Checker:
    """What each metadata field claims, checked against a live server."""

    def __init__(self, server: str, session: requests.Session, metadata: dict) -> None:
        self.server = server
        self.session = session  # a signed-in user's browser
        self.metadata = metadata
        self.web, self.web_secret = web_client(
            scopes=sorted(Scope.objects.values_list("name", flat=True))
        )
        self.public, _ = web_client(confidential=False)
        self.backend, self.backend_secret = new_client(
            "Backend", scopes=sorted(Scope.objects.values_list("name", flat=True))
        )

    # --- helpers -------------------------------------------------------------------------

    def authorize(self, client: ApiClient, **params: str) -> requests.Response:
        verifier, challenge = pkce_pair()
        query = {
            "client_id": client.client_id,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "scope": "content:read",
            "state": "s",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **params,
        }
        url = f"{self.metadata['authorization_endpoint']}?{urlencode(query)}"
        response = follow_to_redirect_uri(self.session, url)
        response.verifier = verifier
        return response

    def code(self, client: ApiClient, **params: str) -> tuple[str, str]:
        response = self.authorize(client, **params)
        return query_of(response)["code"], response.verifier

    def token(self, data: dict, auth: tuple[str, str] | None = None) -> requests.Response:
        return requests.post(self.metadata["token_endpoint"], data=data, auth=auth)

    def web_tokens(self) -> dict:
        code, verifier = self.code(self.web)
        response = self.token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
            (self.web.client_id, self.web_secret),
        )
        assert response.status_code == 200, response.text
        return response.json()

    def backend_token(self) -> str:
        response = self.token(
            {"grant_type": "client_credentials"}, (self.backend.client_id, self.backend_secret)
        )
        return response.json()["access_token"]

    def authenticated(
        self, endpoint: str, method: str, data: dict, client=None
    ) -> requests.Response:
        """A POST to ``endpoint`` with the client authenticated by ``method``."""
        client, secret = client or (self.backend, self.backend_secret)
        if method == "client_secret_basic":
            return requests.post(endpoint, data=data, auth=(client.client_id, secret))
        if method == "client_secret_post":
            body = {**data, "client_id": client.client_id, "client_secret": secret}
            return requests.post(endpoint, data=body)
        assert method == "none", method
        return requests.post(endpoint, data={**data, "client_id": client.client_id})

    # --- one check per field -------------------------------------------------------------

    def issuer(self, value: str) -> None:
        assert value == self.server
        assert query_of(self.authorize(self.web))["iss"] == value

    def authorization_response_iss_parameter_supported(self, value: bool) -> None:
        assert value is True
        assert query_of(self.authorize(self.web))["iss"] == self.metadata["issuer"]
        error = self.authorize(self.web, scope="no-such-scope")
        assert query_of(error)["iss"] == self.metadata["issuer"]

    def authorization_endpoint(self, value: str) -> None:
        assert value == f"{self.server}/oauth/authorize"
        assert "code" in query_of(self.authorize(self.web))

    def token_endpoint(self, value: str) -> None:
        assert value == f"{self.server}/oauth/token"
        assert self.backend_token()

    def revocation_endpoint(self, value: str) -> None:
        assert value == f"{self.server}/oauth/revoke"
        token = self.backend_token()
        auth = (self.backend.client_id, self.backend_secret)
        assert requests.post(value, data={"token": token}, auth=auth).status_code == 200
        assert self.introspect(token)["active"] is False

    def introspection_endpoint(self, value: str) -> None:
        assert value == f"{self.server}/oauth/introspect"
        assert self.introspect(self.backend_token())["active"] is True

    def introspect(self, token: str) -> dict:
        return requests.post(
            self.metadata["introspection_endpoint"],
            data={"token": token},
            auth=(self.backend.client_id, self.backend_secret),
        ).json()

    def response_types_supported(self, value: list) -> None:
        assert value == ["code"]
        for response_type in UNOFFERED_RESPONSE_TYPES:
            response = self.authorize(self.web, response_type=response_type)
            assert query_of(response)["error"] == "unsupported_response_type", response_type

    def grant_types_supported(self, value: list) -> None:
        assert sorted(value) == ["authorization_code", "client_credentials", "refresh_token"]
        tokens = self.web_tokens()  # authorization_code
        refreshed = self.token(
            {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            (self.web.client_id, self.web_secret),
        )
        assert refreshed.status_code == 200, refreshed.text
        assert self.backend_token()  # client_credentials
        for grant in UNOFFERED_GRANTS:
            response = self.token(
                {"grant_type": grant, "username": "u", "password": "p", "device_code": "d"},
                (self.backend.client_id, self.backend_secret),
            )
            assert response.json()["error"] == "unsupported_grant_type", grant

    def scopes_supported(self, value: list) -> None:
        assert value == sorted(Scope.objects.values_list("name", flat=True))
        for scope in value:
            response = self.token(
                {"grant_type": "client_credentials", "scope": scope},
                (self.backend.client_id, self.backend_secret),
            )
            assert response.json()["scope"] == scope
        unlisted = self.token(
            {"grant_type": "client_credentials", "scope": "not:listed"},
            (self.backend.client_id, self.backend_secret),
        )
        assert unlisted.json()["error"] == "invalid_scope"

    def code_challenge_methods_supported(self, value: list) -> None:
        assert value == ["S256"]
        assert "code" in query_of(self.authorize(self.web))
        plain = self.authorize(self.web, code_challenge="a" * 43, code_challenge_method="plain")
        assert query_of(plain)["error"] == "invalid_request"

    def _auth_methods(self, value: list, use: Callable[[str], requests.Response]) -> None:
        for method in value:
            response = use(method)
            assert response.status_code == 200, (method, response.text)
        for method in UNOFFERED_AUTH_METHODS:
            assert method not in value

    def token_endpoint_auth_methods_supported(self, value: list) -> None:
        assert sorted(value) == ["client_secret_basic", "client_secret_post", "none"]

        def use(method: str) -> requests.Response:
            if method == "none":  # a public client redeems its code with PKCE alone
                code, verifier = self.code(self.public)
                data = {
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": REDIRECT_URI,
                    "code_verifier": verifier,
                }
                return self.authenticated(
                    self.metadata["token_endpoint"], "none", data, (self.public, None)
                )
            return self.authenticated(
                self.metadata["token_endpoint"], method, {"grant_type": "client_credentials"}
            )

        self._auth_methods(value, use)

    def revocation_endpoint_auth_methods_supported(self, value: list) -> None:
        assert sorted(value) == ["client_secret_basic", "client_secret_post", "none"]

        def use(method: str) -> requests.Response:
            if method == "none":  # a public client revokes its own token by client_id
                code, verifier = self.code(self.public)
                token = requests.post(
                    self.metadata["token_endpoint"],
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": REDIRECT_URI,
                        "code_verifier": verifier,
                        "client_id": self.public.client_id,
                    },
                ).json()["access_token"]
                response = self.authenticated(
                    self.metadata["revocation_endpoint"],
                    "none",
                    {"token": token},
                    (self.public, None),
                )
                assert self.introspect(token)["active"] is False
                return response
            token = self.backend_token()
            response = self.authenticated(
                self.metadata["revocation_endpoint"], method, {"token": token}
            )
            assert self.introspect(token)["active"] is False
            return response

        self._auth_methods(value, use)

    def introspection_endpoint_auth_methods_supported(self, value: list) -> None:
        assert sorted(value) == ["client_secret_basic", "client_secret_post"]
        token = self.backend_token()
        endpoint = self.metadata["introspection_endpoint"]

        def use(method: str) -> requests.Response:
            response = self.authenticated(endpoint, method, {"token": token})
            assert response.json()["active"] is True
            return response

        self._auth_methods(value, use)
        # Not advertised, and refused: no authentication at all.
        response = self.authenticated(endpoint, "none", {"token": token})
        assert response.status_code == 401
        assert "active" not in response.json()

    def jwks_uri(self, value: str) -> None:
        assert value == f"{self.server}/oauth/jwks"
        published = requests.get(value).json()["keys"]
        assert published and all(key["use"] == "sig" and "d" not in key for key in published)
        # The keys verify the ID tokens this server signs.
        code, verifier = self.code(self.web, scope="openid")
        tokens = self.token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
            (self.web.client_id, self.web_secret),
        ).json()
        keyset = jwk.JWKSet.from_json(json.dumps({"keys": published}))
        claims = json.loads(jwt.JWT(jwt=tokens["id_token"], key=keyset).claims)
        assert claims["iss"] == self.metadata["issuer"]

    def client_id_metadata_document_supported(self, value: bool) -> None:
        assert value is False
        response = self.session.get(
            self.metadata["authorization_endpoint"]
            + "?"
            + urlencode(
                {
                    "client_id": "https://client.example.com/metadata.json",
                    "redirect_uri": REDIRECT_URI,
                    "response_type": "code",
                }
            ),
            allow_redirects=False,
        )
        assert response.status_code == 400  # an error page: such a client ID is unknown


def test_every_advertised_field_matches_behaviour(server, user, user_password, signing_key):
    metadata = requests.get(f"{server}/.well-known/oauth-authorization-server").json()
    session = requests.Session()
    login(session, server, user.username, user_password)
    checker = Checker(server, session, metadata)
    unchecked = [field for field in metadata if not hasattr(checker, field)]
    assert not unchecked, f"fields no check covers: {unchecked}"
    for field, value in metadata.items():
        getattr(checker, field)(value)
