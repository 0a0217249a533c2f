"""The example project prints each log line once, not once per handler (Django's and the root's)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.hosts.processes import ROOT

EMIT = """
import logging
logging.getLogger("django.request").warning("from django.request")
logging.getLogger("django.security.csrf").warning("from django.security")
logging.getLogger("source_oauth.validator").warning("from source_oauth")
logging.getLogger("django.server").warning("from django.server")
"""


def test_every_log_line_is_printed_once():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "example_project.settings", "DJANGO_DEBUG": "1"}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", EMIT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    for source in ("django.request", "django.security", "source_oauth", "django.server"):
        assert lines.count(f"from {source}") == 1, result.stderr
