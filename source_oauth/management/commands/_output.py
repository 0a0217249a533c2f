"""How the client commands print credentials: a one-time secret, shown plainly once."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from source_oauth.clients import Credentials


def print_credentials(command: BaseCommand, credentials: Credentials, as_json: bool) -> None:
    if as_json:
        command.stdout.write(json.dumps(credentials.as_dict()))
        return
    command.stdout.write(f"client_id:     {credentials.client_id}")
    if credentials.client_secret is None:
        command.stdout.write("client_secret: (none: public client)")
    else:
        command.stdout.write(f"client_secret: {credentials.client_secret}")
        command.stderr.write(
            command.style.WARNING("Copy the secret now: it is stored hashed and never shown again.")
        )
