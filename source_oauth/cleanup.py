"""Removing what has expired, in small batches, without ever holding up token issuance.

What goes, and when (the rules are DOT's ``clear_expired``, whose order and
refresh-token reasoning this follows, plus source_oauth's own records):

- refresh tokens: a revoked one once a replay of it can no longer matter
  (with ``REFRESH_TOKEN_REUSE_PROTECTION``, when it would have expired); one
  whose access token is gone; one unused for ``REFRESH_TOKEN_EXPIRE_SECONDS``
  after its access token expired;
- access tokens past ``expires`` that no refresh token still points to;
- ID tokens past ``expires`` that no access token points to; grants past ``expires``;
- redeemed-code records and remembered consents past ``expires``;
- records of revoked access tokens past the refresh token life (``revocations``);
- audit events older than ``SOURCE_OAUTH["AUDIT_RETENTION_SECONDS"]`` (``None``: kept).

DOT's own command counts the whole remaining set after every batch, which on
millions of rows costs more than the deleting. Here each batch selects at most
``batch_size`` primary keys through an index and deletes them in its own short
transaction, so a batch locks a few rows for milliseconds and issuance never
waits behind it. A lock (PostgreSQL advisory lock; a file lock on SQLite, whose
database is one machine's file) keeps two runs, say cron on two hosts, from
deleting the same rows at once: the second run reports it and does nothing.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)
from oauth2_provider.settings import oauth2_settings

from .conf import conf
from .lifetimes import refresh_token_life
from .models import AuditEvent, ConsentRecord, RedeemedCode
from .revocations import forgotten_revocations

# Any fixed number: the PostgreSQL advisory lock every run of the cleanup takes.
ADVISORY_LOCK = 0x534F5552_434C4541
DEFAULT_BATCH_SIZE = 1000
# The share of its time a run spends in batches; it rests for the rest. On a small
# machine a run at full speed takes a core and fills the WAL that every token's
# commit waits on: issuance's p99 quadrupled during a 5 M-row cleanup at 1.0.
DEFAULT_DUTY_CYCLE = 0.5


@dataclass
class Result:
    """What one run did: rows deleted per kind, or that another run held the lock."""

    deleted: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    locked_out: bool = False
    dry_run: bool = False

    @property
    def total(self) -> int:
        return sum(self.deleted.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "deleted": self.deleted,
            "total": self.total,
            "seconds": round(self.seconds, 3),
            "locked_out": self.locked_out,
            "dry_run": self.dry_run,
        }


class Expired(NamedTuple):
    """One kind of expired row: its name in the report, and the rows.

    ``raw``: delete by plain SQL, without Django's signals. True only where
    every receiver would do nothing: for an access token past its expiry the
    token cache holds no entry (entries never outlive the token) and
    ``revocations`` records nothing (an expired token is not revoked). The
    signals would cost a model instance and a cache round trip per row.
    """

    kind: str
    queryset: QuerySet
    raw: bool = False
    candidates: QuerySet | None = None

    def walked(self) -> QuerySet:
        """What the batches walk by key: ``candidates`` when given, else the rows themselves.

        ``candidates`` is a superset without the set's "no row points to it"
        condition. PostgreSQL may answer that condition, asked of the whole
        walk, with a merge anti-join that reads the other table's index from
        its start in every batch; asked of one batch's keys, it is a lookup
        per key.
        """
        return self.queryset if self.candidates is None else self.candidates


def expired_sets(now: datetime) -> list[Expired]:
    """Each kind of expired row, in the order they are removed.

    Refresh tokens go before access tokens: an access token stays while a
    refresh token points to it, so the access tokens a run's refresh-token
    deletions free go in the same run.
    """
    AccessToken = get_access_token_model()
    RefreshToken = get_refresh_token_model()
    refresh_life = refresh_token_life()
    refresh_expire_at = now - refresh_life if refresh_life else None
    if oauth2_settings.REFRESH_TOKEN_REUSE_PROTECTION:
        # A revoked refresh token is what detects a replay of it: kept until it would have expired.
        revoked_before = refresh_expire_at
    else:
        revoked_before = now - timedelta(seconds=oauth2_settings.REFRESH_TOKEN_GRACE_PERIOD_SECONDS)

    expired_access_tokens = AccessToken.objects.filter(expires__lt=now)
    expired_id_tokens = get_id_token_model().objects.filter(expires__lt=now)
    sets: list[Expired] = []
    if revoked_before is not None:
        sets.append(
            Expired(
                "revoked_refresh_tokens", RefreshToken.objects.filter(revoked__lte=revoked_before)
            )
        )
    sets.append(
        Expired(
            "orphaned_refresh_tokens",
            RefreshToken.objects.filter(revoked__isnull=True, access_token__isnull=True),
        )
    )
    if refresh_expire_at is not None:
        sets.append(
            Expired(
                "expired_refresh_tokens",
                RefreshToken.objects.filter(
                    revoked__isnull=True, access_token__expires__lte=refresh_expire_at
                ),
            )
        )
    sets += [
        Expired(
            "access_tokens",
            # No refresh token points to these, so nothing cascades: plain SQL is exact.
            expired_access_tokens.filter(
                ~Exists(RefreshToken.objects.filter(access_token=OuterRef("pk")))
            ),
            raw=True,
            candidates=expired_access_tokens,
        ),
        Expired(
            "id_tokens",
            expired_id_tokens.filter(~Exists(AccessToken.objects.filter(id_token=OuterRef("pk")))),
            candidates=expired_id_tokens,
        ),
        Expired("grants", get_grant_model().objects.filter(expires__lt=now)),
        Expired("redeemed_codes", RedeemedCode.objects.filter(expires__lt=now)),
        Expired("consent_records", ConsentRecord.objects.filter(expires__lt=now)),
        Expired("revoked_access_token_records", forgotten_revocations(now)),
    ]
    retention = conf.AUDIT_RETENTION_SECONDS
    if retention:
        sets.append(
            Expired(
                "audit_events",
                AuditEvent.objects.filter(created__lt=now - timedelta(seconds=retention)),
            )
        )
    return sets


def clear_expired(
    batch_size: int = DEFAULT_BATCH_SIZE,
    *,
    using: str = "default",
    dry_run: bool = False,
    duty_cycle: float = DEFAULT_DUTY_CYCLE,
    pause: float = 0.0,
    progress: Callable[[str, int], None] | None = None,
) -> Result:
    """Delete every expired row in batches of at most ``batch_size``; see the module docstring.

    After each batch the run rests, so that batches take at most ``duty_cycle``
    of its time (0.5: as long as the batch took; 1: no rest), plus ``pause``
    seconds: the traffic keeps the rest of the database and of the machine.
    ``progress(kind, deleted_so_far)`` is called after each batch.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if not 0 < duty_cycle <= 1:
        raise ValueError("duty_cycle must be more than 0 and at most 1")
    started = time.monotonic()
    result = Result(dry_run=dry_run)
    with exclusive(using) as acquired:
        if not acquired:
            result.locked_out = True
            return result
        now = timezone.now()
        rest = _Rest(1 / duty_cycle - 1, pause)
        for expired in expired_sets(now):
            kind = expired.kind
            if dry_run:
                result.deleted[kind] = expired.queryset.using(using).count()
                continue
            result.deleted[kind] = 0
            for deleted in _batches(expired, batch_size, using, rest):
                result.deleted[kind] += deleted
                if progress:
                    progress(kind, result.deleted[kind])
    result.seconds = time.monotonic() - started
    return result


