from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from source_oauth import audit
from source_oauth.clients import create_api_client
from source_oauth.models import ApiClient, ImageStyle, Scope

from ._output import print_credentials


class Command(BaseCommand):
    help = "Create an API client and print its client ID and (once) its generated secret."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "--grant-type",
            action="append",
            dest="grant_types",
            choices=ApiClient.GrantType.values,
            help="Enable a grant type (repeatable). Default: client_credentials.",
        )
        parser.add_argument("--scope", action="append", dest="scopes", default=[], metavar="S")
        parser.add_argument("--public", action="store_true", help="A public client: no secret.")
        parser.add_argument("--third-party", action="store_true", help="Users must consent.")
        parser.add_argument(
            "--no-pkce",
            action="store_true",
            help="A confidential client may use the authorization code flow without PKCE.",
        )
        parser.add_argument(
            "--redirect-uri", action="append", dest="redirect_uris", default=[], metavar="URI"
        )
        parser.add_argument(
            "--image-style", action="append", dest="image_styles", default=[], metavar="STYLE"
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object only.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with audit.acting_as(audit.command_line(self)):
                _client, credentials = create_api_client(
                    options["name"],
                    grant_types=options["grant_types"] or [ApiClient.GrantType.CLIENT_CREDENTIALS],
                    scopes=options["scopes"],
                    confidential=not options["public"],
                    third_party=options["third_party"],
                    require_pkce=not options["no_pkce"],
                    redirect_uris=options["redirect_uris"],
                    image_styles=options["image_styles"],
                )
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
            ) from None
        except (Scope.DoesNotExist, ImageStyle.DoesNotExist) as exc:
            raise CommandError(str(exc)) from None
        print_credentials(self, credentials, options["json"])
