"""The benchmark of issue #7: source_oauth against stock django-oauth-toolkit, side by side.

Run through ``bash bench/run.sh`` (which installs gunicorn and wrk first).
For each database it prepares three configurations, each in its own fresh
database, serves each with its own gunicorn (sync workers) on 127.0.0.1,
drives them in turn with wrk, and prints a Markdown table that is also saved
to ``bench/results/<timestamp>-<db>.md``. Everything binds and targets
loopback only; every load run is bounded by ``--duration``; servers and
databases are removed when it ends, however it ends.

Configurations:

``source_oauth``
    the example project as it is (``bench.source_settings``).
``stock-hashed``
    stock DOT 3.4.1, default settings: the client secret is PBKDF2-hashed.
``stock-unhashed``
    the same, with the application's ``hash_client_secret=False``.

Scenarios: ``token`` (client_credentials with HTTP Basic), ``warm`` (protected
GET, one token repeated: cached after its first use), ``cold`` (protected GET,
each request a different, never used token: a token-cache miss every time),
``public`` (the same view without authentication), ``introspect`` (RFC 7662,
a different stored token each request), ``revoke`` (RFC 7009, a fresh token
each request).

With ``--rows``, ``--peer`` or ``--soak`` it runs issue 16's benchmark
instead (``bench/scale.py``).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
LUA = BENCH / "lua" / "bench.lua"
PYTHON = ROOT / ".venv" / "bin" / "python"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
HOST = "127.0.0.1"  # the only address anything binds to or is sent to
PG_URL = f"postgres://postgres@{HOST}:5432"
REDIS_URL = f"redis://{HOST}:6379"

CONFIGS = {
    "source_oauth": {"settings": "bench.source_settings", "label": "source_oauth"},
    "stock-hashed": {"settings": "bench.stock_settings", "label": "stock DOT, hashed secret"},
    "stock-unhashed": {"settings": "bench.stock_settings", "label": "stock DOT, unhashed secret"},
}
SCENARIOS = {
    "token": "token issuance (client_credentials, Basic)",
    "warm": "protected GET, token cache warm",
    "cold": "protected GET, token cache cold",
    "public": "unauthenticated GET (same view)",
    "introspect": "token introspection (a different stored token each)",
    "revoke": "token revocation (a fresh token each)",
}
# The scenarios that send the tokens of a file, one per request: the file each reads.
TOKEN_FILE_SCENARIOS = {
    "cold": None,
    "introspect": "introspect",
    "revoke": "revoke",
    "refresh": "refresh",  # the soak only (bench/soak.py)
}
GOALS = [
    # (label, numerator (config, scenario), denominator (config, scenario), minimum)
    (
        "token req/s: source_oauth / stock DOT hashed",
        ("source_oauth", "token"),
        ("stock-hashed", "token"),
        40.0,
    ),
    (
        "token req/s: source_oauth / stock DOT unhashed",
        ("source_oauth", "token"),
        ("stock-unhashed", "token"),
        0.9,
    ),
    (
        "source_oauth req/s: protected GET (warm) / unauthenticated GET",
        ("source_oauth", "warm"),
        ("source_oauth", "public"),
        0.7,
    ),
]
QUERY_GOALS = [
    # (label, scenario, maximum)
    ("SQL statements per token request, client cached (source_oauth)", "token", 3),
    (
        "SQL statements per token request, client not cached (source_oauth)",
        "token, client not cached",
        3,
    ),
    ("SQL statements per protected GET, cache warm (source_oauth)", "warm", 0),
    ("SQL statements per protected GET, cache miss (source_oauth)", "cold", 1),
]


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    name: str
    env: dict[str, str]
    workdir: Path
    port: int = 0
    process: subprocess.Popen | None = None
    prepared: dict[str, Any] = field(default_factory=dict)
    bearer: str = ""
    offsets: dict[str, int] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, workers: int) -> None:
        self.port = free_port()
        logfile = open(self.workdir / f"{self.name}-gunicorn.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                str(GUNICORN),
                "--bind",
                f"{HOST}:{self.port}",
                "--workers",
                str(workers),
                "--worker-class",
                "sync",
                "--chdir",
                str(ROOT),
                "--log-level",
                "warning",
                "--timeout",
                "60",
                "example_project.wsgi:application",
            ],
            env=self.env,
            cwd=ROOT,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as one
        )
        (self.workdir / f"{self.name}.pid").write_text(str(self.process.pid))

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name}: gunicorn exited, see {self.workdir}")
            try:
                status, _ = http(f"{self.base}/bench/public/")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name}: gunicorn not ready after {timeout}s")

    def workers(self) -> list[int]:
        if self.process is None:
            return []
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == self.process.pid:
                children.append(int(entry.name))
        return sorted(children)

    def backends(self) -> list[int]:
        """The PostgreSQL backends serving this server's database, and Redis if it uses it."""
        url = self.env.get("DATABASE_URL", "")
        marker = f" {url.rsplit('/', 1)[1]} ".encode() if url.startswith("postgres") else None
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            backend = bool(marker) and cmdline.startswith(b"postgres: ") and marker in cmdline
            redis = "REDIS_URL" in self.env and cmdline.startswith(b"redis-server")
            if backend or redis:
                pids.append(int(entry.name))
        return pids

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        except ProcessLookupError:
            pass


