"""Rate limiting of failed client authentications, per address.

Counters live in Django's cache (``SOURCE_OAUTH["CACHE_ALIAS"]``): local
memory by default, Redis in production so every server shares them. A fixed
window per address: its first failure starts the window, and from the
``AUTH_FAILURE_LIMIT + 1``-th failure within it, that address's failed
authentications are answered 429 ``slow_down`` instead of 401 until it ends.

Only failures are limited, and only per address:

- A request with correct client credentials is always served. Generated
  secrets carry 256 bits, so refusing correct ones would protect nothing
  against guessing, and would let anyone who knows a client ID (public for
  browser apps) stop that client's token issuance from anywhere, or from
  behind the same NAT or proxy.
- No counter is read on a successful request: a failure increments its
  address's counter and learns whether it is over the limit from the same
  round trip.

The first refusal of a window is recorded in the audit trail, so a burst of
failures leaves one event, not one per request.

When the cache cannot be reached (see ``cache.breaker``), each process
counts in its own memory instead, with the same window and limit: an
address is then limited per process rather than per site, which is weaker
but never fails a request. At most ``LOCAL_MAX_ADDRESSES`` addresses are
counted locally; the oldest windows go first.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.core.cache import caches

from .cache.breaker import breaker, errors
from .conf import conf

logger = logging.getLogger(__name__)

_over_limit: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "source_oauth_over_limit", default=False
)


def _key(ip: str) -> str:
    return "source_oauth:authfail:ip:" + ip


LOCAL_MAX_ADDRESSES = 10_000
# This process's counters while the cache is unreachable: address -> (window end, count).
_local: dict[str, tuple[float, int]] = {}
_local_lock = threading.Lock()


def record_failure(client_id: str | None, ip: str | None) -> None:
    """Count a failed client authentication from ``ip``; note it when over the limit."""
    if not ip:
        return
    count = None
    if breaker.reachable():
        try:
            count = _count_in_cache(ip)
        except errors() as error:
            breaker.failed(error)
    if count is None:
        count = _count_locally(ip)
    if count > conf.AUTH_FAILURE_LIMIT:
        _over_limit.set(True)
    if count == conf.AUTH_FAILURE_LIMIT + 1:
        _record_throttled(client_id, ip, count)


def _count_in_cache(ip: str) -> int:
    cache = caches[conf.CACHE_ALIAS]
    key = _key(ip)
    if cache.add(key, 1, conf.AUTH_FAILURE_WINDOW_SECONDS):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, conf.AUTH_FAILURE_WINDOW_SECONDS)
        return 1


def _count_locally(ip: str) -> int:
    now = time.monotonic()
    with _local_lock:
        window_end, count = _local.get(ip, (0.0, 0))
        if window_end > now:
            _local[ip] = (window_end, count + 1)  # in place: the dict is in order of start
            return count + 1
        _local.pop(ip, None)
        while len(_local) >= LOCAL_MAX_ADDRESSES:
            del _local[next(iter(_local))]  # the window that started first
        _local[ip] = (now + conf.AUTH_FAILURE_WINDOW_SECONDS, 1)
        return 1


@contextmanager
def watching() -> Iterator[Callable[[], bool]]:
    """Within the block, tell whether a failure recorded there was over its address's limit."""
    token = _over_limit.set(False)
    try:
        yield _over_limit.get
    finally:
        _over_limit.reset(token)


def _record_throttled(client_id: str | None, ip: str, count: int) -> None:
    from . import audit
    from .cache import clients

    logger.warning(
        "Client authentication failures from %s passed the limit (%d in %d s); answering 429.",
        ip,
        count - 1,
        conf.AUTH_FAILURE_WINDOW_SECONDS,
    )
    try:
        client = clients.get_client(client_id) if client_id and "\x00" not in client_id else None
    except ValueError:  # a lone surrogate encodes to nothing
        client = None
    audit.record(
        audit.Action.CLIENT_AUTH_THROTTLED,
        client,
        actor=f"address {ip}",
        address=ip,
        failures=count - 1,
        window_seconds=conf.AUTH_FAILURE_WINDOW_SECONDS,
    )
