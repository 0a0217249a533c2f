"""The "API" section of the Django admin: API clients, scopes, image styles."""

from django.contrib import admin
from oauth2_provider.admin import ApplicationAdmin

from .models import ImageStyle, Scope


class ApiClientAdmin(ApplicationAdmin):
    """Registered by DOT through ``OAUTH2_PROVIDER["APPLICATION_ADMIN_CLASS"]``."""

    list_display = ["name", "client_id", "grant_types", "confidential", "third_party", "is_default"]
    list_filter = ["confidential", "third_party"]
    radio_fields: dict = {}
    search_fields = ["name", "client_id"]
    fields = [
        "name",
        "grant_types",
        "confidential",
        "third_party",
        "allowed_scopes",
        "redirect_uris",
        "image_styles",
    ]
    filter_horizontal: list = []
    raw_id_fields: list = []


@admin.register(Scope)
class ScopeAdmin(admin.ModelAdmin):
    list_display = ["name", "description"]
    search_fields = ["name", "description"]


@admin.register(ImageStyle)
class ImageStyleAdmin(admin.ModelAdmin):
    list_display = ["name", "label", "width", "height", "operation", "format"]
