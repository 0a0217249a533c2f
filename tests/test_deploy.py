"""The production recipe (deploy/): nginx buffering for gunicorn's sync workers.

Run from its own files (``deploy.local``) with one sync worker, so a single
held worker would stop all service. nginx comes from Debian's package
(``scripts/test.sh`` installs it).
"""

from __future__ import annotations

import base64
import http.client
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests
from django.apps import apps as django_apps

from deploy import local
from source_oauth.catalog import ensure_catalog
from tests.conftest import server_env
from tests.oauth_helpers import new_client

pytestmark = pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")

PARTIAL_REQUEST = b"GET /api/articles/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1\r\n"


@pytest.fixture
def recipe(transactional_db):
    ensure_catalog(django_apps)
    env = {**server_env(), "DJANGO_DEBUG": "0"}
    env.pop("REDIS_URL")  # the local-memory cache: this is about workers, not caches
    running = local.Recipe(env, workers=1).start()
    yield running
    running.close()


def test_the_production_files_are_valid_nginx():
    folder = Path(tempfile.mkdtemp(prefix="source_oauth_nginx_t_"))
    try:
        conf = folder / "nginx.conf"
        conf.write_text(local.main_config(folder, local.SITE, 64))  # the site file as shipped
        checked = subprocess.run(
            ["nginx", "-t", "-c", str(conf), "-p", str(folder), "-e", str(folder / "e.log")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert checked.returncode == 0, checked.stderr
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def slow_clients(address, count: int) -> list[socket.socket]:
    """Connections that sent part of a request's headers and then nothing more."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    sockets = []
    for _ in range(count):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.connect(address)
        sock.sendall(PARTIAL_REQUEST)
        sockets.append(sock)
    return sockets


def unanswered(sock: socket.socket) -> bool:
    """Neither answered nor closed: nothing to read yet."""
    sock.setblocking(False)
    try:
        sock.recv(1)
    except BlockingIOError:
        return True
    return False


def test_slow_clients_do_not_hold_the_only_worker(recipe):
    held = slow_clients(("127.0.0.1", recipe.port), 20)
    try:
        for _ in range(10):
            assert requests.get(f"{recipe.url}/api/articles/", timeout=20).status_code == 200
        assert all(unanswered(sock) for sock in held)  # still sending headers, all of them
    finally:
        for sock in held:
            sock.close()


def test_without_nginx_one_slow_client_holds_the_only_worker(recipe):
    """The control: the same slow client on gunicorn's own socket stops all service."""
    held = slow_clients(str(recipe.socket), 1)
    try:
        with pytest.raises(requests.ReadTimeout):
            # The worker reads the slow client's headers until gunicorn's timeout (30 s).
            requests.get(f"{recipe.url}/api/articles/", timeout=3)
    finally:
        for sock in held:
            sock.close()


def token_request(port: int, source: str, client_id: str, secret: str, **headers) -> int:
    """A token request from the loopback address ``source``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, source_address=(source, 0))
    credentials = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    connection.request(
        "POST",
        "/oauth/token",
        body="grant_type=client_credentials",
        headers={
            "Authorization": f"Basic {credentials}",
            "Content-Type": "application/x-www-form-urlencoded",
            **headers,
        },
    )
    status = connection.getresponse().status
    connection.close()
    return status


def test_the_rate_limit_sees_each_client_address_not_nginx(recipe):
    api_client, secret = new_client()
    client_id = api_client.client_id
    statuses = [token_request(recipe.port, "127.0.0.2", client_id, "wrong") for _ in range(11)]
    assert statuses == [401] * 10 + [429]
    # Another address is not limited, even claiming to be the limited one: nginx replaces
    # the X-Real-IP a client sends with the address it sees.
    assert token_request(recipe.port, "127.0.0.3", client_id, "wrong") == 401
    claimed = {"X-Real-IP": "127.0.0.2"}
    assert token_request(recipe.port, "127.0.0.3", client_id, "wrong", **claimed) == 401
    assert token_request(recipe.port, "127.0.0.2", client_id, secret) == 200
