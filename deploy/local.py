"""The recipe run on loopback: nginx in front of gunicorn, from this folder's files.

For the tests and the fault benchmark. The files are used as they are;
only the addresses change: nginx listens on a free loopback port, gunicorn
on a Unix socket in a scratch folder, and nginx runs in the foreground as a
child of this process, with its logs and temporary files in that folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SITE = HERE / "nginx" / "source_oauth.conf"
GUNICORN_CONF = HERE / "gunicorn.conf.py"
PRODUCTION_LISTEN = "listen 80;"
PRODUCTION_UPSTREAM = "server unix:/run/source_oauth/gunicorn.sock"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def site_config(port: int, socket_path: Path) -> str:
    """deploy/nginx/source_oauth.conf, listening on ``port``, proxying to ``socket_path``."""
    text = SITE.read_text()
    if PRODUCTION_LISTEN not in text or PRODUCTION_UPSTREAM not in text:
        raise RuntimeError(
            f"{SITE} no longer has {PRODUCTION_LISTEN!r} and {PRODUCTION_UPSTREAM!r}"
        )
    text = text.replace(PRODUCTION_LISTEN, f"listen 127.0.0.1:{port};")
    return text.replace(PRODUCTION_UPSTREAM, f"server unix:{socket_path}")


def main_config(folder: Path, site: Path, worker_connections: int) -> str:
    """An nginx.conf around the site, everything it writes kept in ``folder``."""
    temp = "\n".join(
        f"    {kind}_temp_path {folder / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must reach the socket
    return (
        f"{user}worker_processes 1;\npid {folder / 'nginx.pid'};\n"
        f"error_log {folder / 'nginx-error.log'} warn;\n"
        f"events {{ worker_connections {worker_connections}; }}\n"
        f"http {{\n    access_log off;\n{temp}\n    include {site};\n}}\n"
    )


class Recipe:
    """gunicorn (deploy/gunicorn.conf.py) and nginx (deploy/nginx/source_oauth.conf)."""

    def __init__(
        self,
        env: dict[str, str],
        workers: int = 2,
        worker_connections: int = 1024,
        nginx: str | None = None,
        gunicorn: str | None = None,
    ) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="source_oauth_deploy_"))
        self.port = free_port()
        self.socket = self.folder / "gunicorn.sock"
        self.nginx_path = nginx or shutil.which("nginx") or "/usr/sbin/nginx"
        self.gunicorn_path = gunicorn or str(Path(sys.executable).parent / "gunicorn")
        self.env = {
            **env,
            "GUNICORN_BIND": f"unix:{self.socket}",
            "GUNICORN_WORKERS": str(workers),
        }
        self.worker_connections = worker_connections
        self.gunicorn: subprocess.Popen | None = None
        self.nginx: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def gunicorn_log(self) -> Path:
        return self.folder / "gunicorn.log"

    def start(self, timeout: float = 60) -> Recipe:
        """Start both, or neither: what started is stopped if the other does not come up."""
        try:
            return self._start(timeout)
        except BaseException:
            self.close()
            raise

    def _start(self, timeout: float) -> Recipe:
        site = self.folder / "site.conf"
        site.write_text(site_config(self.port, self.socket))
        conf = self.folder / "nginx.conf"
        conf.write_text(main_config(self.folder, site, self.worker_connections))
        with open(self.gunicorn_log, "ab") as log:
            self.gunicorn = subprocess.Popen(
                [self.gunicorn_path, "-c", str(GUNICORN_CONF), "--chdir", str(ROOT)],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait(self.socket.exists, "gunicorn's socket", timeout)
        self.nginx = subprocess.Popen(
            [
                self.nginx_path,
                "-c",
                str(conf),
                "-p",
                str(self.folder),
                "-e",
                str(self.folder / "nginx-error.log"),
                "-g",
                "daemon off;",
            ],  # fmt: skip
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait(self._answers, f"nginx on port {self.port}", timeout)
        return self

    def _answers(self) -> bool:
        if self.nginx.poll() is not None:
            log = (self.folder / "nginx-error.log").read_text(errors="replace")
            raise RuntimeError(f"nginx exited:\n{log}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
                sock.sendall(
                    b"GET /.well-known/oauth-authorization-server HTTP/1.1\r\n"
                    b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n"
                )
                return sock.recv(12).startswith(b"HTTP/1.1 200")
        except OSError:
            return False

    def _wait(self, condition, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.gunicorn.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.gunicorn_log.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} not ready after {timeout} s")
            time.sleep(0.1)

    def worker_pids(self) -> list[int]:
        """gunicorn's workers (the master's children)."""
        try:
            children = Path(f"/proc/{self.gunicorn.pid}/task/{self.gunicorn.pid}/children")
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def close(self) -> None:
        for process, stop in ((self.nginx, signal.SIGQUIT), (self.gunicorn, signal.SIGTERM)):
            if process is None or process.poll() is not None:
                continue
            try:
                os.killpg(process.pid, stop)
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.folder, ignore_errors=True)
