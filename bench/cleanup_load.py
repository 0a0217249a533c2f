"""Cleanup under load (issue 16): ``clear_expired_oauth`` while wrk drives issuance and GETs.

Two wrk processes side by side, one on token issuance and one on the warm
protected GET (half the connections each): first for ``--duration`` seconds
without cleanup, then again while ``manage.py clear_expired_oauth --json``
runs, stopped (SIGINT: wrk still prints its latency distribution) as soon as
the command has finished, after ``MIN_WINDOW`` seconds at least. The goal
compares issuance's p99 in the two windows and counts the errors of both
loads during cleanup.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import time
from typing import Any

from bench import run

COMMAND = "clear_expired_oauth"
MIN_WINDOW = 3.0  # seconds of load at least around the cleanup, for a p99 worth the name
LEAD = 1.0  # seconds of load before the cleanup starts


def installed(server: run.Server) -> bool:
    """Whether ``manage.py help clear_expired_oauth`` succeeds in the server's environment."""
    completed = subprocess.run(
        [str(run.PYTHON), "manage.py", "help", COMMAND],
        env=server.env,
        cwd=run.ROOT,
        capture_output=True,
        timeout=120,
        check=False,
    )
    return completed.returncode == 0


def half(args: argparse.Namespace) -> argparse.Namespace:
    """wrk's options for one of two loads sharing the machine: half the connections, 1 thread."""
    return argparse.Namespace(
        **{**vars(args), "threads": 1, "connections": max(1, args.connections // 2)}
    )


def start_loads(server: run.Server, args: argparse.Namespace, duration: int) -> dict[str, Any]:
    loads = {}
    for scenario in ("token", "warm"):
        command, env, _ = run.wrk_command(server, scenario, duration, half(args))
        loads[scenario] = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    return loads


def finish_loads(loads: dict[str, subprocess.Popen], stop: bool) -> dict[str, dict[str, Any]]:
    results = {}
    for scenario, process in loads.items():
        if stop:
            process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
        results[scenario] = run.parse_wrk(stdout, stderr)
    return results


def cleanup_under_load(server: run.Server, args: argparse.Namespace) -> dict[str, Any]:
    """The two windows (without, during) and what the command printed."""
    if not installed(server):
        run.log(f"SKIPPED: {COMMAND} not installed")
        return {"skipped": f"{COMMAND} not installed"}
    # Without cleanup.
    baseline = finish_loads(start_loads(server, args, args.duration), stop=False)
    run.drain(server)
    # During cleanup: the loads run until the command is done.
    loads = start_loads(server, args, 3600)
    started = time.monotonic()
    time.sleep(LEAD)
    command_started = time.monotonic()
    completed = subprocess.run(
        [str(run.PYTHON), "manage.py", COMMAND, "--json"],
        env=server.env,
        cwd=run.ROOT,
        capture_output=True,
        text=True,
        timeout=7200,
        check=False,
    )
    command_seconds = time.monotonic() - command_started
    remaining = MIN_WINDOW - (time.monotonic() - started)
    if remaining > 0:
        time.sleep(remaining)
    during = finish_loads(loads, stop=True)
    window = time.monotonic() - started
    run.drain(server)
    output: dict[str, Any] = {}
    if completed.returncode == 0:
        try:
            output = json.loads(completed.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            output = {"unparsed": completed.stdout[-2000:]}
    deleted = output.get("deleted", {}) if isinstance(output.get("deleted"), dict) else {}
    total = sum(v for v in deleted.values() if isinstance(v, int))
    seconds = output.get("seconds") or command_seconds
    result = {
        "returncode": completed.returncode,
        "stderr": completed.stderr[-2000:],
        "output": output,
        "deleted": deleted,
        "deleted_total": total,
        "command_seconds": round(command_seconds, 2),
        "rows_per_second": total / seconds if seconds else 0,
        "window_seconds": round(window, 2),
        "without": baseline,
        "during": during,
    }
    run.log(
        f"cleanup: exit {completed.returncode}, {total} rows in {command_seconds:.1f} s; "
        f"token p99 {baseline['token']['p99_us'] / 1000:.1f} ms without, "
        f"{during['token']['p99_us'] / 1000:.1f} ms during; errors during "
        f"{during['token']['errors'] + during['warm']['errors']}"
    )
    return result
