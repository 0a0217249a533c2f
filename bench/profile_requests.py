"""Where a configuration's requests spend their CPU, measured in process, without HTTP.

    bash bench/run.sh --db sqlite --profile        # py-spy on a live worker, in the report
    DJANGO_SETTINGS_MODULE=bench.source_settings .venv/bin/python -m bench.profile_requests
    .venv/bin/python -m bench.profile_requests --cache redis-process

Prepares a fresh SQLite database (``bench.prepare``), then for each scenario
runs N requests through Django's WSGI handler, with the environ gunicorn
would give and the bodies wrk sends: first timed (CPU µs and wall µs per
request, the best of ``--rounds`` batches, the scenarios taking turns; SQL
statements per request), then under cProfile (the functions with the most
cumulative time). This skips gunicorn and the socket, and
Django's test client too (its signals and response wrapping cost as much as
bearer authentication), so these are the costs of Django, DRF, DOT, oauthlib
and source_oauth alone.

CPU time is the figure to compare: wall time includes SQLite's writes to
disk. Compare ratios within one run (the summary at the end gives the
unauthenticated GET over each scenario, as the benchmark's goals do).

``--cache`` picks the source_oauth cache: ``locmem`` (the example project
without ``REDIS_URL``), ``redis-shared`` (Redis only) or ``redis-process``
(Redis plus each process's own copy, as the example project with
``REDIS_URL``). The Redis database given is flushed.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import json
import os
import pstats
import statistics
import tempfile
import time
from pathlib import Path

CACHES = ("locmem", "redis-shared", "redis-process")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="per scenario")
    parser.add_argument("--rounds", type=int, default=10, help="batches per scenario, in turns")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--scenarios", nargs="+", default=["token", "warm", "cold", "public"])
    parser.add_argument("--cache", choices=CACHES, default="locmem")
    parser.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379/14", help="flushed (bench/run.py's database)"
    )
    parser.add_argument("--no-profile", action="store_true", help="timings only, no cProfile")
    parser.add_argument("--dump", type=Path, help="also save each scenario's profile here")
    args = parser.parse_args()

    settings_module = os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.source_settings")
    config = "source_oauth" if settings_module == "bench.source_settings" else "stock-unhashed"
    workdir = Path(tempfile.mkdtemp(prefix="source_oauth_profile_"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'db.sqlite3'}")
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ.setdefault("DATABASE_CONN_MAX_AGE", "600")  # as bench/run.py serves
    if args.cache != "locmem":
        os.environ["REDIS_URL"] = args.redis_url
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()

    from bench import prepare

    prepared = prepare.main(config, workdir, {"cold": 2 * args.requests + 200})

    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if args.cache == "redis-process" and config == "source_oauth":
        # bench.prepare turns the process's own copy off while it counts SQL.
        settings.SOURCE_OAUTH = {**settings.SOURCE_OAUTH, "PROCESS_CACHE_REDIS_URL": args.redis_url}

    credentials = f"{prepared['client_id']}:{prepared['client_secret']}"
    basic = "Basic " + base64.b64encode(credentials.encode()).decode()
    token_body = f"grant_type=client_credentials&scope={prepared['scope']}".encode()
    handler = WSGIHandler()

    def call(method: str, path: str, body: bytes = b"", **headers: str) -> tuple[int, bytes]:
        """One request through Django's WSGI handler, with the environ a gunicorn worker gives."""
        environ = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1:8000",
            "HTTP_USER_AGENT": "wrk",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(),
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            **headers,
        }
        if body:
            environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
            environ["CONTENT_LENGTH"] = str(len(body))
        status = []
        response = handler(environ, lambda code, _headers: status.append(code))
        content = b"".join(response)
        response.close()
        return int(status[0].split()[0]), content

    def token() -> tuple[int, bytes]:
        return call("POST", prepared["token_path"], token_body, HTTP_AUTHORIZATION=basic)

    bearer = json.loads(token()[1])["access_token"]
    cold = iter(Path(prepared["token_files"]["cold"]).read_text().split())

    def request(scenario: str) -> int:
        if scenario == "token":
            return token()[0]
        if scenario == "warm":
            return call("GET", "/bench/items/", HTTP_AUTHORIZATION=f"Bearer {bearer}")[0]
        if scenario == "cold":
            return call("GET", "/bench/items/", HTTP_AUTHORIZATION=f"Bearer {next(cold)}")[0]
        return call("GET", "/bench/public/")[0]

    # Timings: the scenarios take turns, a batch each per round, so that a burst of other
    # work on the machine hits them alike; a scenario's figure is its best batch.
    for scenario in args.scenarios:
        for _ in range(20):
            request(scenario if scenario != "cold" else "warm")
    batch = max(1, args.requests // args.rounds)
    cpu: dict[str, list[float]] = {scenario: [] for scenario in args.scenarios}
    wall: dict[str, list[float]] = {scenario: [] for scenario in args.scenarios}
    statuses: dict[str, set[int]] = {scenario: set() for scenario in args.scenarios}
    for _ in range(args.rounds):
        for scenario in args.scenarios:
            started, cpu_started = time.perf_counter(), time.process_time()
            statuses[scenario].update(request(scenario) for _ in range(batch))
            cpu[scenario].append(1e6 * (time.process_time() - cpu_started) / batch)
            wall[scenario].append(1e6 * (time.perf_counter() - started) / batch)

    summary: dict[str, float] = {}
    for scenario in args.scenarios:
        with CaptureQueriesContext(connection) as captured:
            for _ in range(50):
                request(scenario)
        queries = len(captured.captured_queries) / 50
        summary[scenario] = min(cpu[scenario])
        print(
            f"\n=== {config} ({args.cache}) {scenario}: {summary[scenario]:.0f} CPU µs/request "
            f"(median {statistics.median(cpu[scenario]):.0f}), "
            f"{min(wall[scenario]):.0f} wall µs/request, "
            f"{queries:.2f} SQL/request, HTTP {sorted(statuses[scenario])} ==="
        )
        if args.no_profile:
            continue
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.requests):
            request(scenario)
        profiler.disable()
        if args.dump:
            args.dump.mkdir(parents=True, exist_ok=True)
            profiler.dump_stats(args.dump / f"{args.cache}-{scenario}.prof")
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(args.top)
        print(out.getvalue().split("\n", 6)[-1].replace(str(Path.cwd()) + "/", ""))

    print(
        f"\n=== summary: {config} ({args.cache}), {args.rounds} rounds of {batch} requests, "
        "best round ==="
    )
    base = summary.get("public")
    for scenario, cpu_us in summary.items():
        ratio = f", public/{scenario} = {base / cpu_us:.2f}" if base else ""
        print(f"{scenario:>6}: {cpu_us:7.0f} CPU µs/request{ratio}")


if __name__ == "__main__":
    main()
