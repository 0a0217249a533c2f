from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from source_oauth import audit
from source_oauth.clients import rotate_client_secret
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
