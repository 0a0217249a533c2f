"""A clean install, as a new user makes it: the wheel into a bare ``startproject`` host.

The wheel is built from this checkout and installed into a new virtualenv,
with its dependencies from the package index (pip's cache keeps that fast).
``django-admin startproject`` makes the host; the README's setup snippet is
appended to its settings and URLs exactly as written; then ``check``,
``migrate``, a token request, the admin and the authorization flow (through
the sign-in page the snippet includes) run against it, in Chromium where a
person would use a page. On the test run's database: SQLite, or PostgreSQL
when ``DATABASE_URL`` says so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from tests.browser import Traffic, new_context
from tests.hosts.processes import ROOT, TIMEOUT, host_database, manage, postgres_url, serve
from tests.oauth_helpers import pkce_pair

pytestmark = pytest.mark.browser

SETTINGS = "host.settings"
ADMIN = ("root", "a long root password")
REDIRECT_URI = "https://app.example.com/callback"
# What a build needs; nothing else of the checkout (caches, virtualenvs) goes near it.
BUILD_INPUTS = ["pyproject.toml", "README.md", "LICENSE", "source_oauth"]


def readme_setup() -> tuple[str, str]:
    """The settings and the URL lines of the README's "Setup in an existing project"."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Setup in an existing project", 1)[1].split("\n## ", 1)[0]
    snippet = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    settings, urls = snippet.split("# urls.py\n")
    assert settings.startswith("# settings.py\n")
    return settings, urls


def outside_env() -> dict[str, str]:
    """This machine's environment without the test run's Django, Python and database settings."""
    prefixes = ("DJANGO_", "PYTHON", "VIRTUAL_ENV", "DATABASE_URL")
    return {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}


