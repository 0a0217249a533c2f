"""Prepare the demo CMS: users, API clients and some articles, credentials printed.

An admin, a person to sign in as ("demo"), a server app (client credentials)
and a third-party web app whose sign-in and consent flow can be tried by hand
in a browser; its redirect URI is the example project's ``/demo/callback``;
and a Next.js site that signs users in with OpenID Connect (Auth.js).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from source_oauth import audit
from source_oauth.clients import create_api_client
from source_oauth.models import ApiClient

DEMO_CLIENT = "Demo server app"
DEMO_WEB_APP = "Demo web app"
# A Next.js site that signs users in with Auth.js (README: "Sign in with the CMS from Next.js").
NEXTJS_CLIENT = "Next.js site"
NEXTJS_APP = "http://localhost:3000"


class Command(BaseCommand):
    help = "Create (or reset) the demo users and API clients, load demo content."

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

        demo_password = secrets.token_urlsafe(12)
        person, _ = get_user_model().objects.get_or_create(
            username="demo", defaults={"email": "demo@example.com", "first_name": "Dee"}
        )
        person.set_password(demo_password)
        person.save()

        host = options["host"]
        with audit.acting_as(audit.command_line(self)):
            ApiClient.objects.filter(name__in=[DEMO_CLIENT, DEMO_WEB_APP, NEXTJS_CLIENT]).delete()
            _client, credentials = create_api_client(
                DEMO_CLIENT,
                grant_types=[ApiClient.GrantType.CLIENT_CREDENTIALS],
                scopes=["content:read", "content:write"],
                image_styles=["thumbnail", "medium"],
            )
            web_app, web_credentials = create_api_client(
                DEMO_WEB_APP,
                grant_types=[ApiClient.GrantType.AUTHORIZATION_CODE],
                scopes=["content:read", "user:profile"],
                third_party=True,
                redirect_uris=[f"{host}/demo/callback"],
            )
            nextjs, nextjs_credentials = create_api_client(
                NEXTJS_CLIENT,
                grant_types=[
                    ApiClient.GrantType.AUTHORIZATION_CODE,
                    ApiClient.GrantType.REFRESH_TOKEN,
                ],
                scopes=["openid", "profile", "email", "content:read"],
                redirect_uris=[f"{NEXTJS_APP}/api/auth/callback/cms"],
            )
            nextjs.post_logout_redirect_uris = NEXTJS_APP
            nextjs.save(update_fields=["post_logout_redirect_uris"])
        call_command("load_demo_content", stdout=self.stdout)

        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        authorize = f"{host}/oauth/authorize?" + urlencode(
            {
                "response_type": "code",
                "client_id": web_app.client_id,
                "redirect_uri": f"{host}/demo/callback",
                "scope": "content:read user:profile",
                "state": "demo",
                "code_challenge": challenge.rstrip(b"=").decode(),
                "code_challenge_method": "S256",
            }
        )
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
                    f"Sign in and consent, in a browser, as user demo password {demo_password}:",
                    f"  {authorize}",
                    "Redeem the code shown on the demo callback page (within 60 s):",
                    f"  curl -s -u '{web_credentials.client_id}:{web_credentials.client_secret}' "
                    f"-d grant_type=authorization_code -d code=CODE "
                    f"-d redirect_uri={host}/demo/callback -d code_verifier={verifier} "
                    f"{host}/oauth/token",
                    "",
                ]
            )
        )
