"""Running a host project as its own processes: its database, ``manage.py``, its server.

A host has settings of its own (another application model, other apps), so
it never runs inside the test process: each command is a subprocess. Its
database follows the test run's: a temporary SQLite file, or, when
``DATABASE_URL`` names PostgreSQL, a database named after that one with a
suffix (``source_oauth_ci`` -> ``source_oauth_ci_dothost``), created and
dropped here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 300


def postgres_url() -> str | None:
    """The test run's PostgreSQL URL, or None when the tests run on SQLite."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


@contextmanager
def host_database(suffix: str) -> Iterator[str]:
    """A new, empty database for a host (URL for dj-database-url), dropped afterwards."""
    base = postgres_url()
    if base is None:
        with tempfile.TemporaryDirectory(prefix=f"source_oauth_{suffix}_") as directory:
            yield f"sqlite:///{directory}/db.sqlite3"
        return
    parts = urlsplit(base)
    name = f"{parts.path.lstrip('/')}_{suffix}"
    url = urlunsplit(parts._replace(path=f"/{name}"))
    _postgres(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    try:
        yield url
    finally:
        _postgres(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _postgres(url: str, *statements: str) -> None:
    import psycopg

    parts = urlsplit(url)
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement)


def manage(
    settings: str,
    *args: str,
    env: dict[str, str],
    python: str = sys.executable,
    cwd: Path = ROOT,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py`` of a host with ``settings``; fail with its output if it fails."""
    result = subprocess.run(
        [python, "manage.py", *args],
        cwd=cwd,
        env={**env, "DJANGO_SETTINGS_MODULE": settings},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"manage.py {' '.join(args)} exited {result.returncode}:\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return result


@contextmanager
def serve(
    settings: str,
    *,
    env: dict[str, str],
    python: str = sys.executable,
    cwd: Path = ROOT,
    ready_path: str = "/admin/login/",
) -> Iterator[str]:
    """A host's ``runserver`` on a free loopback port; yields its base URL."""
    port = free_port()
    command: Sequence[str] = [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    with tempfile.TemporaryFile(mode="w+") as log:
        server = subprocess.Popen(
            command,
            cwd=cwd,
            env={**env, "DJANGO_SETTINGS_MODULE": settings},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    requests.get(url + ready_path, timeout=5)
                    break
                except requests.ConnectionError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        raise AssertionError(f"runserver did not start:\n{log.read()}") from None
                    time.sleep(0.2)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)
