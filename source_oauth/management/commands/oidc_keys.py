"""``manage.py oidc_keys list|generate|rotate|prune``: the keys that sign ID tokens.

    oidc_keys generate [--algorithm RS256|ES256]   # the first key; does nothing if one is active
    oidc_keys rotate [--algorithm RS256|ES256]     # a new active key; the old one stays published
    oidc_keys list [--json]
    oidc_keys prune                                # forget retired keys no token needs any more

The logic is ``source_oauth.oidc.keys``'; private keys are never printed.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from source_oauth.oidc import keys
from source_oauth.oidc.models import SigningAlgorithm, SigningKey

SETTINGS_KEY = (
    'The RS256 key comes from OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"]: rotate it there (the '
    'old key goes to ["OIDC_RSA_PRIVATE_KEYS_INACTIVE"] until the ID tokens it signed expire), '
    "or remove the setting to keep the keys in the database."
)


class Command(BaseCommand):
    help = "List, generate, rotate or prune the keys that sign OpenID Connect ID tokens."
    # Runs when the checks would complain about a missing key (W008): it is the remedy.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        for name, text in [
            ("generate", "Create the active key if there is none (it never replaces one)."),
            (
                "rotate",
                "Make a new key the active one; the old one stays published until the "
                "ID tokens it signed have expired.",
            ),
        ]:
            action = actions.add_parser(name, help=text, description=text)
            action.add_argument(
                "--algorithm",
                choices=SigningAlgorithm.values,
                default=keys.RS256,
                help="RS256 (default) or ES256.",
            )
            action.add_argument("--json", action="store_true", help="Print one JSON object.")
        listing = actions.add_parser("list", help="Show every key, newest first.")
        listing.add_argument("--json", action="store_true", help="Print one JSON array.")
        actions.add_parser("prune", help="Delete retired keys that no unexpired ID token needs.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self._handle(options)
        except DatabaseError as error:
            raise CommandError(f"{error}. Has `manage.py migrate` run?") from None

    def _handle(self, options: dict[str, Any]) -> None:
        action = options["action"]
        if action == "list":
            self._list(options["json"])
        elif action == "prune":
            self.stdout.write(f"Deleted {keys.prune()} retired key(s).")
        elif action == "generate":
            self._generate(options["algorithm"], options["json"])
        else:
            self._rotate(options["algorithm"], options["json"])

    def _generate(self, algorithm: str, as_json: bool) -> None:
        try:
            key = keys.generate(algorithm)
        except keys.SettingsKeyInUse:
            self._report(as_json, created=None, message=SETTINGS_KEY, algorithm=algorithm)
            return
        except keys.KeyExists as exists:
            self._report(
                as_json,
                created=None,
                message=f"An active {algorithm} key exists ({exists}); nothing was generated. "
                "`oidc_keys rotate` replaces it.",
                algorithm=algorithm,
            )
            return
        self._report(
            as_json, created=key, message=f"Generated the {algorithm} key {key.kid}.", retired=[]
        )

    def _rotate(self, algorithm: str, as_json: bool) -> None:
        try:
            key, retired = keys.rotate(algorithm)
        except keys.SettingsKeyInUse:
            raise CommandError(SETTINGS_KEY) from None
        message = f"The {algorithm} key {key.kid} now signs ID tokens."
        for old in retired:
            message += (
                f"\nThe key {old.kid} no longer signs; it stays published until "
                f"{old.published_until:%Y-%m-%d %H:%M %Z}."
            )
        self._report(as_json, created=key, message=message, retired=retired)

    def _report(
        self,
        as_json: bool,
        *,
        created: SigningKey | None,
        message: str,
        retired: list[SigningKey] | None = None,
        algorithm: str | None = None,
    ) -> None:
        if as_json:
            self.stdout.write(
                json.dumps(
                    {
                        "kid": created.kid if created else None,
                        "algorithm": created.algorithm if created else algorithm,
                        "created": created is not None,
                        "retired": [old.kid for old in retired or []],
                    }
                )
            )
        else:
            self.stdout.write(message)

    def _list(self, as_json: bool) -> None:
        rows = keys.describe()
        if as_json:
            self.stdout.write(json.dumps(rows, default=str))
            return
        if not rows:
            self.stdout.write("No signing keys. `oidc_keys generate` creates one.")
            return
        for row in rows:
            until = row["published_until"]
            when = f", published until {until:%Y-%m-%d %H:%M %Z}" if until else ""
            self.stdout.write(
                f"{row['kid']}  {row['algorithm']}  {row['state']} ({row['source']}{when})"
            )
