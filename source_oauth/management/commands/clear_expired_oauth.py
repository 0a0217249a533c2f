from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS

from source_oauth.cleanup import DEFAULT_BATCH_SIZE, DEFAULT_DUTY_CYCLE, clear_expired

# A batch's keys are one statement's parameters; SQLite allows 32,766 of them.
MAX_BATCH_SIZE = 10_000


class Command(BaseCommand):
    help = (
        "Delete expired access, refresh and ID tokens, grants, used-code records, remembered "
        "consents, records of revoked tokens and old audit events, in small batches. Safe to "
        "run from cron on several hosts at once: a run that finds another one running does "
        "nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"Rows deleted per transaction (default {DEFAULT_BATCH_SIZE}).",
        )
        parser.add_argument(
            "--duty-cycle",
            type=float,
            default=DEFAULT_DUTY_CYCLE,
            help=(
                "The share of its time the run spends deleting: after each batch it rests "
                f"for the rest (default {DEFAULT_DUTY_CYCLE}: as long as the batch took; "
                "1: no rest)."
            ),
        )
        parser.add_argument(
            "--pause",
            type=float,
            default=0.0,
            help="Seconds to sleep between batches, besides that rest (default 0).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help=(
                "Count what has expired; delete nothing. Access tokens kept only by a refresh "
                "token that this run would delete are not counted."
            ),
        )
        parser.add_argument(
            "--database",
            default=DEFAULT_DB_ALIAS,
            help=f'The database (DATABASES alias) to clean (default "{DEFAULT_DB_ALIAS}").',
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object only.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not 1 <= options["batch_size"] <= MAX_BATCH_SIZE:
            raise CommandError(f"--batch-size must be at least 1 and at most {MAX_BATCH_SIZE}.")
        if options["pause"] < 0:
            raise CommandError("--pause cannot be negative.")
        if not 0 < options["duty_cycle"] <= 1:
            raise CommandError("--duty-cycle must be more than 0 and at most 1.")
        result = clear_expired(
            options["batch_size"],
            using=options["database"],
            dry_run=options["dry_run"],
            duty_cycle=options["duty_cycle"],
            pause=options["pause"],
        )
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict()))
            return
        if result.locked_out:
            self.stdout.write(
                "Another clear_expired_oauth is running on this database: nothing done."
            )
            return
        verb = "Would delete" if result.dry_run else "Deleted"
        for kind, count in result.deleted.items():
            label = "ID tokens" if kind == "id_tokens" else kind.replace("_", " ")
            self.stdout.write(f"{verb} {count:>9,} {label}")
        self.stdout.write(f"{result.total:,} rows in {result.seconds:.1f} s.")
