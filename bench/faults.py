"""The fault benchmark (issue 14): Redis and PostgreSQL outages, stale connections, slow clients.

Run through ``bash bench/faults.sh`` (which installs gunicorn and nginx
first). It starts a PostgreSQL cluster and a Redis of its own on free
loopback ports (never the machine's shared ones), the example project under
gunicorn (2 sync workers, DEBUG off, ``CONN_MAX_AGE=60`` with health checks,
Redis as cache and for the per-process copies) behind nginx, from the
recipe in ``deploy/`` (``deploy.local``), and drives it with 8 concurrent
clients (``bench.fault_load``: 30 % token requests, 70 % GET/OPTIONS on
``/api/articles/``) while it:

1. measures a baseline;
2. kills Redis for ``--outage`` seconds (revoking cached tokens meanwhile),
   then restarts it from its append-only file, so what it had cached comes
   back;
3. restarts PostgreSQL (the workers' persistent connections die);
4. stops PostgreSQL for ``--outage`` seconds, then starts it;
5. opens ``--slow-clients`` connections that send a header line every 5 s,
   through nginx, in ``--slow-rounds`` spells alternating with spells
   without them; then, as a control, straight to gunicorn's socket.

It prints, per phase, the status counts of each second per request kind,
and then the goals with PASS or FAIL; the report is saved to
``bench/results/faults-<timestamp>.md``. Everything binds to 127.0.0.1 and
is stopped when the run ends, however it ends.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from bench.fault_load import HOST, Answer, Load, SlowClient
from bench.fault_services import OwnPostgres, OwnRedis
from deploy.local import Recipe

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable
KINDS = ("token", "get", "options")
LOG_INTERVAL = 10  # source_oauth.outages.LOG_INTERVAL_SECONDS


def log(message: str) -> None:
    print(f"[faults {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- CPU of everything else on the machine --------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def tree_ticks(roots: list[int]) -> int:
    """CPU ticks of the processes under ``roots``, reaped children included."""
    parents: dict[int, list[int]] = defaultdict(list)
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            stats[int(entry.name)] = fields
            parents[int(fields[1])].append(int(entry.name))
    total, todo, seen = 0, list(roots), set()
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in stats:
            continue
        seen.add(pid)
        total += sum(int(value) for value in stats[pid][11:15])  # utime stime cutime cstime
        todo.extend(parents[pid])
    return total


def machine_busy_ticks() -> int:
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(values[:8]) - values[3] - values[4]  # all but idle and iowait


@dataclass
class Window:
    """A stretch of the run: its requests, and the CPU other processes took meanwhile."""

    name: str
    start: float
    cpu_at_start: tuple[int, int] = (0, 0)  # (machine busy, ours) in clock ticks
    log_at_start: int = 0
    end: float = 0.0
    others_pct: float = 0.0
    log_bytes: int = 0
    log_text: str = ""


@dataclass
class Run:
    args: argparse.Namespace
    folder: Path
    load: Load | None = None
    recipe: Recipe | None = None
    redis: OwnRedis | None = None
    postgres: OwnPostgres | None = None
    windows: dict[str, Window] = field(default_factory=dict)
    events: list[tuple[float, str]] = field(default_factory=list)
    facts: dict[str, float] = field(default_factory=dict)
    slow_connections: dict[str, int] = field(default_factory=dict)
    # Per slow-client phase: (start, end, with slow clients) of each spell.
    slow_spells: dict[str, list[tuple[float, float, bool]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def event(self, what: str) -> float:
        now = time.monotonic()
        self.events.append((now, what))
        log(what)
        return now

    # CPU and log measured over a window
    def _roots(self) -> list[int]:
        return [os.getpid(), *(p for p in [self.postgres.postmaster_pid()] if p)]

    def open(self, name: str) -> Window:
        window = Window(
            name,
            time.monotonic(),
            (machine_busy_ticks(), tree_ticks(self._roots())),
            self.recipe.gunicorn_log.stat().st_size,
        )
        self.windows[name] = window
        return window

    def close(self, window: Window) -> None:
        window.end = time.monotonic()
        busy, ours = machine_busy_ticks(), tree_ticks(self._roots())
        others = (busy - window.cpu_at_start[0]) - (ours - window.cpu_at_start[1])
        cpus = os.cpu_count() or 1
        window.others_pct = max(
            0.0, 100 * others / CLOCK_TICKS / (window.end - window.start) / cpus
        )
        with open(self.recipe.gunicorn_log, "rb") as handle:
            handle.seek(window.log_at_start)
            data = handle.read()
        window.log_bytes = len(data)
        window.log_text = data.decode(errors="replace")


async def sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


async def wait_for_cache(run: Run, since: float) -> None:
    """Note when a token issued after ``since`` is first found cached in Redis."""
    client = run.redis.client()
    first = len(run.load.issued)  # tokens issued from now on
    while time.monotonic() - since < 120:
        keys = [
            ":1:source_oauth:token:" + hashlib.sha256(token.encode()).hexdigest()
            for token in run.load.issued[first:][-20:]
        ]
        try:
            if keys and await asyncio.to_thread(client.exists, *keys):
                run.facts["redis_cache_back_s"] = time.monotonic() - since
                return
        except Exception:  # noqa: BLE001  (Redis still loading)
            pass
        await asyncio.sleep(0.1)


async def scenario(run: Run) -> None:
    args, load = run.args, run.load
    stop = asyncio.Event()
    driving = asyncio.create_task(load.run(stop))
    try:
        await sleep(args.warmup)

        window = run.open("baseline")
        await sleep(args.baseline)
        await load.revoke()
        run.close(window)

        # Redis killed, then restarted with what it had written to its append-only file.
        window = run.open("redis")
        await sleep(args.before)
        run.facts["redis_killed"] = run.event("Redis killed")
        await asyncio.to_thread(run.redis.kill)
        for _ in range(3):
            await sleep(args.outage / 4)
            revocation = await load.revoke()
            run.event(f"token revoked while Redis is down: {revocation.status}")
        await sleep(args.outage / 4)
        await asyncio.to_thread(run.redis.start)
        run.facts["redis_back"] = back = run.event("Redis restarted (its data restored)")
        cache = asyncio.create_task(wait_for_cache(run, back))
        await sleep(args.after)
        await load.revoke()
        await sleep(2)
        await cache
        run.close(window)

        # PostgreSQL restarted: the workers' persistent connections die with it.
        window = run.open("pg_restart")
        await sleep(args.before)
        run.facts["pg_restart_begin"] = run.event("PostgreSQL restarting")
        await asyncio.to_thread(run.postgres.restart)
        run.facts["pg_restart_back"] = run.event("PostgreSQL back")
        await sleep(args.after)
        run.close(window)

        # PostgreSQL stopped for the outage, then started.
        window = run.open("pg_stop")
        await sleep(args.before)
        run.facts["pg_stop_begin"] = run.event("PostgreSQL stopping")
        await asyncio.to_thread(run.postgres.stop)
        run.facts["pg_down"] = run.event("PostgreSQL down")
        await sleep(args.outage / 2)
        await load.revoke()  # answered 503: nothing changed, nothing to refuse later
        await sleep(args.outage / 2)
        await asyncio.to_thread(run.postgres.start)
        run.facts["pg_back"] = run.event("PostgreSQL back")
        await sleep(args.after)
        run.close(window)

        # Slow clients through nginx, then (the control) straight to gunicorn. Spells with
        # and without them alternate, so that what other processes do to the machine meanwhile
        # weighs on both alike.
        targets = [("slow", (HOST, run.recipe.port), args.slow_rounds)]
        if args.control:
            targets.append(("slow_direct", str(run.recipe.socket), 1))
        for name, address, rounds in targets:
            window = run.open(name)
            spell = args.slow / args.slow_rounds
            connections = 0
            for _ in range(rounds):
                off = time.monotonic()
                await sleep(spell)
                on = run.event(f"{args.slow_clients} slow clients ({name})")
                run.slow_spells[name].append((off, on, False))
                slow_stop = asyncio.Event()
                clients = [SlowClient(address) for _ in range(args.slow_clients)]
                tasks = [asyncio.create_task(c.run(slow_stop)) for c in clients]
                await sleep(spell)
                slow_stop.set()
                await asyncio.gather(*tasks)
                run.slow_spells[name].append((on, run.event("slow clients gone"), True))
                connections += sum(c.connections for c in clients)
            run.slow_connections[name] = connections
            if name == "slow_direct":  # gunicorn replaces the workers they held
                await sleep(args.before)
            run.close(window)
    finally:
        stop.set()
        await driving


# --- the report ------------------------------------------------------------------------------


def within(answers: list[Answer], start: float, end: float) -> list[Answer]:
    return [a for a in answers if start <= a.started < end]


def ok(answer: Answer) -> bool:
    return 200 <= answer.status < 300


def p99(answers: list[Answer]) -> float:
    latencies = sorted(a.latency for a in answers)
    if not latencies:
        return 0.0
    return 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]


def counted(run: Run) -> list[Answer]:
    """The load's answers, without probes and without tokens caught by their own revocation."""
    revoked = {r.token: r.started for r in run.load.revocations}
    return [
        a
        for a in run.load.answers
        if not a.probe and not (a.token in revoked and a.ended >= revoked[a.token])
    ]