class _Rest(NamedTuple):
    """How long a run rests after a batch: ``ratio`` times the batch's time, plus ``pause``."""

    ratio: float
    pause: float

    def after(self, batch_seconds: float) -> float:
        return self.ratio * batch_seconds + self.pause


def _batches(expired: Expired, batch_size: int, using: str, rest: _Rest) -> Iterator[int]:
    """Delete the rows of ``expired`` a batch at a time, each its own transaction; yield counts.

    The primary keys are selected first and deleted by key, because a DELETE
    with a LIMIT is not portable. Each batch starts past the last key of the
    one before, in key order: were each to start from the beginning, it would
    walk again over every row a batch before it passed and left (an expired
    access token a refresh token still points to) or deleted (whose index
    entries stay until VACUUM), and a run over millions of rows would slow
    down batch after batch. ``delete()`` keeps Django's cascades and signals;
    ``raw`` sets (see ``Expired``) need neither.
    """
    model = expired.queryset.model
    walked, exact = expired.walked().using(using), expired.queryset.using(using)
    last = None
    while True:
        started = time.monotonic()
        with transaction.atomic(using=using):
            walk = list(next_keys(walked, last, batch_size))
            if not walk:
                return
            last = walk[-1]
            keys = walk
            if expired.candidates is not None:
                keys = list(exact.filter(pk__in=walk).values_list("pk", flat=True))
            if not keys:
                deleted = 0
            elif expired.raw:
                deleted = _delete_by_key(model, keys, using)
            else:
                _, per_model = model._base_manager.using(using).filter(pk__in=keys).delete()
                deleted = per_model.get(model._meta.label, 0)
        seconds = rest.after(time.monotonic() - started)
        yield deleted
        if len(walk) < batch_size:
            return
        if seconds > 0:
            time.sleep(seconds)


def next_keys(queryset: QuerySet, after: Any, batch_size: int) -> QuerySet:
    """The primary keys of the next batch: the first ``batch_size`` past ``after``, in order."""
    if after is not None:
        queryset = queryset.filter(pk__gt=after)
    return queryset.order_by("pk").values_list("pk", flat=True)[:batch_size]


def _delete_by_key(model: type, keys: list[Any], using: str) -> int:
    connection = connections[using]
    quote = connection.ops.quote_name
    placeholders = ", ".join(["%s"] * len(keys))
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {quote(model._meta.db_table)} "
            f"WHERE {quote(model._meta.pk.column)} IN ({placeholders})",
            keys,
        )
        return cursor.rowcount


def lock_path(connection: BaseDatabaseWrapper) -> str:
    """The file whose ``flock`` is the cleanup's lock on a database other than PostgreSQL."""
    digest = hashlib.sha256(str(connection.settings_dict["NAME"]).encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"source_oauth-cleanup-{digest}.lock")


@contextmanager
def exclusive(using: str = "default") -> Iterator[bool]:
    """Hold the cleanup's lock for the block; yield whether this run got it.

    PostgreSQL: a session advisory lock, released when the block ends (or, if
    the process dies, when its connection closes). Elsewhere: an exclusive
    ``flock`` on a file in the temporary directory named after the database,
    released by the kernel when the process ends, however it ends.
    """
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK])
            acquired = cursor.fetchone()[0]
        try:
            yield acquired
        finally:
            if acquired:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK])
        return
    with open(lock_path(connection), "a") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
