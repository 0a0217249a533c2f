"""Give the stock DOT site a user and an application of every kind; print their credentials."""

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from oauth2_provider.models import Application

# name: client type, grant type, skip authorization, redirect URIs, hash the secret
APPLICATIONS = {
    "Web app": ("confidential", "authorization-code", True, "https://web.example.com/cb", True),
    "Partner portal": (
        "confidential",
        "authorization-code",
        False,
        "https://partner.example.org/cb",
        True,
    ),
    "Mobile app": ("public", "authorization-code", True, "com.example.app:/callback", True),
    "Backend service": ("confidential", "client-credentials", True, "", True),
    "Legacy integration": ("confidential", "client-credentials", True, "", False),
    "Old password app": ("confidential", "password", True, "", True),
    "Implicit SPA": ("public", "implicit", False, "https://spa.example.com/cb", True),
}


class Command(BaseCommand):
    def handle(self, *args, **options):
        user = get_user_model().objects.create_user("alice", "alice@example.com", "wonderland")
        get_user_model().objects.create_superuser("root", "root@example.com", "root-password")
        credentials = {}
        for name, (client_type, grant, skip, uris, hashed) in APPLICATIONS.items():
            secret = f"{name.lower().replace(' ', '-')}-secret-0123456789abcdef"
            application = Application.objects.create(
                name=name,
                user=user,
                client_type=client_type,
                authorization_grant_type=grant,
                skip_authorization=skip,
                redirect_uris=uris,
                client_secret=secret,
                hash_client_secret=hashed,
                allowed_origins="https://web.example.com" if name == "Web app" else "",
            )
            credentials[name] = {
                "pk": application.pk,
                "client_id": application.client_id,
                "client_secret": secret,
                "stored_secret": Application.objects.get(pk=application.pk).client_secret,
            }
        self.stdout.write(json.dumps(credentials))
