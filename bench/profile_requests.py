"""Where a configuration's requests spend their CPU, measured in process, without HTTP.

    bash bench/run.sh --db sqlite --profile        # py-spy on a live worker, in the report
    DJANGO_SETTINGS_MODULE=bench.source_settings .venv/bin/python -m bench.profile_requests

Prepares a fresh SQLite database (``bench.prepare``), then for each scenario
runs N requests through Django's test client: first timed (mean µs per
request, SQL statements per request), then under cProfile (the functions with
the most cumulative time). The test client skips gunicorn and the socket, so
these are the costs of Django, DRF, DOT, oauthlib and source_oauth alone.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import json
import os
import pstats
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--scenarios", nargs="+", default=["token", "warm", "cold", "public"])
    args = parser.parse_args()

    settings_module = os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.source_settings")
    config = "source_oauth" if settings_module == "bench.source_settings" else "stock-unhashed"
    workdir = Path(tempfile.mkdtemp(prefix="source_oauth_profile_"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'db.sqlite3'}")
    os.environ["DJANGO_DEBUG"] = "0"

    from bench import prepare

    prepared = prepare.main(config, workdir, {"cold": 2 * args.requests + 100})

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    http = Client()
    basic = base64.b64encode(
        f"{prepared['client_id']}:{prepared['client_secret']}".encode()
    ).decode()
    token_body = {"grant_type": "client_credentials", "scope": prepared["scope"]}
    bearer = json.loads(
        http.post(prepared["token_path"], token_body, HTTP_AUTHORIZATION=f"Basic {basic}").content
    )["access_token"]
    cold = iter(Path(prepared["token_files"]["cold"]).read_text().split())

    def request(scenario: str) -> int:
        if scenario == "token":
            response = http.post(
                prepared["token_path"], token_body, HTTP_AUTHORIZATION=f"Basic {basic}"
            )
        elif scenario == "warm":
            response = http.get("/bench/items/", HTTP_AUTHORIZATION=f"Bearer {bearer}")
        elif scenario == "cold":
            response = http.get("/bench/items/", HTTP_AUTHORIZATION=f"Bearer {next(cold)}")
        else:
            response = http.get("/bench/public/")
        return response.status_code

    for scenario in args.scenarios:
        for _ in range(20):
            request(scenario if scenario != "cold" else "warm")
        started = time.perf_counter()
        statuses = {request(scenario) for _ in range(args.requests)}
        elapsed = time.perf_counter() - started
        with CaptureQueriesContext(connection) as captured:
            for _ in range(50):
                request(scenario)
        queries = len(captured.captured_queries) / 50
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.requests):
            request(scenario)
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(args.top)
        print(
            f"\n=== {config} {scenario}: {1e6 * elapsed / args.requests:.0f} µs/request, "
            f"{queries:.2f} SQL/request, HTTP {sorted(statuses)} ==="
        )
        print(out.getvalue().split("\n", 6)[-1].replace(str(Path.cwd()) + "/", ""))


if __name__ == "__main__":
    main()
