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
  the whole copy is dropped, since messages may have been missed, and the
  shared cache is not trusted until its epoch has been replaced (see
  ``cache.breaker``);
- a copy is only kept while Redis is heard from at least every
  ``TRUST_SECONDS``: a busy process pings it over the subscription every
  ``HEARTBEAT_SECONDS``; after a longer silence the copy is emptied, since a
  change made meanwhile (Redis frozen, or cut off by the network without a
  socket closing) may never have been published. An idle process therefore
  starts each busy spell with an empty copy; it pings and waits for the
  answer at most ``PONG_WAIT_SECONDS``, so that it can keep copies again at
  once. A Redis that dies closes the sockets, which every process notices at
  its next lookup.

Publishing waits until Redis has written the message to every subscriber, so
once a revocation has returned, no process on the same host as Redis uses the
revoked token; a server on another host has the message one network hop
after Redis sent it, in practice before the revoking request's response
reaches its client.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import os
import pickle
import select
import threading
import time
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db.models import Model
from django.db.models.base import ModelState

from ..conf import conf
from .breaker import breaker

CHANNEL = "source_oauth:forget"
EVERYTHING = "*"  # a message that drops every copy (the shared cache's epoch was replaced)
RETRY_SECONDS = 1  # between attempts to subscribe
TIMEOUT_SECONDS = 0.5  # to connect, and for one reply: short, never a request's whole budget
HEARTBEAT_SECONDS = 0.25  # well inside TRUST_SECONDS, even with a request every 0.3 s
TRUST_SECONDS = 1.0
PONG_WAIT_SECONDS = 0.1
PING = "source_oauth-heartbeat"


class ProcessCache:
    """The copy of one process, for one Redis URL; thread-safe."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.pid = os.getpid()
        self.entries: dict[str, tuple[float, _Copy]] = {}
        self.subscription: Any = None
        self.confirmed = False
        self.retry_at = 0.0
        self.heard = 0.0  # when Redis last said something on the subscription
        self.pinged = 0.0
        self._publisher: Any = None
        # Whether redis-py may hold bytes it read ahead from the subscription's socket.
        self.buffered = True
        self._poller: Any = None  # polls that socket (``_quiet``)
        self._polled: Any = None

    def get(self, key: str) -> Any:
        """The copy of ``key``, or None; applies the invalidations that have arrived first."""
        with self.lock:
            if not self._sync():
                return None
            entry = self.entries.pop(key, None)
            if entry is None or entry[0] < time.monotonic():
                return None
            self.entries[key] = entry  # now the most recently used
        return entry[1].fresh()

    def put(self, key: str, value: Any) -> None:
        """Keep a copy of what was just read from the shared cache."""
        with self.lock:
            if not self._heard_lately() or self.pid != os.getpid():
                return
            if len(self.entries) >= conf.PROCESS_CACHE_MAX_ENTRIES:
                del self.entries[next(iter(self.entries))]  # the least recently used
            self.entries[key] = (time.monotonic() + conf.PROCESS_CACHE_SECONDS, _Copy(value))

    def discard(self, keys: list[str]) -> None:
        """Drop this process's copies of ``keys`` now, whether or not Redis can be told."""
        with self.lock:
            for key in keys:
                self.entries.pop(key, None)

    def publish(self, keys: list[str]) -> None:
        """Tell every process to drop ``keys`` (after their tombstones are written).

        Raises redis-py's error when Redis cannot be told.
        """
        if self._publisher is None or self.pid != os.getpid():
            import redis

            self._publisher = redis.Redis.from_url(
                self.url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS
            )
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
        if time.monotonic() - self.heard > TRUST_SECONDS:
            # Redis was silent: it may have been frozen or cut off while a change was made
            # whose message was never published. Nothing kept before can be trusted, even
            # once Redis answers again.
            self.entries.clear()
        try:
            while not self._quiet():
                # Data waiting, or a closed socket (redis-py reconnects then).
                pending = self.subscription.connection.can_read(timeout=0)
                self._forget_all_if_reconnected()
                self.buffered = pending
                if not pending:
                    break
                message = self.subscription.get_message(timeout=0.0)
                self._forget_all_if_reconnected()
                if message is None:
                    break
                self._apply(message)
            self._keep_alive()
        except Exception:  # noqa: BLE001  (any failure: stop trusting the copy)
            self._drop()
            return False
        return self._heard_lately()

    def _quiet(self) -> bool:
        """Nothing to read on the subscription: no byte, no closed socket. One poll(2).

        redis-py's own ``can_read`` answers the same with three system calls and
        an exception (a non-blocking ``recv``), which made this check the costliest
        part of a warm protected request. It stays the answer whenever redis-py
        may hold bytes it read ahead (``buffered``: after any read, until its
        ``can_read`` found nothing), or the socket is not the one polled.
        """
        if self.buffered:
            return False
        sock = getattr(self.subscription.connection, "_sock", None)
        if sock is None or not hasattr(select, "poll"):
            return False
        if sock is not self._polled:
            self._poller, self._polled = select.poll(), sock
            self._poller.register(sock, select.POLLIN | select.POLLPRI)
        return not self._poller.poll(0)  # POLLHUP and POLLERR are always reported

    def _apply(self, message: dict[str, Any]) -> None:
        self.heard = time.monotonic()
        if message["type"] == "subscribe":
            self.confirmed = True
        elif message["type"] == "message":
            keys = message["data"].decode().split()
            if EVERYTHING in keys:
                self.entries.clear()
            for key in keys:
                self.entries.pop(key, None)

    def _heard_lately(self) -> bool:
        return self.confirmed and time.monotonic() - self.heard <= TRUST_SECONDS

    def _keep_alive(self) -> None:
        """Ping Redis after a silence: one ping at a time.

        After a long silence (an idle process), wait briefly for the answer, so
        that what this lookup reads can be kept. A ping still unanswered is not
        waited for again: nothing is kept until Redis answers it.
        """
        now = time.monotonic()
        if not self.confirmed or self.pinged > self.heard or now - self.heard <= HEARTBEAT_SECONDS:
            return
        self.pinged = now
        self.subscription.ping(PING)
        if now - self.heard <= TRUST_SECONDS:
            return
        deadline = now + PONG_WAIT_SECONDS
        while not self._heard_lately() and (remaining := deadline - time.monotonic()) > 0:
            self.buffered = True
            message = self.subscription.get_message(timeout=remaining)
            self._forget_all_if_reconnected()
            if message is not None:
                self._apply(message)

    def _forget_all_if_reconnected(self) -> None:
        # redis-py reconnects and resubscribes by itself (in can_read or get_message);
        # what was published meanwhile is lost, so nothing kept so far can be trusted.
        if self.subscription.reconnected:
            self.subscription.reconnected = False
            self.entries.clear()
            self.confirmed = False
            breaker.owe()

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
            pool = redis.ConnectionPool.from_url(
                self.url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS
            )
            self.subscription = Subscription(pool)
            self.buffered = True
            self.subscription.subscribe(CHANNEL)
            # A short wait, so that a process's first request can already keep a copy;
            # a later confirmation is applied by _sync().
            confirmation = self.subscription.get_message(timeout=PONG_WAIT_SECONDS)
            self.subscription.reconnected = False  # a first connection: nothing kept yet
            if confirmation is not None:
                self._apply(confirmation)
        except Exception:  # noqa: BLE001
            self._drop()
            return False
        return True

    def _drop(self) -> None:
        self.entries.clear()
        self.confirmed = False
        self.retry_at = time.monotonic() + RETRY_SECONDS
        breaker.owe()  # Redis may have missed what was forgotten meanwhile, too
        subscription, self.subscription = self.subscription, None
        self.buffered, self._poller, self._polled = True, None, None
        if subscription is not None:
            with contextlib.suppress(Exception):  # already broken
                subscription.close()
                subscription.connection_pool.disconnect()


