"""Whether this process may use the shared cache right now: a circuit breaker.

The shared cache (Redis) is an accelerator: when it fails, requests are
served from the database as if it were empty. Asking a dead Redis on every
request would still cost every request a failed connection, or a whole
socket timeout when Redis is frozen or cut off, so after one failure this
process stops asking: ``reachable()`` turns False, and a background thread
probes the cache every ``PROBE_SECONDS`` until it answers. Requests never
wait for a probe.

While the cache was unreachable, changes made anywhere may have failed to
forget their entries (a token revoked, a client changed), so when it
answers again it is not trusted at once: the probe first replaces the
cache's epoch (``shared.replace_epoch``), which makes every entry written
before unusable, and only then lets requests read entries again
(``trusted()``). The same happens after ``owe()``: a change that could not
forget its entries (the cache was down, or the write failed) asks for a new
epoch once it is committed.

State is per process (a fork starts afresh) and thread-safe.
"""

from __future__ import annotations

import os
import sys
import threading
import time

from .. import outages

PROBE_SECONDS = 0.5

outage = outages.Outage(
    "The shared cache", "serving from the database", "lookup(s) served from the database"
)

# Where a cache backend's client library keeps the base class of its errors.
_ERROR_CLASSES = (
    ("redis.exceptions", "RedisError"),  # Django's RedisCache and django-redis
    ("django_redis.exceptions", "ConnectionInterrupted"),
    ("pymemcache.exceptions", "MemcacheError"),
    ("pylibmc", "Error"),
)


def errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "the cache failed": socket errors and its library's errors.

    Only libraries already imported are looked at (a backend that was never
    used raised nothing). An ``except errors():`` clause calls this only when
    an exception is raised.
    """
    found: list[type[BaseException]] = [OSError]
    for module_name, class_name in _ERROR_CLASSES:
        module = sys.modules.get(module_name)
        error_class = getattr(module, class_name, None)
        if isinstance(error_class, type):
            found.append(error_class)
    return tuple(found)


class Breaker:
    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.lock = threading.Lock()  # a new one: a fork may have copied a held one
        self.pid = os.getpid()
        self.down = False  # the cache failed; only the probe asks it until it answers
        self.owed = False  # a new epoch is due before entries are trusted again
        self.changes = 0  # failures and debts so far: a probe clears only what it saw
        self.prober: threading.Thread | None = None
        self.generation = object()  # a probe of an earlier state stops

    def reachable(self) -> bool:
        """Whether the cache may be asked at all (rate-limit counters, tombstones)."""
        if self.pid != os.getpid():  # a forked worker: its parent's probe did not follow it
            self._reset()
        return not self.down

    def trusted(self) -> bool:
        """Whether entries may be read from and written to the cache."""
        return self.reachable() and not self.owed

    def skipped(self) -> None:
        """Count a lookup served from the database because the cache is not used now."""
        if self.down:
            outage.failed()

    def failed(self, error: BaseException) -> None:
        """A call to the cache failed: stop asking it until a probe succeeds."""
        with self.lock:
            self.down = self.owed = True
            self.changes += 1
            self._probe_soon()
        outage.failed(error)

    def owe(self) -> None:
        """Entries may have outlived a change: trust none until the epoch is replaced."""
        with self.lock:
            self.owed = True
            self.changes += 1
            self._probe_soon()

    def _probe_soon(self) -> None:
        if self.prober is None:
            self.prober = threading.Thread(
                target=self._probe,
                args=(self.generation,),
                name="source_oauth cache probe",
                daemon=True,
            )
            self.prober.start()

    def _probe(self, generation: object) -> None:
        from . import shared

        while True:
            with self.lock:
                if generation is not self.generation:
                    return
                seen, wait = self.changes, self.down
            if wait:
                time.sleep(PROBE_SECONDS)
            try:
                shared.replace_epoch()
            except Exception as error:  # noqa: BLE001  (whatever it was, not usable yet)
                with self.lock:
                    newly_down = generation is self.generation and not self.down
                    if newly_down:
                        self.down = True
                if newly_down:
                    outage.failed(error)
                continue
            with self.lock:
                if generation is not self.generation:
                    return
                if self.changes == seen:  # nothing failed or was owed meanwhile
                    self.down, self.owed, self.prober = False, False, None
                    break
        outage.recovered()

    def reset(self) -> None:
        """Forget every failure and stop probing (a new process; tests)."""
        with self.lock:
            self._reset()


breaker = Breaker()
