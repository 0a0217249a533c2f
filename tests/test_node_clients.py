"""The grants through npm client libraries (tests/node/), against a live server.

oauth4webapi is strict: it checks the metadata document's issuer, every
response's content type and body, the RFC 9207 ``iss`` of authorization
responses (errors included) and the state. ``scripts/test.sh`` installs the
packages pinned in tests/node/package-lock.json.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from source_oauth.models import ApiClient
from tests.oauth_helpers import REDIRECT_URI, new_client, web_client

NODE_DIR = Path(__file__).parent / "node"
GT = ApiClient.GrantType


def run_node(script: str, config: dict) -> dict:
    if shutil.which("node") is None or not (NODE_DIR / "node_modules").is_dir():
        pytest.fail("tests/node/node_modules is missing: bash scripts/test.sh installs it")
    completed = subprocess.run(
        ["node", str(NODE_DIR / script)],
        env={**os.environ, "SOURCE_OAUTH_FLOWS": json.dumps(config)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout)


def test_every_grant_with_oauth4webapi(server, user, user_password):
    backend, backend_secret = new_client("Backend", scopes=["content:read"])
    web, web_secret = web_client(third_party=True)
    public, _ = web_client(confidential=False, scopes=["content:read"])
    results = run_node(
        "oauth4webapi_flows.mjs",
        {
            "issuer": server,
            "user": {"username": user.username, "password": user_password},
            "backend": {"client_id": backend.client_id, "client_secret": backend_secret},
            "web": {
                "client_id": web.client_id,
                "client_secret": web_secret,
                "redirect_uri": REDIRECT_URI,
            },
            "public": {"client_id": public.client_id, "redirect_uri": REDIRECT_URI},
        },
    )
    assert results == {
        "client_credentials": {"scope": "content:read", "token_type": "bearer"},
        "introspection": {"active": True, "client_id": backend.client_id},
        "revoked": {"active": False},
        "authorization_code": {"scope": "content:read user:profile", "has_refresh_token": True},
        "refresh_token": {"rotated": True, "scope": "content:read user:profile"},
        "denied": {"error": "access_denied"},
        "public_client": {"scope": "content:read"},
    }