def http(
    url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    assert urllib.parse.urlsplit(url).hostname == HOST, url
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def drain(server: Server, timeout: float = 120) -> None:
    """Wait until the server has finished the requests a load run left queued.

    wrk stops with requests still queued in the listen backlog; a sync worker
    still serves them (a slow token request costs a PBKDF2 each), which would
    steal CPU from the next measurement. A request that no longer queues
    behind them answers at once.
    """
    deadline = time.monotonic() + timeout
    quick = 0
    while quick < 2 and time.monotonic() < deadline:
        started = time.monotonic()
        http(f"{server.base}/bench/public/")
        quick = quick + 1 if time.monotonic() - started < 0.05 else 0


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in KiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(value.split()[0])
    return values


def basic_auth(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid: int) -> int:
    """User and system CPU time of a process, in clock ticks."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def machine_busy_ticks() -> int:
    """CPU time all processes of the machine used, in clock ticks (all cores)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values[:8]) - idle


def wait_quiet(servers: list[Server], max_wait: float, threshold: float = 10) -> float:
    """Wait (at most ``max_wait`` s) until other processes leave the CPU alone for a second.

    The machine may be shared: a test suite or a browser running beside the
    benchmark takes CPU from the servers. Returns the share they used in
    the last second sampled, in % of the machine.
    """
    deadline = time.monotonic() + max_wait
    while True:
        before = [server_ticks(server) for server in servers]
        busy_before = machine_busy_ticks()
        time.sleep(1)
        ours = sum(
            sum(ticks_spent(then, server_ticks(server))[0].values())
            for then, server in zip(before, servers, strict=True)
        )
        others = 100 * (machine_busy_ticks() - busy_before - ours) / CLOCK_TICKS
        others /= os.cpu_count() or 1
        if others < threshold or time.monotonic() >= deadline:
            return others


