"""Rate limiting of failed client authentications, per client ID and per IP address.

Counters live in Django's cache (``SOURCE_OAUTH["CACHE_ALIAS"]``): local
memory by default, Redis in production so every server shares them. A fixed
window per key: the first failure starts it, ``AUTH_FAILURE_LIMIT`` failures
within it block that key until it ends.
"""

from __future__ import annotations

import hashlib

from django.core.cache import caches

from .conf import conf


def _keys(client_id: str | None, ip: str | None) -> list[str]:
    keys = []
    if client_id:
        # Hashed: a client ID can be any string, cache keys cannot.
        keys.append(
            "source_oauth:authfail:client:" + hashlib.sha256(client_id.encode()).hexdigest()
        )
    if ip:
        keys.append("source_oauth:authfail:ip:" + ip)
    return keys


def is_blocked(client_id: str | None, ip: str | None) -> bool:
    """Tell whether this client ID or this address has failed too often lately."""
    keys = _keys(client_id, ip)
    if not keys:
        return False
    counts = caches[conf.CACHE_ALIAS].get_many(keys)
    return any(count >= conf.AUTH_FAILURE_LIMIT for count in counts.values())


def record_failure(client_id: str | None, ip: str | None) -> None:
    cache = caches[conf.CACHE_ALIAS]
    for key in _keys(client_id, ip):
        if not cache.add(key, 1, conf.AUTH_FAILURE_WINDOW_SECONDS):
            try:
                cache.incr(key)
            except ValueError:  # expired between add() and incr()
                cache.add(key, 1, conf.AUTH_FAILURE_WINDOW_SECONDS)
