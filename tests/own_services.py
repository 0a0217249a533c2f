"""Processes of a test's own: gunicorn servers, and Redis and PostgreSQL to break.

The machine's Redis and PostgreSQL are shared: faults are only ever injected
into the ones ``bench.fault_services`` starts, on free loopback ports.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import requests

from bench.fault_services import OwnPostgres, OwnRedis, free_port, wait_until

__all__ = ["Gunicorn", "OwnPostgres", "OwnRedis", "manage", "wait_until"]

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"


def manage(env: dict[str, str], *args: str) -> str:
    """Run ``manage.py`` with ``env``; its stdout."""
    completed = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


class Gunicorn:
    """The example project under gunicorn (sync workers), as in production; log kept."""

    def __init__(self, env: dict[str, str], workers: int = 1, extra: tuple[str, ...] = ()) -> None:
        self.env = env
        self.port = free_port()
        self.log = Path(tempfile.mkstemp(prefix="source_oauth_gunicorn_", suffix=".log")[1])
        # The production configuration (deploy/), on a loopback port instead of its socket.
        command = [str(GUNICORN), "-c", str(ROOT / "deploy" / "gunicorn.conf.py"), *extra]
        env = {**env, "GUNICORN_BIND": f"127.0.0.1:{self.port}", "GUNICORN_WORKERS": str(workers)}
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            wait_until(self._ready, f"gunicorn on port {self.port} (log: {self.log})", timeout=60)
        except BaseException:
            self.close()
            raise

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{self.log.read_text()}")
        try:
            requests.get(f"{self.url}/.well-known/oauth-authorization-server", timeout=10)
        except requests.RequestException:  # not listening yet, or a worker still booting
            return False
        return True

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.log.unlink(missing_ok=True)
