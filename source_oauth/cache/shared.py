"""Entries of the shared cache that stand for database rows: tokens, clients, catalogues.

Every entry lives in ``SOURCE_OAUTH["CACHE_ALIAS"]`` (Redis in production,
shared by every server). A row is cached by whoever loads it (``fetch``),
and forgotten by whoever changes it (``forget``). Two things keep a
forgotten entry from coming back:

- forgetting writes a short-lived tombstone instead of deleting the key, and
- caching a loaded row uses ``add()``, which never replaces a tombstone.

Without them, a request that loaded a row just before it was revoked could
put it back into the cache just after, for a whole timeout. While the
tombstone lasts, the row is read from the database.

The cache is an accelerator, never a dependency: when it fails, ``fetch``
loads from the database as if the cache were empty, and ``forget`` still
returns (the change itself is in the database). ``breaker`` then stops
asking the cache until it answers again. A forget that could not be written
must not let the old entry be served once the cache is back, so entries
carry an **epoch**: each entry holds the epoch that was current when its row
was *loaded*, read in the same round trip as the entry itself, and is used
only while that epoch is still current. Replacing the epoch retires every
entry at once; the breaker does it whenever the cache failed or a forget
could not reach it, before anything is read from the cache again.

In front of the shared cache, each process may keep its own copy of what it
read (``cache.process``, when ``PROCESS_CACHE_REDIS_URL`` is set), which
forgetting reaches through Redis pub/sub.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.core.cache import BaseCache, caches
from django.db import transaction

from ..conf import conf
from . import process
from .breaker import breaker, errors

T = TypeVar("T")

TOMBSTONE = "source_oauth:forgotten"
# Longer than any request takes between loading a row and caching it.
TOMBSTONE_SECONDS = 30
EPOCH_KEY = "source_oauth:epoch"


def backend() -> BaseCache:
    return caches[conf.CACHE_ALIAS]


def fetch(key: str, load: Callable[[], T | None], timeout: int | Callable[[T], int]) -> T | None:
    """The cached value under ``key``; else ``load()``'s, cached unless it is None.

    ``timeout`` is in seconds, or a function of the loaded value; 0 caches
    nothing. A hit costs one round trip (none from this process's copy), a
    miss two, besides the load. When the cache is down, this is ``load()``.
    """
    if timeout == 0:
        return load()
    local = process.current()
    if local is not None:
        value = local.get(key)
        if value is not None:
            return value
    epoch, value = _lookup(key)
    if value is not None:
        if local is not None:
            local.put(key, value)
        return value
    value = load()
    if value is not None and epoch is not None:
        seconds = timeout(value) if callable(timeout) else timeout
        _remember(key, value, seconds, epoch)
    return value


def read(key: str) -> Any:
    """The cached value under ``key``, or None: none, forgotten, retired, or no cache."""
    return _lookup(key)[1]


def remember(key: str, value: Any, timeout: int) -> None:
    """Cache a row just loaded, unless it was forgotten meanwhile.

    Stamped with the epoch current now: ``fetch`` is safer, as it stamps the
    epoch seen before the load.
    """
    epoch = _lookup(EPOCH_KEY)[0]
    if epoch is not None:
        _remember(key, value, timeout, epoch)


def forget(keys: Iterable[str], *, tombstones: bool = True) -> None:
    """Drop these entries at once, on every server sharing the cache.

    One round trip; two when processes keep their own copies. With
    ``tombstones=False`` the keys are deleted instead, for entries that may
    be rebuilt at once (a catalogue, not a row a request may be holding).
    Never raises for the cache: if it cannot be told, every entry is retired
    as soon as it answers again, after this change is committed.
    """
    keys = list(dict.fromkeys(keys))
    if not keys:
        return
    local = process.current()
    if local is not None:
        local.discard(keys)  # this process's copy, whatever happens to Redis
    if not breaker.reachable():
        _owe()
        return
    try:
        if tombstones:
            backend().set_many(dict.fromkeys(keys, TOMBSTONE), TOMBSTONE_SECONDS)
        else:
            backend().delete_many(keys)
        if local is not None:
            local.publish(keys)
    except errors() as error:
        breaker.failed(error)
        _owe()


def replace_epoch() -> None:
    """Retire every entry of the shared cache, and every process's copy of them.

    Raises the cache's error when it cannot be reached (``breaker`` retries).
    """
    backend().set(EPOCH_KEY, secrets.token_hex(8), None)
    local = process.current()
    if local is not None:
        local.publish([process.EVERYTHING])


# --- private helpers ------------------------------------------------------------------


def _owe() -> None:
    # Now, so this process trusts no entry meanwhile; and again once the change is committed,
    # so that no row loaded before the commit is trusted under the epoch that replaces this one.
    breaker.owe()
    transaction.on_commit(breaker.owe)


def _lookup(key: str) -> tuple[str | None, Any]:
    """(current epoch, value) from one round trip; (None, None) when the cache is not used."""
    if not breaker.trusted():
        breaker.skipped()
        return None, None
    cache = backend()
    try:
        found = cache.get_many([EPOCH_KEY, key])
        epoch = found.get(EPOCH_KEY)
        if epoch is None:  # a new (or flushed, or evicted) cache: nothing in it is trusted
            candidate = secrets.token_hex(8)
            epoch = candidate if cache.add(EPOCH_KEY, candidate, None) else cache.get(EPOCH_KEY)
        entry = found.get(key)
        if entry is None or entry == TOMBSTONE or key == EPOCH_KEY:
            return epoch, None
        if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == epoch:
            return epoch, entry[1]
        # Written under a retired epoch: useless, and in the way of add(). A tombstone
        # may replace any entry safely (deleting could remove a fresher tombstone).
        cache.set(key, TOMBSTONE, TOMBSTONE_SECONDS)
        return epoch, None
    except errors() as error:
        breaker.failed(error)
        return None, None


def _remember(key: str, value: Any, timeout: int, epoch: str) -> None:
    if timeout <= 0 or not breaker.trusted():
        return
    try:
        added = backend().add(key, (epoch, value), timeout)
    except errors() as error:
        breaker.failed(error)
        return
    local = process.current()
    if added and local is not None:
        local.put(key, value)
