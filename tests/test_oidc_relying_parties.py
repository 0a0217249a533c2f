"""Real relying parties sign a user in against a live server, each checking the ID token.

authlib's OpenID Connect client (its Django integration), panva's openid-client
and Auth.js (the core of next-auth v5) from node scripts: discovery, the
authorization request (PKCE, state, nonce), the user's sign-in and approval,
the code grant, the ID token's signature against the JWKS and its nonce, and
UserInfo. The node scripts live in ``tests/node`` (``npm ci --prefix tests/node``,
run by ``scripts/test.sh``).
"""

from __future__ import annotations

import json
import select
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from source_oauth.oidc import keys
from tests.oauth_helpers import follow_to_redirect_uri, login
from tests.oidc_helpers import NEXTJS_CALLBACK, jose_header, oidc_client, relying_party

NODE_DIR = Path(__file__).resolve().parent / "node"
TIMEOUT = 60


@pytest.fixture
def signed_in(server, user, user_password) -> requests.Session:
    """Alice's browser, signed in to the CMS."""
    session = requests.Session()
    login(session, server, "alice", user_password)
    return session


def expect_alice(claims: dict[str, Any], user: Any) -> None:
    assert claims["sub"] == str(user.pk) != user.username
    assert claims["email"] == "alice@example.com"
    assert claims["name"] == claims["given_name"] == "Alice"
    assert claims["preferred_username"] == "alice"


# --- authlib ------------------------------------------------------------------------------


def test_authlib_openid_connect_client_signs_alice_in(server, signing_key, user, signed_in):
    client, secret = oidc_client()
    app = relying_party(server, client, secret)
    factory = RequestFactory()

    # The relying party's own login view: authlib stores state, nonce and verifier in its session.
    start = factory.get("/login/cms")
    start.session = SessionStore()
    redirect = app.authorize_redirect(start, "https://app.example.com/callback")
    assert redirect.status_code == 302

    # Alice's browser follows it: she is signed in; a first-party client asks no consent.
    answer = follow_to_redirect_uri(signed_in, redirect["Location"])
    callback_url = answer.headers["Location"]

    callback = factory.get("/callback?" + urlsplit(callback_url).query)
    callback.session = start.session
    token = app.authorize_access_token(callback)  # verifies the ID token (JWKS, nonce, at_hash)
    claims = token["userinfo"]
    expect_alice(claims, user)
    assert claims["iss"] == server
    assert claims["aud"] == client.client_id == claims["azp"]
    assert jose_header(token["id_token"]) == {
        "alg": "RS256",
        "kid": signing_key.kid,
        "typ": "JWT",
    }

    userinfo = app.userinfo(token=token)
    expect_alice(userinfo, user)
    assert set(userinfo) == {"sub", "name", "given_name", "preferred_username", "email"}


def test_authlib_verifies_an_es256_id_token(server, user, signed_in):
    keys.generate(keys.ES256)
    client, secret = oidc_client(algorithm=keys.ES256)
    app = relying_party(server, client, secret)
    factory = RequestFactory()
    start = factory.get("/login/cms")
    start.session = SessionStore()
    redirect = app.authorize_redirect(start, "https://app.example.com/callback")
    answer = follow_to_redirect_uri(signed_in, redirect["Location"])
    callback = factory.get("/callback?" + urlsplit(answer.headers["Location"]).query)
    callback.session = start.session

    token = app.authorize_access_token(callback)

    assert jose_header(token["id_token"])["alg"] == "ES256"
    expect_alice(token["userinfo"], user)


# --- node: openid-client and Auth.js --------------------------------------------------------


