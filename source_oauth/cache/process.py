"""Each process's own copy of shared-cache entries, dropped the moment any server forgets them.

With Redis as the shared cache, a warm protected request still pays one
round trip to Redis for its token; on a small machine that round trip costs
more CPU than everything else the token check does. With
``SOURCE_OAUTH["PROCESS_CACHE_REDIS_URL"]`` set, each process keeps the
tokens and clients it read from the shared cache, for at most
``PROCESS_CACHE_SECONDS`` and at most ``PROCESS_CACHE_MAX_ENTRIES`` of them
(the least recently used go first), and stays exact through Redis pub/sub:

- ``shared.forget`` publishes the keys it forgets on ``CHANNEL``, after
  writing their tombstones;
- every process subscribes to ``CHANNEL``, and before each read applies the
  messages that have arrived on its subscription's socket: a poll, not a
  round trip;
- a copy is only kept while the subscription is confirmed; when it is lost
  (Redis restarted, connection dropped: redis-py reconnects and resubscribes)
  the whole copy is dropped, since messages may have been missed.

Publishing waits until Redis has written the message to every subscriber, so
once a revocation has returned, no process on the same host as Redis uses the
revoked token; a server on another host has the message one network hop
after Redis sent it, in practice before the revoking request's response
reaches its client.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import threading
import time
from typing import Any

from ..conf import conf

CHANNEL = "source_oauth:forget"
RETRY_SECONDS = 5


class ProcessCache:
    """The copy of one process, for one Redis URL; thread-safe."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.pid = os.getpid()
        self.entries: dict[str, tuple[float, bytes]] = {}
        self.subscription: Any = None
        self.confirmed = False
        self.retry_at = 0.0
        self._publisher: Any = None

    def get(self, key: str) -> Any:
        """The copy of ``key``, or None; applies the invalidations that have arrived first."""
        with self.lock:
            if not self._sync():
                return None
            entry = self.entries.pop(key, None)
            if entry is None or entry[0] < time.monotonic():
                return None
            self.entries[key] = entry  # now the most recently used
        # A fresh object for every request, as from the shared cache: what one request
        # caches on it (a user's permissions, say) never reaches the next.
        return pickle.loads(entry[1])  # noqa: S301  (pickled by put(), in this process)

    def put(self, key: str, value: Any) -> None:
        """Keep a copy of what was just read from the shared cache."""
        with self.lock:
            if not self.confirmed or self.pid != os.getpid():
                return
            if len(self.entries) >= conf.PROCESS_CACHE_MAX_ENTRIES:
                del self.entries[next(iter(self.entries))]  # the least recently used
            data = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
            self.entries[key] = (time.monotonic() + conf.PROCESS_CACHE_SECONDS, data)

    def publish(self, keys: list[str]) -> None:
        """Tell every process to drop ``keys`` (after their tombstones are written)."""
        if self._publisher is None:
            import redis

            self._publisher = redis.Redis.from_url(self.url)
        self._publisher.publish(CHANNEL, " ".join(keys))
        # Redis answers this in a later turn of its event loop than the PUBLISH, after it
        # has written the message to every subscriber's socket: once it returns, every
        # process on this host can read the message.
        self._publisher.ping()

    def _sync(self) -> bool:
        """Apply every message that has arrived; tell whether the copy can be trusted."""
        if self.pid != os.getpid():  # a forked worker: nothing of the parent's is valid
            self._reset()
        if self.subscription is None and not self._subscribe():
            return False
        try:
            while True:
                # Data waiting, or a closed socket; usually neither, found by one poll.
                pending = self.subscription.connection.can_read(timeout=0)
                self._forget_all_if_reconnected()
                if not pending:
                    break
                message = self.subscription.get_message(timeout=0.0)
                self._forget_all_if_reconnected()
                if message is None:
                    break
                if message["type"] == "subscribe":
                    self.confirmed = True
                elif message["type"] == "message":
                    for key in message["data"].decode().split():
                        self.entries.pop(key, None)
        except Exception:  # noqa: BLE001  (any failure: stop trusting the copy)
            self._drop()
            return False
        return self.confirmed

    def _forget_all_if_reconnected(self) -> None:
        # redis-py reconnects and resubscribes by itself (in can_read or get_message);
        # what was published meanwhile is lost, so nothing kept so far can be trusted.
        if self.subscription.reconnected:
            self.subscription.reconnected = False
            self.entries.clear()
            self.confirmed = False

    def _subscribe(self) -> bool:
        if time.monotonic() < self.retry_at:
            return False
        try:
            import redis
            from redis.client import PubSub

            class Subscription(PubSub):
                reconnected = False

                def on_connect(self, connection: Any) -> None:
                    self.reconnected = True  # messages may have been missed meanwhile
                    super().on_connect(connection)

            # A pool of its own, kept by the subscription (a Redis client, once collected,
            # would disconnect the pool it made).
            pool = redis.ConnectionPool.from_url(self.url, socket_connect_timeout=1)
            self.subscription = Subscription(pool)
            self.subscription.subscribe(CHANNEL)
            # One wait per process, so that its first request can already keep a copy.
            confirmation = self.subscription.get_message(timeout=1.0)
            self.subscription.reconnected = False  # a first connection: nothing kept yet
            self.confirmed = confirmation is not None and confirmation["type"] == "subscribe"
        except Exception:  # noqa: BLE001
            self._drop()
            return False
        return True

    def _drop(self) -> None:
        self.entries.clear()
        self.confirmed = False
        self.retry_at = time.monotonic() + RETRY_SECONDS
        subscription, self.subscription = self.subscription, None
        if subscription is not None:
            with contextlib.suppress(Exception):  # already broken
                subscription.close()
                subscription.connection_pool.disconnect()


_instance: ProcessCache | None = None


def current() -> ProcessCache | None:
    """This process's cache for the configured URL, or None when it is not configured."""
    global _instance
    url = conf.PROCESS_CACHE_REDIS_URL
    if not url:
        return None
    if _instance is None or _instance.url != url:
        _instance = ProcessCache(url)
    return _instance