def wrk_command(
    server: Server, scenario: str, duration: int, args: argparse.Namespace, tokens: str = "cold"
) -> tuple[list[str], dict[str, str], str]:
    """wrk's command line and environment for one scenario, and the token file it reads.

    ``tokens`` names the file of unused tokens a cold run sends; introspection
    and revocation read files of their own. Each run starts where the previous
    run with that file stopped (``server.offsets``).
    """
    prepared = server.prepared
    use = TOKEN_FILE_SCENARIOS.get(scenario) or tokens
    env = {**os.environ, "BENCH_THREADS": str(args.threads), "BENCH_METHOD": "GET"}
    path = "/bench/items/"
    if scenario == "token":
        path = prepared["token_path"]
        env["BENCH_METHOD"] = "POST"
        env["BENCH_BODY"] = urllib.parse.urlencode(
            {"grant_type": "client_credentials", "scope": prepared["scope"]}
        )
        env["BENCH_AUTH"] = basic_auth(prepared["client_id"], prepared["client_secret"])
    elif scenario == "warm":
        env["BENCH_AUTH"] = f"Bearer {server.bearer}"
    elif scenario == "cold":
        env["BENCH_TOKENS"] = prepared["token_files"][tokens]
        env["BENCH_OFFSET"] = str(server.offsets.get(tokens, 0))
    elif scenario == "public":
        path = "/bench/public/"
    elif scenario in ("introspect", "revoke"):
        path = prepared[f"{scenario}_path"]
        env["BENCH_METHOD"] = "POST"
        env["BENCH_AUTH"] = basic_auth(prepared["client_id"], prepared["client_secret"])
        env["BENCH_TOKENS"] = prepared["token_files"][use]
        env["BENCH_OFFSET"] = str(server.offsets.get(use, 0))
        env["BENCH_TOKEN_FIELD"] = "token"  # the token goes in the form body
    elif scenario == "refresh":
        path = prepared["token_path"]
        refresh_client = prepared["refresh_client"]
        env["BENCH_METHOD"] = "POST"
        env["BENCH_AUTH"] = basic_auth(refresh_client["client_id"], refresh_client["client_secret"])
        env["BENCH_BODY"] = "grant_type=refresh_token"
        env["BENCH_TOKENS"] = prepared["token_files"][use]
        env["BENCH_OFFSET"] = str(server.offsets.get(use, 0))
        env["BENCH_TOKEN_FIELD"] = "refresh_token"
    command = [
        "wrk",
        "-t",
        str(args.threads),
        "-c",
        str(args.connections),
        "-d",
        f"{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        f"{server.base}{path}",
    ]
    return command, env, use


def parse_wrk(stdout: str, stderr: str = "") -> dict[str, Any]:
    """The "BENCH {json}" line of bench.lua's done(), with errors summed."""
    for line in stdout.splitlines():
        if line.startswith("BENCH "):
            result = json.loads(line[len("BENCH ") :])
            break
    else:
        raise RuntimeError(f"wrk failed: {stdout}\n{stderr}")
    result["rps"] = result["requests"] / max(result["duration_us"] / 1e6, 1e-9)
    result["errors"] = (
        sum(result[k] for k in ("status_errors", "connect_errors", "read_errors", "write_errors"))
        + result["timeouts"]
    )
    return result


def wrk(
    server: Server, scenario: str, duration: int, args: argparse.Namespace, tokens: str = "cold"
) -> dict[str, Any]:
    """One wrk run, with the CPU time the server, wrk and everything else used meanwhile."""
    command, env, use = wrk_command(server, scenario, duration, args, tokens)
    before = server_ticks(server)
    busy_before = machine_busy_ticks()
    own_before = os.times()
    started = time.monotonic()
    completed = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=duration + 60, check=False
    )
    elapsed = time.monotonic() - started
    own_after = os.times()
    busy = machine_busy_ticks() - busy_before
    spent, exited = ticks_spent(before, server_ticks(server))
    server_cpu = sum(spent.values())
    ours = (
        own_after.user
        + own_after.system
        + own_after.children_user
        + own_after.children_system
        - own_before.user
        - own_before.system
        - own_before.children_user
        - own_before.children_system
    ) * CLOCK_TICKS  # this script and wrk
    drain(server)
    result = parse_wrk(completed.stdout, completed.stderr)
    if scenario in TOKEN_FILE_SCENARIOS:
        server.offsets[use] = server.offsets.get(use, 0) + result["issued"] + args.threads
    result["cpu_ms"] = 1000 * server_cpu / CLOCK_TICKS / max(result["requests"], 1)
    # Where it went: the gunicorn processes, and the PostgreSQL backends with Redis.
    result["cpu_ms_parts"] = {
        name: 1000 * ticks / CLOCK_TICKS / max(result["requests"], 1)
        for name, ticks in spent.items()
    }
    foreign = max(busy - server_cpu - ours, 0)
    result["foreign_pct"] = 100 * foreign / CLOCK_TICKS / (elapsed * (os.cpu_count() or 1))
    result["exited"] = exited
    return result