def run(*command: str | Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        env=outside_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, f"{command} exited {result.returncode}:\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in BUILD_INPUTS:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    dist = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, source)
    (built,) = dist.glob("source_oauth-*.whl")
    return built


@dataclass
class Host:
    directory: Path
    python: Path
    env: dict[str, str]

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return manage(
            SETTINGS, *args, env=self.env, python=str(self.python), cwd=self.directory, check=check
        )


@pytest.fixture(scope="module")
def host(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    """A new virtualenv with the wheel, and a ``startproject`` host set up by the README."""
    base = tmp_path_factory.mktemp("host")
    venv = base / "venv"
    # Without a pip of its own (ensurepip is slow): this run's pip installs into it.
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    packages = [str(wheel)] + (["psycopg[binary]"] if postgres_url() else [])
    pip = [sys.executable, "-m", "pip", "--python", python, "--disable-pip-version-check"]
    run(*pip, "install", "-q", *packages)
    env = outside_env()
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    project = base / "project"
    project.mkdir()
    run(venv / "bin" / "django-admin", "startproject", "host", project, env=env)
    settings, urls = readme_setup()
    with host_database("wheelhost") as url:
        with (project / "host" / "settings.py").open("a") as file:
            file.write("\n" + settings)
            if url.startswith("postgres"):
                parts = urlsplit(url)
                database = {
                    "ENGINE": "django.db.backends.postgresql",
                    "NAME": parts.path.lstrip("/"),
                    "USER": parts.username or "postgres",
                    "HOST": parts.hostname,
                    "PORT": parts.port or 5432,
                }
                file.write(f"\nDATABASES = {{'default': {database!r}}}\n")
        with (project / "host" / "urls.py").open("a") as file:
            file.write("\n" + urls)
        yield Host(project, python, env)


def test_the_wheel_holds_the_app_its_license_and_tested_versions(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = next(n for n in names if n.endswith(".dist-info/METADATA")).split("/")[0]
        metadata = archive.read(f"{info}/METADATA")
        license_text = archive.read(f"{info}/licenses/LICENSE")
    assert license_text.decode() == (ROOT / "LICENSE").read_text()
    assert license_text.startswith(b"MIT License")
    assert {name.split("/")[0] for name in names} == {"source_oauth", info}  # no tests, no demo
    assert "source_oauth/templates/source_oauth/login.html" in names
    assert "source_oauth/migrations/0001_initial.py" in names
    text = metadata.decode()
    assert "License-Expression: MIT" in text
    for version in ("5.2", "6.0", "6.1"):
        assert f"Classifier: Framework :: Django :: {version}" in text
    for version in ("3.11", "3.12", "3.13"):
        assert f"Classifier: Programming Language :: Python :: {version}" in text


@pytest.fixture(scope="module")
def served(host: Host) -> Iterator[tuple[str, dict[str, str], str]]:
    """check and migrate, an administrator and two API clients, then the host served."""
    installed = host.manage(
        "shell", "-v", "0", "-c", "import source_oauth; print(source_oauth.__file__)"
    )
    assert installed.stdout.startswith(str(host.python.parent.parent)), installed.stdout
    check = host.manage("check")
    assert "System check identified no issues" in check.stdout, check.stdout + check.stderr
    host.manage("migrate", "-v", "0")
    env = {
        "DJANGO_SUPERUSER_USERNAME": ADMIN[0],
        "DJANGO_SUPERUSER_PASSWORD": ADMIN[1],
        "DJANGO_SUPERUSER_EMAIL": "root@example.com",
    }
    manage(
        SETTINGS,
        "createsuperuser",
        "--noinput",
        env={**host.env, **env},
        python=str(host.python),
        cwd=host.directory,
    )
    backend = json.loads(
        host.manage("create_api_client", "Backend", "--scope", "content:read", "--json").stdout
    )
    web = json.loads(
        host.manage(
            "create_api_client",
            "Web app",
            "--public",
            "--third-party",
            "--grant-type",
            "authorization_code",
            "--scope",
            "user:profile",
            "--redirect-uri",
            REDIRECT_URI,
            "--json",
        ).stdout
    )
    with serve(SETTINGS, env=host.env, python=str(host.python), cwd=host.directory) as url:
        yield url, backend, web["client_id"]


def test_a_token_from_the_installed_app(served):
    url, backend, _ = served
    response = requests.post(
        f"{url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(backend["client_id"], backend["client_secret"]),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "content:read"
    metadata = requests.get(f"{url}/.well-known/oauth-authorization-server", timeout=30).json()
    assert metadata["token_endpoint"] == f"{url}/oauth/token"


@pytest.fixture
def page(chromium: Browser, traffic: Traffic) -> Iterator[Page]:
    """A browser tab on the host (not the test's live server, which ``browser.page`` needs)."""
    context = new_context(chromium, traffic)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_the_admin_lists_api_clients(served, page: Page):
    url, backend, _ = served
    page.goto(f"{url}/admin/")
    page.get_by_label("Username").fill(ADMIN[0])
    page.get_by_label("Password").fill(ADMIN[1])
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="API clients").click()
    expect(page.get_by_role("link", name="Backend")).to_be_visible()
    page.get_by_role("link", name="Backend").click()
    expect(page.get_by_role("heading", name="Backend")).to_be_visible()
    assert backend["client_id"] in page.content()
    assert backend["client_secret"] not in page.content()


def test_the_authorization_flow_signs_in_on_the_included_page_and_asks_consent(served, page: Page):
    url, _, client_id = served
    verifier, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "user:profile",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "w1",
    }
    # The client's own page is not on this machine: answer for it, and keep its URL.
    page.route(f"{REDIRECT_URI}**", lambda route: route.fulfill(body="client"))
    page.goto(f"{url}/oauth/authorize?{urlencode(query)}")
    assert urlsplit(page.url).path == "/accounts/login/"
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill(ADMIN[0])
    page.get_by_label("Password").fill(ADMIN[1])
    page.get_by_role("button", name="Sign in").click()
    # A third-party client: the person allows it on the consent screen.
    heading = re.compile(r"^Web app wants to access your .+ account$")
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{REDIRECT_URI}**")
    answer = {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}
    assert answer["state"] == "w1"
    response = requests.post(
        f"{url}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": REDIRECT_URI,
            "client_id": client_id,
            "code_verifier": verifier,
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "user:profile"
