"""Where a database stands between stock DOT and source_oauth, from its migration records."""

from __future__ import annotations

from typing import Any

from django.db.migrations.recorder import MigrationRecorder

DOT_INITIAL = ("oauth2_provider", "0001_initial")
SOURCE_INITIAL = ("source_oauth", "0001_initial")


def applied_migrations(connection: Any) -> set[tuple[str, str]]:
    """The (app, migration) pairs recorded as applied; empty before the first ``migrate``."""
    recorder = MigrationRecorder(connection)
    if not recorder.has_table():
        return set()
    return set(recorder.applied_migrations())


def awaiting_adoption(applied: set[tuple[str, str]]) -> bool:
    """DOT's tables are migrated but source_oauth's are not: ``migrate`` would fail."""
    return DOT_INITIAL in applied and SOURCE_INITIAL not in applied
