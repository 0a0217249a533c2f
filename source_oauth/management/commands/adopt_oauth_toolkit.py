"""``manage.py adopt_oauth_toolkit``: move a site that ran stock DOT onto source_oauth.

Run it once the settings name source_oauth, before the first ``migrate``
that involves it; see docs/adoption.md. The work is ``source_oauth.adoption``'s.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, DatabaseError

from source_oauth.adoption import AdoptionRefused, adopt, make_plan
from source_oauth.adoption.report import describe


class Command(BaseCommand):
    help = (
        "Adopt the applications and tokens of stock django-oauth-toolkit: API clients with "
        "the same IDs and secrets, tokens that keep working. Run before `migrate`."
    )
    # The system checks report the very state this command repairs (source_oauth.E006).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be done; change nothing."
        )
        parser.add_argument(
            "--database", default=DEFAULT_DB_ALIAS, help='Database alias (default: "default").'
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["dry_run"]:
                plan = make_plan(options["database"])
            else:
                plan = adopt(options["database"])
        except AdoptionRefused as refusal:
            raise CommandError(str(refusal)) from None
        except DatabaseError as error:
            raise CommandError(
                f"Adoption failed, and its transaction was rolled back: nothing changed. {error}"
            ) from error
        for line in describe(plan, done=not options["dry_run"]):
            style = self.style.WARNING if line.startswith("Warning:") else str
            self.stdout.write(style(line))