class NodeRelyingParty:
    """A node script speaking the line protocol of ``tests/node/io.mjs``."""

    def __init__(self, script: str, *args: str) -> None:
        if shutil.which("node") is None:
            pytest.fail("node is not installed: the OpenID Connect tests need Node.js 20")
        if not (NODE_DIR / "node_modules" / "openid-client").is_dir():
            pytest.fail("Run `npm ci --prefix tests/node` (scripts/test.sh does) first.")
        self.process = subprocess.Popen(
            ["node", str(NODE_DIR / script), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def receive(self) -> dict[str, Any]:
        ready, _, _ = select.select([self.process.stdout], [], [], TIMEOUT)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.process.kill()
            pytest.fail(f"the node script said nothing: {self.process.stderr.read()}")
        message = json.loads(line)
        assert "error" not in message, message
        return message

    def send(self, message: dict[str, Any]) -> None:
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def finish(self) -> dict[str, Any]:
        result = self.receive()
        assert self.process.wait(timeout=TIMEOUT) == 0
        return result


def test_openid_client_signs_alice_in(server, signing_key, user, signed_in):
    client, secret = oidc_client(redirect_uris=[NEXTJS_CALLBACK])
    rp = NodeRelyingParty(
        "openid_client.mjs",
        server,
        client.client_id,
        secret,
        NEXTJS_CALLBACK,
        "openid profile email",
    )
    start = rp.receive()
    answer = follow_to_redirect_uri(signed_in, start["authorization_url"], NEXTJS_CALLBACK)
    rp.send({"callback_url": answer.headers["Location"]})
    result = rp.finish()

    # openid-client checked the signature against the JWKS, the nonce, state and PKCE.
    expect_alice(result["claims"], user)
    assert result["claims"]["nonce"] == start["nonce"] == result["nonce"]
    assert result["claims"]["iss"] == server
    assert result["header"]["kid"] == signing_key.kid
    expect_alice(result["userinfo"], user)


def test_openid_client_checks_the_signature_of_an_es256_id_token(server, user, signed_in):
    keys.generate(keys.ES256)
    client, secret = oidc_client(redirect_uris=[NEXTJS_CALLBACK], algorithm=keys.ES256)
    rp = NodeRelyingParty(
        "openid_client.mjs",
        server,
        client.client_id,
        secret,
        NEXTJS_CALLBACK,
        "openid email",
        "ES256",
    )
    start = rp.receive()
    answer = follow_to_redirect_uri(signed_in, start["authorization_url"], NEXTJS_CALLBACK)
    rp.send({"callback_url": answer.headers["Location"]})
    result = rp.finish()

    assert result["header"]["alg"] == "ES256"
    assert result["claims"]["email"] == "alice@example.com"
    assert "name" not in result["userinfo"]  # no profile scope, no profile claims


def test_openid_client_refuses_an_id_token_for_another_nonce(server, signing_key, signed_in):
    client, secret = oidc_client(redirect_uris=[NEXTJS_CALLBACK])
    rp = NodeRelyingParty(
        "openid_client.mjs", server, client.client_id, secret, NEXTJS_CALLBACK, "openid"
    )
    start = rp.receive()
    # An attacker's authorization request, with its own nonce, answered for Alice...
    forged = start["authorization_url"].replace(f"nonce={start['nonce']}", "nonce=attacker")
    answer = follow_to_redirect_uri(signed_in, forged, NEXTJS_CALLBACK)
    rp.send({"callback_url": answer.headers["Location"]})
    # ...is refused by the relying party: the ID token carries the attacker's nonce.
    failure = json.loads(rp.process.stdout.readline())
    assert rp.process.wait(timeout=TIMEOUT) == 1
    assert failure["error"] == "ClientError: unexpected JWT claim value encountered"
    assert failure["cause"]["cause"]["claim"] == "nonce", failure


def test_authjs_with_the_readme_configuration_signs_alice_in(server, signing_key, user, signed_in):
    client, secret = oidc_client(redirect_uris=[NEXTJS_CALLBACK])
    rp = NodeRelyingParty("authjs.mjs", server, client.client_id, secret)
    start = rp.receive()
    authorize = urlsplit(start["authorization_url"])
    query = {name: values[0] for name, values in parse_qs(authorize.query).items()}
    assert query["scope"] == "openid profile email"
    assert query["code_challenge_method"] == "S256" and query["nonce"] and query["state"]

    answer = follow_to_redirect_uri(signed_in, start["authorization_url"], NEXTJS_CALLBACK)
    rp.send({"callback_url": answer.headers["Location"]})
    result = rp.finish()

    assert result["callback_status"] == 302
    assert result["location"] == "http://localhost:3000/"
    assert result["session"]["user"] == {"name": "Alice", "email": "alice@example.com"}


def test_the_readme_configures_auth_js_as_the_test_does():
    """The README's provider is the one authjs.mjs runs: same type, scopes, checks, callback."""
    readme = (NODE_DIR.parents[1] / "README.md").read_text()
    section = readme.split("## Sign in with the CMS from Next.js")[1].split("\n## ")[0]
    script = (NODE_DIR / "authjs.mjs").read_text()
    for line in (
        'id: "cms"',
        'type: "oidc"',
        'authorization: { params: { scope: "openid profile email" } }',
        'checks: ["pkce", "state", "nonce"]',
    ):
        assert line in section and line in script, line
    assert "/api/auth/callback/cms" in section and NEXTJS_CALLBACK.endswith(
        "/api/auth/callback/cms"
    )
