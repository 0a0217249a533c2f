"""Prepare the demo CMS: an admin user, an API client and some articles, credentials printed."""

from __future__ import annotations

import json
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from source_oauth.clients import create_api_client
from source_oauth.models import ApiClient

DEMO_CLIENT = "Demo server app"
# A Next.js site that signs users in with Auth.js (README: "Sign in with the CMS from Next.js").
NEXTJS_CLIENT = "Next.js site"
NEXTJS_APP = "http://localhost:3000"


class Command(BaseCommand):
    help = "Create (or reset) the demo admin and the demo API client, load demo content."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="http://127.0.0.1:8000")

    def handle(self, *args: Any, **options: Any) -> None:
        password = secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(
            username="admin", defaults={"email": "admin@example.com", "first_name": "Ada"}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()

        ApiClient.objects.filter(name=DEMO_CLIENT).delete()
        _client, credentials = create_api_client(
            DEMO_CLIENT,
            grant_types=[ApiClient.GrantType.CLIENT_CREDENTIALS],
            scopes=["content:read", "content:write"],
            image_styles=["thumbnail", "medium"],
        )
        ApiClient.objects.filter(name=NEXTJS_CLIENT).delete()
        nextjs, nextjs_credentials = create_api_client(
            NEXTJS_CLIENT,
            grant_types=[ApiClient.GrantType.AUTHORIZATION_CODE, ApiClient.GrantType.REFRESH_TOKEN],
            scopes=["openid", "profile", "email", "content:read"],
            redirect_uris=[f"{NEXTJS_APP}/api/auth/callback/cms"],
        )
        nextjs.post_logout_redirect_uris = NEXTJS_APP
        nextjs.save(update_fields=["post_logout_redirect_uris"])
        call_command("load_demo_content", stdout=self.stdout)

        host = options["host"]
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"Admin:          {host}/admin/  user admin  password {password}",
                    f"Demo client:    {json.dumps(credentials.as_dict())}",
                    "Get a token:",
                    f"  curl -s -u '{credentials.client_id}:{credentials.client_secret}' "
                    f"-d grant_type=client_credentials -d 'scope=content:read' {host}/oauth/token",
                    "Call the API with it:",
                    f"  curl -s -H 'Authorization: Bearer ACCESS_TOKEN' {host}/api/articles/",
                    f"Sign in from a Next.js site on {NEXTJS_APP} (Auth.js), in its .env.local:",
                    f"  AUTH_CMS_ISSUER={host}",
                    f"  AUTH_CMS_ID={nextjs_credentials.client_id}",
                    f"  AUTH_CMS_SECRET={nextjs_credentials.client_secret}",
                    "",
                ]
            )
        )
