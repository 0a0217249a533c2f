"""Scopes and image styles: what an API client may be allowed."""

from __future__ import annotations

from django.contrib import admin

from ..forms import ScopeForm
from ..models import ImageStyle, Scope


@admin.register(Scope)
class ScopeAdmin(admin.ModelAdmin):
    form = ScopeForm
    list_display = ["name", "description"]
    search_fields = ["name", "description"]


@admin.register(ImageStyle)
class ImageStyleAdmin(admin.ModelAdmin):
    list_display = ["name", "label", "width", "height", "operation", "format"]