def cell(answers: list[Answer]) -> str:
    counts = Counter(
        "2xx" if ok(a) else "4xx" if 400 <= a.status < 500 else "5xx" if a.status else "err"
        for a in answers
    )
    return f"{counts['2xx']}/{counts['4xx']}/{counts['5xx']}/{counts['err']}"


def per_second(run: Run, window: Window, answers: list[Answer]) -> list[str]:
    events = defaultdict(list)
    for when, what in run.events:
        if window.start <= when < window.end:
            events[int(when - window.start)].append(what)
    lines = [
        "| s | token 2xx/4xx/5xx/err | GET | OPTIONS | p99 ms | |",
        "| ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for second in range(int(window.end - window.start) + 1):
        chunk = within(answers, window.start + second, window.start + second + 1)
        kinds = [cell([a for a in chunk if a.kind == kind]) for kind in KINDS]
        note = "; ".join(events.get(second, []))
        lines.append(f"| {second} | {' | '.join(kinds)} | {p99(chunk):.0f} | {note} |")
    return lines


def log_counts(window: Window) -> tuple[int, int, int, int]:
    """(lines, lines from source_oauth.outages, Django's 4xx warnings, tracebacks)."""
    lines = window.log_text.splitlines()
    outage = sum("unreachable" in line or "reachable again" in line for line in lines)
    client_errors = sum(line.startswith(("Unauthorized:", "Bad Request:")) for line in lines)
    tracebacks = sum("Traceback" in line for line in lines)
    return len(lines), outage, client_errors, tracebacks


def log_summary(window: Window) -> str:
    lines, outage, client_errors, tracebacks = log_counts(window)
    return (
        f"log: {window.log_bytes:,} bytes, {lines} lines ({outage} from source_oauth.outages, "
        f"{client_errors} Django 4xx warnings), {tracebacks} tracebacks; "
        f"other processes used {window.others_pct:.0f} % of the CPUs"
    )


def lost_tokens(run: Run, database_url: str) -> tuple[int, int]:
    """(issued tokens not in the database or no longer active, tokens issued); revoked aside."""
    import psycopg

    revoked = {r.token for r in run.load.revocations if r.status == 200}
    checksums = [
        hashlib.sha256(t.encode()).hexdigest() for t in run.load.issued if t not in revoked
    ]
    found = 0
    with psycopg.connect(database_url) as connection:
        for start in range(0, len(checksums), 5000):
            found += connection.execute(
                "SELECT count(*) FROM oauth2_provider_accesstoken "
                "WHERE token_checksum = ANY(%s) AND expires > now()",
                (checksums[start : start + 5000],),
            ).fetchone()[0]
    return len(checksums) - found, len(checksums)


def report(run: Run, database_url: str) -> str:
    args, facts = run.args, run.facts
    answers = counted(run)
    out: list[str] = []
    goals: list[tuple[bool, str]] = []

    def goal(passed: bool, text: str) -> None:
        goals.append((passed, text))

    baseline = run.windows["baseline"]
    base = within(answers, baseline.start, baseline.end)
    base_p99 = p99(base)
    base_rps = len(base) / (baseline.end - baseline.start)

    sections = {
        "baseline": "Baseline",
        "redis": f"Redis killed for {args.outage} s, then restarted with its data",
        "pg_restart": "PostgreSQL restarted (persistent connections, CONN_MAX_AGE=60)",
        "pg_stop": f"PostgreSQL stopped for {args.outage} s, then started",
        "slow": f"{args.slow_clients} slow clients through nginx",
        "slow_direct": f"Control: {args.slow_clients} slow clients straight to gunicorn's socket",
    }
    for name, title in sections.items():
        if name not in run.windows:
            continue
        window = run.windows[name]
        out += [f"### {title}", ""]
        if name != "baseline":
            out += per_second(run, window, answers) + [""]
        chunk = within(answers, window.start, window.end)
        out += [
            f"{len(chunk)} requests, {len(chunk) / (window.end - window.start):.0f}/s, "
            f"{100 * sum(map(ok, chunk)) / max(len(chunk), 1):.2f} % 2xx, p99 {p99(chunk):.0f} ms;"
            f" {log_summary(window)}.",
            "",
        ]

    # 1. Redis
    during = within(answers, facts["redis_killed"], facts["redis_back"])
    share = 100 * sum(map(ok, during)) / max(len(during), 1)
    goal(share >= 99, f"Redis down: {share:.2f} % of {len(during)} requests 2xx (goal ≥ 99 %)")
    outage_p99 = p99(during)
    goal(
        outage_p99 < 10 * base_p99,
        f"Redis down: p99 {outage_p99:.0f} ms vs baseline {base_p99:.0f} ms "
        f"({outage_p99 / max(base_p99, 1e-9):.1f}x, goal < 10x)",
    )
    back = facts.get("redis_cache_back_s")
    out.append(
        f"Redis: back in use {back:.1f} s after its restart (a token issued since found cached)."
        if back is not None
        else "Redis: no token issued after its restart was found cached within 120 s."
    )

    # Revoked tokens: probes that started after their revocation answered.
    answered = {r.token: r.answered for r in run.load.revocations if r.status == 200}
    probes = [a for a in run.load.answers if a.probe]
    accepted = [a for a in probes if ok(a)]
    by_worker = Counter(a.worker for a in probes if a.worker)
    in_outage = [
        r
        for r in run.load.revocations
        if facts["redis_killed"] <= r.started < facts["redis_back"] and r.status == 200
    ]
    outage_probes = [a for a in probes if a.token in {r.token for r in in_outage}]
    goal(
        not accepted and len(in_outage) == 3,
        f"revoked tokens accepted: {len(accepted)} of {len(probes)} presentations after their "
        f"revocation answered ({len(answered)} revoked, {len(in_outage)} while Redis was down, "
        f"those presented {len(outage_probes)} times); workers refusing them: "
        + ", ".join(f"{pid} ({count})" for pid, count in sorted(by_worker.items())),
    )
    lost, issued = lost_tokens(run, database_url)
    goal(lost == 0, f"tokens lost: {lost} of {issued} issued (not in the database, or inactive)")

    # 3. PostgreSQL restarted
    after = within(answers, facts["pg_restart_back"], run.windows["pg_restart"].end)
    failed = [a for a in after if not ok(a)]
    goal(
        not failed,
        f"PostgreSQL restart: {len(failed)} failed of {len(after)} requests started after it was "
        f"back (restart took {facts['pg_restart_back'] - facts['pg_restart_begin']:.1f} s)",
    )

    # 2. PostgreSQL down
    down = within(answers, facts["pg_stop_begin"], facts["pg_back"])
    failures = [a for a in down if not ok(a)]
    wrong = [a for a in failures if not a.conforming_503]
    goal(
        not wrong,
        f"PostgreSQL down: {len(failures)} of {len(down)} requests failed, "
        f"{len(failures) - len(wrong)} as 503 JSON temporarily_unavailable with Retry-After and "
        f"no-store, {len(wrong)} otherwise"
        + (f" (statuses {dict(Counter(a.status for a in wrong))})" if wrong else ""),
    )
    options = [
        a for a in within(answers, facts["pg_down"], facts["pg_back"]) if a.kind == "options"
    ]
    # A token used before the outage is in the caches; one never used has to be looked up.
    used = {
        a.token for a in answers if a.kind != "token" and ok(a) and a.ended < facts["pg_stop_begin"]
    }
    warm = [a for a in options if a.token in used]
    out.append(
        f"PostgreSQL down: OPTIONS with a token used before the outage (decided from the caches): "
        f"{sum(map(ok, warm))} of {len(warm)} 2xx; with a token never used before: "
        f"{sum(map(ok, options)) - sum(map(ok, warm))} of {len(options) - len(warm)} 2xx."
    )
    after = within(answers, facts["pg_back"], run.windows["pg_stop"].end)
    failed = [a for a in after if not ok(a)]
    first_ok = min((a.ended for a in after if ok(a) and a.kind == "token"), default=None)
    goal(
        not failed,
        f"PostgreSQL started: {len(failed)} failed of {len(after)} requests started after it "
        "was back; first token issued "
        + (f"{first_ok - facts['pg_back']:.2f} s after" if first_ok else "never"),
    )

    # 4. Logs
    for name in ("redis", "pg_restart", "pg_stop"):
        window = run.windows[name]
        _, outage_lines, _, tracebacks = log_counts(window)
        intervals = int((window.end - window.start) / LOG_INTERVAL) + 2
        limit = run.args.workers * intervals  # one dependency fails in each
        goal(
            tracebacks == 0 and outage_lines <= limit,
            f"logs ({name}): {tracebacks} tracebacks, {outage_lines} outage lines "
            f"(at most {limit}: one per dependency, worker and {LOG_INTERVAL} s), "
            f"{window.log_bytes:,} bytes",
        )

    # 5. Slow clients
    for name in ("slow", "slow_direct"):
        if name not in run.windows:
            continue
        rates = {}
        for slow in (False, True):
            spells = [(a, b) for a, b, on in run.slow_spells[name] if on is slow]
            requests = sum(len(within(answers, a, b)) for a, b in spells)
            rates[slow] = requests / sum(b - a for a, b in spells)
        ratio = 100 * rates[True] / max(rates[False], 1e-9)
        how = "through nginx" if name == "slow" else "control, no nginx"
        text = (
            f"{args.slow_clients} slow clients ({how}, {run.slow_connections[name]} connections "
            f"in {len(run.slow_spells[name]) // 2} spell(s)): {rates[True]:.0f} req/s vs "
            f"{rates[False]:.0f} in the spells between ({ratio:.0f} %"
        )
        if name == "slow":
            goal(ratio >= 95, text + ", goal ≥ 95 %)")
        else:
            out.append(text + "; no goal: this is what the recipe prevents).")

    head = [
        f"## Fault benchmark, {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}",
        "",
        f"Machine: {machine()}. Load: {args.clients} clients, 30 % token requests, 50 % GET and "
        f"20 % OPTIONS on /api/articles/; gunicorn {args.workers} sync workers behind nginx "
        "(deploy/), DEBUG off, CONN_MAX_AGE=60 with CONN_HEALTH_CHECKS, django-redis with "
        "0.5 s timeouts, process copies on. Baseline: "
        f"{base_rps:.0f} req/s, p99 {base_p99:.0f} ms. Cells: 2xx/4xx/5xx/no answer; "
        "seconds from the start of each phase.",
        "",
        "### Goals",
        "",
        *[f"- {'PASS' if passed else 'FAIL'} {text}" for passed, text in goals],
        "",
    ]
    return "\n".join(head + out) + "\n"


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    memory = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True, check=False).stderr
    return (
        f"{os.cpu_count()} × {cpu}, {memory / 1024 / 1024:.1f} GiB, {platform.platform()}, "
        f"Python {platform.python_version()}, {nginx.strip().removeprefix('nginx version: ')}, "
        f"load average before the run {os.getloadavg()[0]:.1f}"
    )


