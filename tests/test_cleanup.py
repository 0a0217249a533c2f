"""``clear_expired_oauth`` (issue #16): what goes, what stays, in batches, one run at a time.

Run on SQLite and on PostgreSQL (``DATABASE_URL``); the tests of two runs at
once hold the lock from a second connection, as a second host would.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from source_oauth import cleanup
from source_oauth.models import (
    ApiClient,
    AuditEvent,
    ConsentRecord,
    RedeemedCode,
    RevokedAccessToken,
)

from .oauth_helpers import new_client

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
Grant = get_grant_model()
IDToken = get_id_token_model()

DAY = timedelta(days=1)
REFRESH_LIFE = timedelta(days=30)  # the example project's REFRESH_TOKEN_EXPIRE_SECONDS


def _token(client: ApiClient, user, name: str, expires, **extra) -> AccessToken:
    return AccessToken.objects.create(
        token=f"at-{name}", application=client, user=user, expires=expires, scope="read", **extra
    )


def _refresh(client: ApiClient, user, name: str, access_token=None, revoked=None) -> RefreshToken:
    return RefreshToken.objects.create(
        token=f"rt-{name}",
        application=client,
        user=user,
        access_token=access_token,
        revoked=revoked,
    )


@pytest.fixture
def world(db, user, django_user_model):
    """Every kind of row, one expired and one still needed of each; returns what must stay."""
    now = timezone.now()
    client, _ = new_client("Cleanup", redirect_uris=["https://app.example.com/cb"])
    keep: dict[str, set[int]] = {}

    live = _token(client, user, "live", now + DAY)
    expired = _token(client, user, "expired", now - DAY)
    # An expired access token its refresh token still needs (the refresh is young).
    refreshable = _token(client, user, "refreshable", now - DAY)
    # Long expired, and its refresh token idle past the refresh life: both go.
    dormant = _token(client, user, "dormant", now - REFRESH_LIFE - DAY)
    keep["access_tokens"] = {live.pk, refreshable.pk}
    gone_access = {expired.pk, dormant.pk}

    young = _refresh(client, user, "young", refreshable)
    idle = _refresh(client, user, "idle", dormant)
    orphan = _refresh(client, user, "orphan")
    # Revoked refresh tokens detect their replay (REFRESH_TOKEN_REUSE_PROTECTION) until
    # they would have expired.
    revoked_recently = _refresh(client, user, "revoked-recently", revoked=now - DAY)
    revoked_long_ago = _refresh(client, user, "revoked-long-ago", revoked=now - REFRESH_LIFE - DAY)
    keep["refresh_tokens"] = {young.pk, revoked_recently.pk}
    gone_refresh = {idle.pk, orphan.pk, revoked_long_ago.pk}

    old_id = IDToken.objects.create(application=client, user=user, expires=now - DAY)
    used_id = IDToken.objects.create(application=client, user=user, expires=now - DAY)
    live.id_token = used_id
    live.save(update_fields=["id_token"])
    keep["id_tokens"] = {used_id.pk}

    grant_args = {"application": client, "user": user, "redirect_uri": "https://app.example.com/cb"}
    Grant.objects.create(code="old", expires=now - DAY, **grant_args)
    keep["grants"] = {Grant.objects.create(code="new", expires=now + DAY, **grant_args).pk}

    code_args = {"application": client, "access_token_checksum": "a" * 64}
    RedeemedCode.objects.create(code_checksum="1" * 64, expires=now - DAY, **code_args)
    keep["redeemed_codes"] = {
        RedeemedCode.objects.create(code_checksum="2" * 64, expires=now + DAY, **code_args).pk
    }

    other_user = django_user_model.objects.create_user("other-user")
    ConsentRecord.objects.create(client=client, user=user, scope="read", expires=now - DAY)
    keep["consent_records"] = {
        ConsentRecord.objects.create(
            client=client, user=other_user, scope="read", expires=now + DAY
        ).pk
    }

    revoked_args = {"application": client, "scope": "read", "created": now, "expires": now}
    RevokedAccessToken.objects.create(
        token_checksum="x" * 64, revoked=now - REFRESH_LIFE - DAY, **revoked_args
    )
    keep["revoked_access_token_records"] = {
        RevokedAccessToken.objects.create(
            token_checksum="y" * 64, revoked=now - DAY, **revoked_args
        ).pk
    }

    old_event = AuditEvent.objects.create(action="client_changed", actor="test")
    AuditEvent.objects.filter(pk=old_event.pk).update(created=now - timedelta(days=400))
    recent = AuditEvent.objects.create(action="client_changed", actor="test")
    keep["audit_events"] = set(
        AuditEvent.objects.exclude(pk=old_event.pk).values_list("pk", flat=True)
    )
    assert recent.pk in keep["audit_events"]

    return {
        "keep": keep,
        "gone_access": gone_access,
        "gone_refresh": gone_refresh,
        "old_id": old_id.pk,
    }


def _remaining() -> dict[str, set[int]]:
    def pks(model):
        return set(model.objects.values_list("pk", flat=True))

    return {
        "access_tokens": pks(AccessToken),
        "refresh_tokens": pks(RefreshToken),
        "id_tokens": pks(IDToken),
        "grants": pks(Grant),
        "redeemed_codes": pks(RedeemedCode),
        "consent_records": pks(ConsentRecord),
        "revoked_access_token_records": pks(RevokedAccessToken),
        "audit_events": pks(AuditEvent),
    }


def _run(*args: str) -> dict:
    out = StringIO()
    call_command("clear_expired_oauth", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def test_expired_rows_go_and_needed_ones_stay(world):
    result = _run()

    assert _remaining() == world["keep"]
    assert result["deleted"] == {
        "revoked_refresh_tokens": 1,
        "orphaned_refresh_tokens": 1,
        "expired_refresh_tokens": 1,
        "access_tokens": 2,
        "id_tokens": 1,
        "grants": 1,
        "redeemed_codes": 1,
        "consent_records": 1,
        "revoked_access_token_records": 1,
        "audit_events": 1,
    }
    # Expired access tokens are not revocations: _remaining() found no new "revoked" record.
    assert result["total"] == 11 and not result["locked_out"]


def test_a_second_run_finds_nothing(world):
    _run()
    assert _run()["total"] == 0


def test_dry_run_counts_and_deletes_nothing(world):
    before = _remaining()
    result = _run("--dry-run")
    # An access token a refresh token still points to counts only once that refresh token is
    # gone, which a dry run does not do: it counts 10 of the 11.
    assert result["dry_run"] and result["total"] == 10
    assert result["deleted"]["access_tokens"] == 1
    assert _remaining() == before


def test_human_output_names_each_kind(world):
    out = StringIO()
    call_command("clear_expired_oauth", stdout=out)
    text = out.getvalue()
    assert "Deleted         2 access tokens" in text
    assert "11 rows in" in text


@pytest.mark.django_db
def test_batches_are_bounded_and_each_its_own_transaction(user):
    client, _ = new_client("Many")
    past = timezone.now() - DAY
    AccessToken.objects.bulk_create(
        AccessToken(token=f"t{i}", application=client, user=user, expires=past, scope="read")
        for i in range(10)
    )
    seen: list[tuple[str, int]] = []
    with CaptureQueriesContext(connection) as queries:
        result = cleanup.clear_expired(3, progress=lambda kind, n: seen.append((kind, n)))
    deletes = [
        q["sql"]
        for q in queries
        if q["sql"].startswith('DELETE FROM "oauth2_provider_accesstoken"')
    ]
    assert len(deletes) == 4  # 3 + 3 + 3 + 1
    assert [n for kind, n in seen if kind == "access_tokens"] == [3, 6, 9, 10]
    assert result.deleted["access_tokens"] == 10
    assert not AccessToken.objects.exists()


@pytest.mark.django_db
def test_batches_walk_past_the_rows_they_must_keep(user):
    """Expired access tokens a live refresh token points to stay, and no batch stops at them."""
    client, _ = new_client("Keeps")
    past = timezone.now() - DAY
    tokens = AccessToken.objects.bulk_create(
        AccessToken(token=f"k{i}", application=client, user=user, expires=past, scope="read")
        for i in range(10)
    )
    kept = tokens[:3] + [tokens[7]]  # the whole first batch, and one later
    for token in kept:
        RefreshToken.objects.create(
            token=f"r{token.pk}", application=client, user=user, access_token=token
        )
    seen: list[int] = []
    result = cleanup.clear_expired(
        3, progress=lambda kind, n: seen.append(n) if kind == "access_tokens" else None
    )
    assert result.deleted["access_tokens"] == 6
    assert seen == [0, 3, 5, 6]  # 3 kept; 3 deleted; 2 deleted, 1 kept; the last one
    assert set(AccessToken.objects.values_list("pk", flat=True)) == {t.pk for t in kept}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("options", "rests"),
    [
        ({}, [0.5, 0.5]),  # the default: as long as each batch took
        ({"duty_cycle": 0.25, "pause": 0.1}, [1.6, 1.6]),  # three times as long, plus 0.1 s
        ({"duty_cycle": 1}, []),  # no rest
    ],
)
def test_a_run_rests_between_batches_as_its_duty_cycle_says(user, monkeypatch, options, rests):
    """The traffic keeps the rest of the time: after each batch but the last, a rest."""
    client, _ = new_client("Rests")
    past = timezone.now() - DAY
    AccessToken.objects.bulk_create(
        AccessToken(token=f"d{i}", application=client, user=user, expires=past, scope="read")
        for i in range(7)
    )
    slept: list[float] = []
    ticks = iter(range(1000))
    monkeypatch.setattr(cleanup.time, "sleep", slept.append)
    # A clock where every batch takes half a second: each reading is 0.5 s after the one before.
    monkeypatch.setattr(cleanup.time, "monotonic", lambda: next(ticks) / 2)
    result = cleanup.clear_expired(3, **options)
    assert result.deleted["access_tokens"] == 7  # batches of 3, 3 and 1
    assert slept == pytest.approx(rests)


def test_audit_retention_is_a_setting(world, settings):
    settings.SOURCE_OAUTH = {
        **getattr(settings, "SOURCE_OAUTH", {}),
        "AUDIT_RETENTION_SECONDS": None,
    }
    assert "audit_events" not in _run()["deleted"]
    assert AuditEvent.objects.count() == len(world["keep"]["audit_events"]) + 1

    settings.SOURCE_OAUTH = {**settings.SOURCE_OAUTH, "AUDIT_RETENTION_SECONDS": 3600}
    two_hours_old, *younger = sorted(world["keep"]["audit_events"])
    AuditEvent.objects.filter(pk=two_hours_old).update(
        created=timezone.now() - 2 * timedelta(hours=1)
    )
    assert _run()["deleted"]["audit_events"] == 2  # 400 days and 2 hours old
    assert set(AuditEvent.objects.values_list("pk", flat=True)) == set(younger)


def test_bad_batch_size_is_a_command_error(db):
    from django.core.management.base import CommandError

    for size in ("0", "10001"):
        with pytest.raises(CommandError, match="at least 1 and at most 10000"):
            call_command("clear_expired_oauth", "--batch-size", size)
    for share in ("0", "-0.5", "1.5"):
        with pytest.raises(CommandError, match="more than 0 and at most 1"):
            call_command("clear_expired_oauth", "--duty-cycle", share)


# Two runs at once: the second finds the lock held and does nothing.


def _hold_lock_elsewhere():
    """Take the cleanup's lock as another host's run would: another connection or file."""
    if connection.vendor == "postgresql":
        other = connections.create_connection("default")
        other.settings_dict = {**connection.settings_dict}
        cursor = other.cursor()
        cursor.execute("SELECT pg_advisory_lock(%s)", [cleanup.ADVISORY_LOCK])

        def release():
            cursor.execute("SELECT pg_advisory_unlock(%s)", [cleanup.ADVISORY_LOCK])
            other.close()

        return release
    handle = open(cleanup.lock_path(connection), "a")  # noqa: SIM115 (held until release)
    fcntl.flock(handle, fcntl.LOCK_EX)

    def release():
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()

    return release


def test_a_run_while_another_holds_the_lock_does_nothing(world):
    before = _remaining()
    release = _hold_lock_elsewhere()
    try:
        result = _run()
        out = StringIO()
        call_command("clear_expired_oauth", stdout=out)
    finally:
        release()
    assert result["locked_out"] and result["total"] == 0
    assert "Another clear_expired_oauth is running" in out.getvalue()
    assert _remaining() == before
    assert _run()["total"] == 11  # once the other run is over


@pytest.mark.postgres
@pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").split(":")[0] not in ("postgres", "postgresql"),
    reason="two runs at once need two connections to one database: PostgreSQL",
)
def test_two_runs_at_once_delete_each_row_once(transactional_db, user):
    from django.apps import apps

    from source_oauth.catalog import ensure_catalog

    ensure_catalog(apps)  # a transactional test starts from empty tables
    client, _ = new_client("Race")
    past = timezone.now() - DAY
    AccessToken.objects.bulk_create(
        AccessToken(token=f"r{i}", application=client, user=user, expires=past, scope="read")
        for i in range(500)
    )
    barrier = threading.Barrier(2)
    results: list[cleanup.Result] = []
    errors: list[BaseException] = []

    def run():
        try:
            barrier.wait()
            results.append(cleanup.clear_expired(50, pause=0.005))
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sum(r.deleted.get("access_tokens", 0) for r in results) == 500
    assert not AccessToken.objects.exists()
    # Either the runs overlapped and one was locked out, or one finished before the other began.
    locked_out = [r for r in results if r.locked_out]
    assert len(locked_out) == 1 or sorted(r.total for r in results)[0] == 0


# Each batch finds its rows through an index, not by reading the whole table.


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return "\n".join(str(row) for row in cursor.fetchall())


@pytest.mark.django_db(transaction=False)
def test_each_batch_query_uses_an_index(world):
    big_tables = {
        "revoked_refresh_tokens": RefreshToken._meta.db_table,
        "expired_refresh_tokens": AccessToken._meta.db_table,
        "access_tokens": AccessToken._meta.db_table,
        "id_tokens": IDToken._meta.db_table,
        "grants": Grant._meta.db_table,
        "redeemed_codes": RedeemedCode._meta.db_table,
        "consent_records": ConsentRecord._meta.db_table,
        "revoked_access_token_records": RevokedAccessToken._meta.db_table,
        "audit_events": AuditEvent._meta.db_table,
    }
    for expired in cleanup.expired_sets(timezone.now()):
        if expired.kind not in big_tables:
            continue
        kind, table = expired.kind, big_tables[expired.kind]
        # A batch after the first, as _batches asks for it; and the exact set of its keys.
        plan = _plan(cleanup.next_keys(expired.walked(), 0, 1000))
        if expired.candidates is not None:
            plan += _plan(expired.queryset.filter(pk__in=[1, 2, 3]).values_list("pk"))
        if connection.vendor == "postgresql":
            assert f"Seq Scan on {table}" not in plan, (kind, plan)
        else:
            assert f"SCAN {table}" not in plan.replace("SCAN TABLE", "SCAN"), (kind, plan)
