from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from source_oauth import audit
from source_oauth.checks import cache_is_per_process
from source_oauth.clients import rotate_client_secret
from source_oauth.conf import conf
from source_oauth.models import ApiClient

from ._output import print_credentials


class Command(BaseCommand):
    help = "Give an API client a new secret and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("client_id")
        parser.add_argument("--json", action="store_true", help="Print one JSON object only.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            client = ApiClient.objects.get(client_id=options["client_id"])
        except ApiClient.DoesNotExist:
            raise CommandError(f"No API client with client ID {options['client_id']!r}.") from None
        try:
            with audit.acting_as(audit.command_line(self)):
                credentials = rotate_client_secret(client)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        print_credentials(self, credentials, options["json"])
        if cache_is_per_process():
            # This process cannot reach a running server's memory (source_oauth.W002).
            self.stderr.write(
                self.style.WARNING(
                    "The cache is local to each process (LocMemCache): a server already "
                    "running accepts the new secret once its cached copy of the client "
                    f"expires, within {conf.CLIENT_CACHE_SECONDS} s, or when it restarts. "
                    "With a shared cache (Redis) it accepts it at once."
                )
            )
