"""The soak of issue 16 (``--soak SECONDS``): a mixed load, then what grew.

One source_oauth server on a fresh PostgreSQL database and Redis database
``--redis-db``, driven for ``SECONDS`` by five wrk processes at once (one
connection pair each): token issuance; warm protected GET; cold protected
GET (each request another stored token; the file wraps on a long soak, after
which those requests are warm); refresh (grant_type=refresh_token, each
request another stored refresh token of a confidential client, stored as the
token endpoint stores them, since no password-less flow hands out refresh
tokens over HTTP; a used one would answer 400, so the file holds enough for
the run, ``TOKENS_PER_SECOND``); revocation (a fresh token each, until the
file wraps: a token revoked already answers 200 too, RFC 7009 §2.2).

Measured: errors, the workers' RSS at start, after warm-up (``WARMUP_SHARE``
of the run, 30 s at least) and at the end, and Redis's ``used_memory``,
key count and keys without an expiry at start and end.
"""

from __future__ import annotations

import argparse
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from bench import run

DATABASE = "bench_source_oauth_soak"
LOADS = ("token", "warm", "cold", "refresh", "revoke")
WARMUP_SHARE = 0.2
TOKENS_PER_SECOND = 150  # cold and revocation tokens stored per second of soak (at most)


def redis_state(url: str) -> dict[str, Any]:
    """used_memory, key count, and how many keys would never expire (a scan of all)."""
    import redis

    client = redis.Redis.from_url(url)
    keys = client.dbsize()
    persistent = 0
    for key in client.scan_iter(count=1000):
        if client.ttl(key) == -1:
            persistent += 1
    return {
        "used_memory": int(client.info("memory")["used_memory"]),
        "keys": keys,
        "keys_without_expiry": persistent,
    }


def rss(server: run.Server) -> int:
    """The workers' resident memory together, in KiB."""
    return sum(run.memory(pid)["VmRSS"] for pid in server.workers())


def run_soak(
    args: argparse.Namespace, workdir: Path, redis_url: str, stack: list
) -> dict[str, Any]:
    seconds = int(args.soak)
    tokens = max(2000, min(seconds * TOKENS_PER_SECOND, 100_000))
    run.create_pg_database(DATABASE)
    env = run.server_env("source_oauth", "postgres", workdir, args, redis_url)
    env["DATABASE_URL"] = f"{run.PG_URL}/{DATABASE}"
    soak_args = argparse.Namespace(**{**vars(args), "cold_tokens": tokens, "rounds": 1})
    server = run.prepare_server("source_oauth", env, workdir, soak_args, tokens, refresh=tokens)
    stack.append(server)
    try:
        server.start(args.workers)
        server.wait_ready()
        run.check_server(server)
        run.flush_redis(redis_url)
        run.check_server(server)  # the warm token, cached again
        start = {"rss_kib": rss(server), "redis": redis_state(redis_url)}
        one = argparse.Namespace(**{**vars(args), "threads": 1, "connections": 2})
        processes = {}
        for scenario in LOADS:
            command, wrk_env, _ = run.wrk_command(server, scenario, seconds, one)
            processes[scenario] = subprocess.Popen(
                command,
                env=wrk_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        warm: dict[str, Any] = {}
        warm_at = max(30.0, seconds * WARMUP_SHARE) if seconds > 60 else seconds * 0.5

        def sample() -> None:
            time.sleep(warm_at)
            warm["rss_kib"] = rss(server)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        run.log(f"soak: {seconds} s of {', '.join(LOADS)} at once")
        results = {}
        for scenario, process in processes.items():
            stdout, stderr = process.communicate(timeout=seconds + 120)
            results[scenario] = run.parse_wrk(stdout, stderr)
        sampler.join(timeout=5)
        end = {"rss_kib": rss(server), "redis": redis_state(redis_url)}
        run.drain(server)
    finally:
        server.stop()
        stack.remove(server)
        if not args.keep:
            run.drop_pg_database(DATABASE)
    base = warm.get("rss_kib") or start["rss_kib"]
    return {
        "seconds": seconds,
        "warmup_seconds": warm_at,
        "tokens": tokens,
        "results": results,
        "errors": sum(r["errors"] for r in results.values()),
        "start": start,
        "warm": warm,
        "end": end,
        "rss_growth_pct": 100 * (end["rss_kib"] - base) / base if base else 0.0,
        "refresh": "grant_type=refresh_token, a stored refresh token each request",
    }