def server_ticks(server: Server) -> dict[str, dict[int, int]]:
    """CPU ticks of each process of the server: gunicorn's, and its backends' with Redis."""
    groups = {"python": [server.process.pid, *server.workers()], "services": server.backends()}
    return {name: {pid: cpu_ticks(pid) for pid in pids} for name, pids in groups.items()}


def ticks_spent(
    before: dict[str, dict[int, int]], after: dict[str, dict[int, int]]
) -> tuple[dict[str, int], int]:
    """Ticks each group spent between two readings, and how many processes exited meanwhile.

    A process that started meanwhile (a PostgreSQL backend replacing one that
    reached ``CONN_MAX_AGE``) counts whole; one that exited is left out, since
    its last ticks can no longer be read. Subtracting its earlier reading from
    nothing once made a run's CPU per request a quarter of the truth.
    """
    spent, exited = {}, 0
    for name, now in after.items():
        then = before.get(name, {})
        gone = [pid for pid in then if pid not in now or now[pid] < then[pid]]
        exited += len(gone)
        spent[name] = sum(ticks - then.get(pid, 0) for pid, ticks in now.items() if pid not in gone)
    return spent, exited


def create_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def flush_redis(url: str) -> None:
    """Empty the benchmark's Redis database (cached tokens of this run)."""
    import redis

    try:
        redis.Redis.from_url(url).flushdb()
    except redis.RedisError as error:
        log(f"could not flush {url}: {error}")


