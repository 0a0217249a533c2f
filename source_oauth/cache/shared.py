"""Entries of the shared cache that stand for database rows: tokens and clients.

Every entry lives in ``SOURCE_OAUTH["CACHE_ALIAS"]`` (Redis in production,
shared by every server). A row is cached by whoever loads it, and forgotten
by whoever changes it. Two things keep a forgotten entry from coming back:

- forgetting writes a short-lived tombstone instead of deleting the key, and
- caching a loaded row uses ``add()``, which never replaces a tombstone.

Without them, a request that loaded a row just before it was revoked could
put it back into the cache just after, for a whole timeout. While the
tombstone lasts, the row is read from the database.

In front of the shared cache, each process may keep its own copy of what it
read (``cache.process``, when ``PROCESS_CACHE_REDIS_URL`` is set), which
forgetting reaches through Redis pub/sub.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.cache import caches

from ..conf import conf
from . import process

TOMBSTONE = "source_oauth:forgotten"
# Longer than any request takes between loading a row and caching it.
TOMBSTONE_SECONDS = 30


def read(key: str) -> Any:
    """The cached value under ``key``, or None when there is none or it was forgotten."""
    local = process.current()
    if local is not None:
        value = local.get(key)
        if value is not None:
            return value
    value = caches[conf.CACHE_ALIAS].get(key)
    if value is None or value == TOMBSTONE:
        return None
    if local is not None:
        local.put(key, value)
    return value


def remember(key: str, value: Any, timeout: int) -> None:
    """Cache a row just loaded, unless it was forgotten meanwhile."""
    if timeout > 0 and caches[conf.CACHE_ALIAS].add(key, value, timeout):
        local = process.current()
        if local is not None:
            local.put(key, value)


def forget(keys: Iterable[str]) -> None:
    """Drop these entries at once, on every server sharing the cache.

    One round trip; two when processes keep their own copies.
    """
    tombstones = dict.fromkeys(keys, TOMBSTONE)
    if not tombstones:
        return
    caches[conf.CACHE_ALIAS].set_many(tombstones, TOMBSTONE_SECONDS)
    local = process.current()
    if local is not None:
        local.publish(list(tombstones))
