"""Remembered approvals: whether one covers a request, remembering one, forgetting them.

An approval is remembered only for a third-party client with "Remember
approval" on (first-party clients never ask). It covers a request for the
same or fewer scopes until it expires (``REMEMBERED_CONSENT_SECONDS`` after
the user last approved); approving more scopes adds them to the record.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..conf import conf
from .models import ConsentRecord


def remembers(client: Any) -> bool:
    """Whether approvals of ``client`` are remembered at all."""
    return bool(client.third_party and client.remember_approval)


def covering(user: Any, client: Any, scopes: Collection[str]) -> ConsentRecord | None:
    """The live record in which ``user`` approved at least ``scopes`` for ``client``, if any."""
    if not remembers(client) or not getattr(user, "is_authenticated", False):
        return None
    record = ConsentRecord.objects.filter(
        user=user, client=client, expires__gt=timezone.now()
    ).first()
    if record is not None and set(scopes) <= set(record.scopes):
        return record
    return None


def remember(user: Any, client: Any, scopes: Collection[str]) -> ConsentRecord | None:
    """Record that ``user`` approved ``scopes`` for ``client`` just now (when remembered)."""
    if not remembers(client):
        return None
    now = timezone.now()
    expires = now + timedelta(seconds=conf.REMEMBERED_CONSENT_SECONDS)
    with transaction.atomic():
        record, created = ConsentRecord.objects.select_for_update().get_or_create(
            user=user,
            client=client,
            defaults={"scope": _joined(scopes), "approved": now, "expires": expires},
        )
        if not created:
            kept = record.scopes if record.expires > now else []
            record.scope = _joined([*kept, *scopes])
            record.approved, record.expires = now, expires
            record.save(update_fields=["scope", "approved", "expires"])
    return record


def forget(user: Any, client: Any) -> int:
    """Forget every approval ``user`` gave ``client``; return how many records went."""
    deleted, _ = ConsentRecord.objects.filter(user=user, client=client).delete()
    return deleted


def _joined(scopes: Collection[str]) -> str:
    return " ".join(sorted(set(scopes)))