def machine() -> dict[str, str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem_kib = int(line.split()[1])
    import django
    import oauth2_provider
    import rest_framework

    versions = (
        f"Python {platform.python_version()}, Django {django.get_version()}, "
        f"DOT {oauth2_provider.__version__}, DRF {rest_framework.__version__}, "
        + subprocess.run(
            [str(GUNICORN), "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
        + ", "
        + subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
        .stdout.split(" [")[0]
        .strip()
    )
    return {
        "cpu": f"{os.cpu_count()} × {cpu}",
        "ram": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "os": platform.platform(),
        "versions": versions,
    }


def server_env(
    name: str, db: str, workdir: Path, args: argparse.Namespace, redis_url: str | None
) -> dict[str, str]:
    """The environment of one configuration's prepare and gunicorn (database ``bench_<name>``)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        DJANGO_SETTINGS_MODULE=CONFIGS[name]["settings"],
        DJANGO_DEBUG="0",
        DATABASE_CONN_MAX_AGE=str(args.conn_max_age),
        PYTHONDONTWRITEBYTECODE="1",
    )
    if db == "postgres":
        env["DATABASE_URL"] = f"{PG_URL}/bench_{name.replace('-', '_')}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{workdir / (name + '.sqlite3')}"
    if redis_url and name == "source_oauth":
        env["REDIS_URL"] = redis_url
    return env


def prepare_server(
    name: str,
    env: dict[str, str],
    workdir: Path,
    args: argparse.Namespace,
    cold_tokens: int,
    rows: int = 0,
    refresh: int = 0,
) -> Server:
    """Run bench/prepare.py for one configuration.

    ``rows``: the preload of issue 16; ``refresh``: refresh tokens for the soak.
    """
    warmup = max(200, int(args.cold_rate * args.warmup * args.rounds))
    log(f"preparing {name} ({cold_tokens} cold tokens" + (f", {rows} rows)" if rows else ")"))
    completed = subprocess.run(
        [
            str(PYTHON),
            "-m",
            "bench.prepare",
            name,
            str(workdir),
            f"cold={cold_tokens}",
            f"warmup={warmup}",
            f"profile={cold_tokens if args.profile and name == 'source_oauth' else 0}",
            f"introspect={cold_tokens}",
            f"revoke={cold_tokens + warmup}",
            f"rows={rows}",
            f"refresh={refresh}",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=7200,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"prepare {name} failed:\n{completed.stderr}")
    server = Server(name, env, workdir)
    server.prepared = json.loads(completed.stdout.strip().splitlines()[-1])
    return server


def check_server(server: Server) -> None:
    """Get the warm scenario's token, and check the protected view with and without one."""
    prepared = server.prepared
    status, body = http(
        server.base + prepared["token_path"],
        urllib.parse.urlencode(
            {"grant_type": "client_credentials", "scope": prepared["scope"]}
        ).encode(),
        {"Authorization": basic_auth(prepared["client_id"], prepared["client_secret"])},
    )
    if status != 200:
        raise RuntimeError(f"{server.name}: token request answered {status}: {body!r}")
    server.bearer = json.loads(body)["access_token"]
    bearer = {"Authorization": f"Bearer {server.bearer}"}
    unknown = {"Authorization": "Bearer not-a-token"}
    checks = {
        "with token": http(f"{server.base}/bench/items/", headers=bearer)[0],
        "with an unknown token": http(f"{server.base}/bench/items/", headers=unknown)[0],
    }
    if checks != {"with token": 200, "with an unknown token": 401}:
        raise RuntimeError(f"{server.name}: protected view answered {checks}")


def run_database(db: str, args: argparse.Namespace, stamp: str) -> str:
    workdir = RESULTS / f"work-{stamp}-{db}"
    workdir.mkdir(parents=True, exist_ok=True)
    cache = args.cache if args.cache != "auto" else ("redis" if db == "postgres" else "locmem")
    redis_url = f"{REDIS_URL}/{args.redis_db}"
    servers: dict[str, Server] = {}
    pg_databases: list[str] = []
    cold_tokens = args.cold_tokens or max(2000, int(args.cold_rate * args.duration * args.rounds))
    try:
        for name in args.configs:
            database = f"bench_{name.replace('-', '_')}" if db == "postgres" else None
            if database:
                create_pg_database(database)
                pg_databases.append(database)
            env = server_env(name, db, workdir, args, redis_url if cache == "redis" else None)
            servers[name] = prepare_server(name, env, workdir, args, cold_tokens)

        for server in servers.values():
            server.start(args.workers)
        for server in servers.values():
            server.wait_ready()
            check_server(server)
        log(f"{db}: servers up: " + ", ".join(f"{s.name} :{s.port}" for s in servers.values()))

        runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for round_ in range(args.rounds):
            for scenario in args.scenarios:
                for server in servers.values():
                    duration = args.duration
                    if server.name == "stock-hashed" and scenario == "token":
                        # ~5 req/s: once, long enough that the requests in flight
                        # when wrk stops (not counted) weigh little.
                        if round_ > 0:
                            continue
                        duration = max(duration, args.slow_duration)
                    if args.wait_quiet:
                        others = wait_quiet(list(servers.values()), args.wait_quiet)
                        if others >= 10:
                            log(f"{db}: still {others:.0f}% CPU used by other processes")
                    if args.warmup > 0:
                        wrk(server, scenario, args.warmup, args, tokens="warmup")
                    result = wrk(server, scenario, duration, args)
                    runs.setdefault((server.name, scenario), []).append(result)
                    log(
                        f"{db} round {round_ + 1}/{args.rounds}: {scenario:6} {server.name:15}"
                        f" {result['rps']:8.1f} req/s  p50 {result['p50_us'] / 1000:7.1f} ms"
                        f"  p99 {result['p99_us'] / 1000:7.1f} ms  CPU {result['cpu_ms']:6.2f}"
                        f" ms/req  errors {result['errors']}  others {result['foreign_pct']:.0f}%"
                    )
        results = {key: aggregate(value) for key, value in runs.items()}
        raw = {f"{name} {scenario}": value for (name, scenario), value in runs.items()}
        (RESULTS / f"{stamp}-{db}.json").write_text(json.dumps(raw, indent=1))

        profiles = {}
        if args.profile and "source_oauth" in servers:
            profiles = profile(servers["source_oauth"], args, workdir)

        mem = {
            name: {
                "master": memory(server.process.pid),
                "workers": [memory(pid) for pid in server.workers()],
            }
            for name, server in servers.items()
        }
    finally:
        for server in servers.values():
            server.stop()
        for database in pg_databases:
            if not args.keep:
                drop_pg_database(database)
        if cache == "redis" and not args.keep:
            flush_redis(redis_url)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    report = render(db, cache, args, cold_tokens, servers, results, mem, profiles)
    path = RESULTS / f"{stamp}-{db}.md"
    path.write_text(report)
    log(f"{db}: written {path.relative_to(ROOT)}")
    return report


def profile(server: Server, args: argparse.Namespace, workdir: Path) -> dict[str, dict]:
    """Sample one source_oauth worker with py-spy during an extra run of each scenario."""
    py_spy = ROOT / ".venv" / "bin" / "py-spy"
    worker = server.workers()[0]
    profiles: dict[str, dict] = {}
    for scenario in ("token", "warm", "cold"):
        if scenario not in args.scenarios:
            continue
        out = workdir / f"profile-{scenario}.txt"
        spy = subprocess.Popen(
            [
                str(py_spy),
                "record",
                "--pid",
                str(worker),
                "--format",
                "raw",
                "--duration",
                str(int(args.duration)),
                "--rate",
                "250",
                "--output",
                str(out),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        wrk(server, scenario, args.duration, args, tokens="profile")
        spy.wait(timeout=args.duration + 30)
        profiles[scenario] = summarize_profile(out)
        shutil.copy(out, RESULTS / f"profile-{scenario}-{workdir.name}.txt")
    return profiles


INTERESTING = (
    "source_oauth/",
    "oauth2_provider/",
    "oauthlib/",
    "rest_framework/",
    "django/db/",
    "django/core/cache/",
    "redis/",
    "corsheaders/",
    "django/middleware/",
    "django/contrib/",
    "psycopg/",
    "pickle",
    "gunicorn/util.py",
)


def summarize_profile(path: Path, top: int = 20) -> dict[str, list[tuple[str, float]]]:
    """Shares of py-spy's samples (collapsed stacks), per function.

    ``inclusive``: the functions of the packages that matter here (OAuth,
    DRF, ORM, cache, sockets), with everything they call; ``self``: where
    the samples were taken.
    """
    if not path.exists():
        return {}
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [frame.rsplit(":", 1)[0] + ")" for frame in stack.split(";")]
        for frame in set(frames):
            if any(package in frame for package in INTERESTING):
                inclusive[frame] = inclusive.get(frame, 0) + samples
        own[frames[-1]] = own.get(frames[-1], 0) + samples
    if not total:
        return {}

    def ranked(counts: dict[str, int]) -> list[tuple[str, float]]:
        best = sorted(counts.items(), key=lambda item: -item[1])[:top]
        return [(frame, 100 * count / total) for frame, count in best]

    return {"inclusive": ranked(inclusive), "self": ranked(own)}


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The best round (most req/s) for throughput and latency, the median for CPU per request.

    Interference from other processes only ever slows a round down, so the
    fastest round is the least disturbed one; CPU time per request is hardly
    changed by interference, and its median is steadier than any one round.
    """
    best = max(runs, key=lambda run: run["rps"])
    cpu = sorted(run["cpu_ms"] for run in runs)
    middle = len(cpu) // 2
    result = {key: best[key] for key in ("rps", "p50_us", "p99_us", "foreign_pct")}
    result["cpu_ms"] = cpu[middle] if len(cpu) % 2 else (cpu[middle - 1] + cpu[middle]) / 2
    result["errors"] = sum(run["errors"] for run in runs)
    result["wraps"] = sum(run["wraps"] for run in runs)
    result["rounds"] = len(runs)
    return result


def fmt_ratio(value: float) -> str:
    return f"{value:.1f}x" if value >= 10 else f"{value:.2f}"


def render(
    db: str,
    cache: str,
    args: argparse.Namespace,
    cold_tokens: int,
    servers: dict[str, Server],
    results: dict[tuple[str, str], dict[str, Any]],
    mem: dict[str, Any],
    profiles: dict[str, dict],
) -> str:
    info = machine()
    db_label = {
        "sqlite": "SQLite (one file per configuration)",
        "postgres": "PostgreSQL 15 on 127.0.0.1:5432 (one database per configuration)",
    }[db]
    cache_label = {
        "locmem": "local memory (one per worker)",
        "redis": f"Redis {REDIS_URL}/{args.redis_db}",
    }[cache]
    rounds = (
        f"best of {args.rounds} rounds of {args.duration} s (CPU ms/req: median)"
        if args.rounds > 1
        else f"{args.duration} s"
    )
    lines = [
        f"### {db_label}",
        "",
        f"- Machine: {info['cpu']}, {info['ram']} RAM; {info['os']}",
        f"- Software: {info['versions']}",
        f"- Load: gunicorn with {args.workers} sync workers per configuration on 127.0.0.1; "
        f"wrk -t{args.threads} -c{args.connections} on the same machine; each measurement "
        f"{rounds} after {args.warmup} s of warm-up, configurations interleaved "
        f"(stock DOT hashed token issuance: once, {max(args.duration, args.slow_duration)} s); "
        f"persistent DB connections (CONN_MAX_AGE={args.conn_max_age}); "
        f"source_oauth's cache: {cache_label}"
        + (
            f"; before each measurement, waited up to {args.wait_quiet:g} s for other "
            "processes to leave the CPU alone"
            if args.wait_quiet
            else ""
        ),
        f"- Cold: every request sends another stored, never used token "
        f"({cold_tokens} per configuration; the cache is cleared after they are stored)",
        "- CPU ms/req: CPU time of the gunicorn processes, of their PostgreSQL backends and "
        "of Redis when used, over requests served; "
        "others %: the machine's CPU used meanwhile by processes other than the server, wrk "
        "and the benchmark (in the round shown), i.e. interference",
        "",
        "| scenario | configuration | req/s | p50 ms | p99 ms | CPU ms/req | errors "
        "| SQL/req | others % |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for scenario in args.scenarios:
        for name, server in servers.items():
            result = results.get((name, scenario))
            if result is None:
                continue
            queries = server.prepared["queries"][scenario]["count"]
            errors = str(result["errors"])
            if result.get("wraps"):
                errors += f" ({result['wraps']} token reuses)"
            lines.append(
                f"| {SCENARIOS[scenario]} | {CONFIGS[name]['label']} | {result['rps']:.1f} | "
                f"{result['p50_us'] / 1000:.1f} | {result['p99_us'] / 1000:.1f} | "
                f"{result['cpu_ms']:.2f} | {errors} | {queries} | {result['foreign_pct']:.0f} |"
            )
    worst = max((result["foreign_pct"] for result in results.values()), default=0)
    if worst > 15:
        lines += [
            "",
            f"**Disturbed:** other processes used up to {worst:.0f}% of the machine's CPU "
            "during a measurement (see others %): req/s and latencies are low there; CPU ms/req "
            "and the ratios by CPU are less affected. Rerun on a quiet machine.",
        ]
    lines += [
        "",
        "| goal | measured (req/s) | by CPU ms/req | target | result |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for label, (num_cfg, num_sc), (den_cfg, den_sc), minimum in GOALS:
        num, den = results.get((num_cfg, num_sc)), results.get((den_cfg, den_sc))
        if not num or not den or not den["rps"] or not num["cpu_ms"]:
            continue
        ratio = num["rps"] / den["rps"]
        by_cpu = den["cpu_ms"] / num["cpu_ms"]
        verdict = "PASS" if ratio >= minimum else "FAIL"
        lines.append(
            f"| {label} | {fmt_ratio(ratio)} | {fmt_ratio(by_cpu)} | ≥ {fmt_ratio(minimum)} "
            f"| {verdict} |"
        )
    if "source_oauth" in servers:
        queries = servers["source_oauth"].prepared["queries"]
        for label, scenario, maximum in QUERY_GOALS:
            if scenario not in queries:
                continue
            count = queries[scenario]["count"]
            verdict = "PASS" if count <= maximum else "FAIL"
            target = f"≤ {maximum}" if maximum else "0"
            lines.append(f"| {label} | {count} | | {target} | {verdict} |")
    lines += [
        "",
        "| configuration | master RSS | worker RSS, each | worker peak RSS, each |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, values in mem.items():
        workers = values["workers"]
        lines.append(
            f"| {CONFIGS[name]['label']} | {values['master']['VmRSS'] / 1024:.1f} MiB | "
            + ", ".join(f"{w['VmRSS'] / 1024:.1f}" for w in workers)
            + " MiB | "
            + ", ".join(f"{w['VmHWM'] / 1024:.1f}" for w in workers)
            + " MiB |"
        )
    lines += ["", "<details><summary>SQL per request (one request, in process)</summary>", ""]
    for name, server in servers.items():
        for scenario, measured in server.prepared["queries"].items():
            lines.append(
                f"- {CONFIGS[name]['label']}, {scenario} (HTTP {measured['status']}): "
                f"{measured['count']}"
            )
            for sql in measured["sql"]:
                lines.append(f"  - `{shorten(sql)}`")
    lines += ["", "</details>", ""]
    if profiles:
        lines += ["<details><summary>py-spy: where a source_oauth worker spends its time</summary>"]
        for scenario, summary in profiles.items():
            for kind, ranked in summary.items():
                lines += ["", f"{SCENARIOS[scenario]}, {kind} (% of the worker's samples):", ""]
                lines += [f"- {share:5.1f}% `{frame}`" for frame, share in ranked]
        lines += ["", "</details>", ""]
    return "\n".join(lines)


def shorten(sql: str, limit: int = 160) -> str:
    sql = sql.replace("`", "'")
    if len(sql) <= limit:
        return sql
    select, sep, rest = sql.partition(" FROM ")
    if sep and select.startswith("SELECT"):
        sql = f"SELECT … FROM {rest}"
    return sql if len(sql) <= limit else sql[: limit - 1] + "…"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="rounds: best req/s, median CPU")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of warm-up before each")
    parser.add_argument(
        "--slow-duration",
        type=int,
        default=30,
        help="seconds of the stock DOT hashed token measurement at least (wrk does not count "
        "the requests in flight when it stops: at ~5 req/s, 8 of them weigh on 10 s)",
    )
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--conn-max-age", type=int, default=600, help="DATABASE_CONN_MAX_AGE")
    parser.add_argument(
        "--cache",
        choices=["auto", "locmem", "redis"],
        default="auto",
        help="source_oauth's cache; auto: Redis for PostgreSQL, local memory for SQLite",
    )
    parser.add_argument("--redis-db", type=int, default=14, help="Redis database (flushed)")
    parser.add_argument(
        "--cold-rate", type=float, default=2000, help="cold tokens stored per second of run"
    )
    parser.add_argument("--cold-tokens", type=int, default=0, help="override the cold tokens")
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--scenarios", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before each measurement, wait up to this long for other processes to go idle",
    )
    parser.add_argument("--profile", action="store_true", help="py-spy a source_oauth worker")
    parser.add_argument("--keep", action="store_true", help="keep databases and work files")
    issue16 = parser.add_argument_group("issue 16 (PostgreSQL; see bench/scale.py)")
    issue16.add_argument(
        "--rows",
        metavar="N[,N...]",
        help="preload N access tokens (and refresh tokens, grants, redeemed codes, audit "
        "events in proportion) and measure source_oauth at each size, e.g. 10k,1M",
    )
    issue16.add_argument(
        "--no-cleanup",
        action="store_true",
        help="with --rows: skip clear_expired_oauth under load",
    )
    issue16.add_argument(
        "--peer",
        choices=["oidc-provider"],
        help="measure node oidc-provider (bench/peer/) and stock DOT beside source_oauth",
    )
    issue16.add_argument(
        "--soak",
        type=int,
        nargs="?",
        const=600,
        metavar="SECONDS",
        help="a mixed load for SECONDS (600 if no value): errors, RSS, Redis memory",
    )
    args = parser.parse_args()

    def terminate(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)

    stamp = os.environ.get("BENCH_RUN") or dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(exist_ok=True)
    if args.rows or args.peer or args.soak:
        sys.path.insert(0, str(ROOT))
        from bench.scale import run_scale

        print(run_scale(args, stamp))
        return
    databases = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    reports = [run_database(db, args, stamp) for db in databases]
    print("\n\n".join(reports))


if __name__ == "__main__":
    main()