def manage(env: dict[str, str], *args: str) -> str:
    completed = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if completed.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{completed.stderr}")
    return completed.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outage", type=float, default=20, help="seconds each service is down")
    parser.add_argument("--baseline", type=float, default=20)
    parser.add_argument("--before", type=float, default=5, help="seconds before each fault")
    parser.add_argument("--after", type=float, default=15, help="seconds after each fault")
    parser.add_argument("--slow", type=float, default=40, help="seconds with slow clients")
    parser.add_argument(
        "--slow-rounds",
        type=int,
        default=4,
        help="spells with slow clients, between spells without",
    )
    parser.add_argument("--slow-clients", type=int, default=50)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--no-control", dest="control", action="store_false", help="skip slow clients without nginx"
    )
    parser.add_argument("--quick", action="store_true", help="short phases, to try the harness")
    args = parser.parse_args()
    if args.quick:
        args.outage, args.baseline, args.before, args.after, args.slow = 8, 6, 2, 5, 8

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = RESULTS / f"faults-{stamp}"
    folder.mkdir(parents=True)
    run = Run(args, folder)
    # An interrupt or a kill ends the run through the finally below: nothing stays up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        run.postgres = OwnPostgres()
        (folder / "pgdata").write_text(str(run.postgres.data))  # for faults.sh, if killed
        run.postgres.init()
        run.redis = OwnRedis(persistent=True, fsync="everysec")
        run.redis.start()
        (folder / "redis.pid").write_text(str(run.redis.process.pid))
        database_url = run.postgres.create_database("source_oauth_faults")
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
        }
        env.update(
            DATABASE_URL=database_url,
            REDIS_URL=run.redis.url,
            DATABASE_CONN_MAX_AGE="60",
            DJANGO_SETTINGS_MODULE="bench.fault_settings",
            DJANGO_DEBUG="0",
            MEDIA_ROOT=str(folder / "media"),
            PYTHONDONTWRITEBYTECODE="1",
        )
        log("migrating, loading the demo articles, creating the API client")
        manage(env, "migrate", "--no-input")
        manage(env, "load_demo_content")
        created = json.loads(
            manage(env, "create_api_client", "Fault benchmark", "--scope", "content:read", "--json")
        )
        run.recipe = Recipe(env, workers=args.workers).start()
        (folder / "gunicorn.pgid").write_text(str(run.recipe.gunicorn.pid))
        (folder / "nginx.pgid").write_text(str(run.recipe.nginx.pid))
        log(f"nginx on {run.recipe.url}, gunicorn on {run.recipe.socket}")
        run.load = Load(
            run.recipe.port, created["client_id"], created["client_secret"], clients=args.clients
        )
        asyncio.run(scenario(run))
        text = report(run, database_url)
        (folder / "gunicorn.log").write_bytes(run.recipe.gunicorn_log.read_bytes())
        path = RESULTS / f"faults-{stamp}.md"
        path.write_text(text)
    finally:
        for service in (run.recipe, run.redis, run.postgres):
            if service is not None:
                try:
                    service.close()
                except Exception as error:  # noqa: BLE001  (close the others anyway)
                    log(f"closing {type(service).__name__}: {error}")
    print(text)
    log(f"written {path.relative_to(ROOT)}; logs in {folder.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
