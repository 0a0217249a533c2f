"""What exists after ``migrate``: the product's scopes, image styles and default client.

Used by the data migrations (with the historical ``apps``) and by anything
that must restore them, such as tests that flush the database.
"""

from __future__ import annotations

from typing import Any

SCOPES = {
    "content:read": "Read the site's content",
    "content:write": "Create, change and delete the site's content",
    "user:profile": "See your user profile (name and email address)",
}

# OpenID Connect's scopes (Core §3.1.2.1, §5.4): what a client that signs users in asks for.
OIDC_SCOPES = {
    "openid": "Sign you in with your account on this site",
    "profile": "See your name and username",
    "email": "See your email address",
}

IMAGE_STYLES = [
    # name, label, width, height, operation
    ("thumbnail", "Thumbnail (100×100, cropped)", 100, 100, "scale_and_crop"),
    ("medium", "Medium (640 wide)", 640, None, "scale"),
    ("large", "Large (1280 wide)", 1280, None, "scale"),
]

DEFAULT_CLIENT_NAME = "Default API client"
DEFAULT_CLIENT_SCOPES = ["content:read"]


def ensure_scopes(apps: Any, using: str = "default", scopes: dict[str, str] = SCOPES) -> None:
    Scope = apps.get_model("source_oauth", "Scope")
    for name, description in scopes.items():
        Scope.objects.using(using).get_or_create(name=name, defaults={"description": description})


def ensure_oidc_scopes(apps: Any, using: str = "default") -> None:
    ensure_scopes(apps, using, OIDC_SCOPES)


def ensure_default_client(apps: Any, using: str = "default") -> None:
    """Create the default client if missing. It has no secret until an admin generates one."""
    Scope = apps.get_model("source_oauth", "Scope")
    ApiClient = apps.get_model("source_oauth", "ApiClient")
    if ApiClient.objects.using(using).filter(is_default=True).exists():
        return
    client = ApiClient.objects.using(using).create(
        name=DEFAULT_CLIENT_NAME,
        confidential=True,
        third_party=False,
        grant_types="client_credentials",
        is_default=True,
    )
    client.allowed_scopes.set(Scope.objects.using(using).filter(name__in=DEFAULT_CLIENT_SCOPES))


def ensure_image_styles(apps: Any, using: str = "default") -> None:
    ImageStyle = apps.get_model("source_oauth", "ImageStyle")
    ApiClient = apps.get_model("source_oauth", "ApiClient")
    styles = [
        ImageStyle.objects.using(using).get_or_create(
            name=name,
            defaults={"label": label, "width": width, "height": height, "operation": operation},
        )[0]
        for name, label, width, height, operation in IMAGE_STYLES
    ]
    for client in ApiClient.objects.using(using).filter(is_default=True):
        client.image_styles.add(*styles)


def ensure_catalog(apps: Any, using: str = "default") -> None:
    ensure_scopes(apps, using)
    ensure_oidc_scopes(apps, using)
    ensure_default_client(apps, using)
    ensure_image_styles(apps, using)