class _Copy:
    """What a process keeps of a value: a new object for every request that reads it.

    As from the shared cache, what one request caches on the object it gets
    (a user's permissions, say) never reaches the next. A model instance (a
    token with its client and user, a client) is rebuilt from its field
    values, several times cheaper than unpickling it, which a warm protected
    request would otherwise pay; anything else is kept pickled.
    """

    __slots__ = ("row", "data")

    def __init__(self, value: Any) -> None:
        if isinstance(value, Model):
            self.row, self.data = _Row(value, {}), b""
        else:
            self.row, self.data = None, pickle.dumps(value, pickle.HIGHEST_PROTOCOL)

    def fresh(self) -> Any:
        if self.row is not None:
            return self.row.build({})
        return pickle.loads(self.data)  # noqa: S301  (pickled by __init__, in this process)


class _Row:
    """A model instance as ``pickle`` would rebuild it, with the related ones loaded with it.

    Its class, its field values (a mutable one, such as a JSON field's list,
    copied again for every build), its ``_state`` and the related instances
    of its ``select_related``, each built the same way.
    """

    __slots__ = ("model", "values", "mutable", "state", "related")

    def __init__(self, instance: Model, memo: dict[int, _Row]) -> None:
        memo[id(instance)] = self
        self.model = type(instance)
        values = {name: value for name, value in instance.__dict__.items() if name != "_state"}
        self.mutable = tuple(
            name for name, value in values.items() if type(value) not in _IMMUTABLE
        )
        for name in self.mutable:  # a copy of its own: the instance goes on serving its request
            values[name] = _copy_value(values[name])
        self.values = values
        self.state = {k: v for k, v in instance._state.__dict__.items() if k != "fields_cache"}
        self.related = tuple(
            (name, None if other is None else memo.get(id(other)) or _Row(other, memo))
            for name, other in instance._state.fields_cache.items()
        )

    def build(self, memo: dict[int, Model]) -> Model:
        clone = memo[id(self)] = object.__new__(self.model)
        values = self.values.copy()
        for name in self.mutable:
            values[name] = _copy_value(values[name])
        state = values["_state"] = object.__new__(ModelState)
        state.__dict__ = self.state.copy()
        state.fields_cache = {
            name: None if row is None else memo.get(id(row)) or row.build(memo)
            for name, row in self.related
        }
        clone.__dict__ = values
        return clone


def _copy_value(value: Any) -> Any:
    # A JSON field's lists and dicts of strings: faster than deepcopy, which they would meet.
    if type(value) in _IMMUTABLE:
        return value
    if type(value) is list:
        return [_copy_value(item) for item in value]
    if type(value) is dict:
        return {key: _copy_value(item) for key, item in value.items()}
    return copy.deepcopy(value)


_IMMUTABLE = frozenset(
    {str, int, float, bool, type(None), bytes, memoryview, Decimal, UUID}
    | {dt.datetime, dt.date, dt.time, dt.timedelta}
)
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
