"""A DRF serializer field that renders an image with the derivatives the caller may see.

``StyledImageField`` is a ``serializers.ImageField`` (uploads work as
before) whose output is::

    {"url": ..., "width": ..., "height": ...,
     "styles": {"<style name>": {"url": ..., "width": ..., "height": ...}, ...}}

``styles`` holds exactly the styles allowed for the calling client: the
client of the request's OAuth token, or the default API client when the
request has none. Cost per request, whatever the number of images: one
query for the client's styles, no file access when the model stores the
image's size (``ImageField(width_field=..., height_field=...)``); derivative
sizes are computed, not rendered.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db.models.fields.files import ImageFieldFile
from django.urls import reverse
from rest_framework import serializers

from ..conf import conf
from ..models import ImageStyle
from . import signing
from .geometry import derivative_size, style_problems
from .styles import allowed_styles, style_version

logger = logging.getLogger(__name__)

_REQUEST_CACHE = "_source_oauth_image_styles"


class StyledImageField(serializers.ImageField):
    """An image as its URL, its size and the URLs and sizes of the caller's image styles."""

    def to_representation(self, value: Any) -> dict[str, Any] | None:
        if not value:
            return None
        width, height = image_size(value)
        styles: dict[str, dict[str, Any]] = {}
        for style, version in self._styles():
            styles[style.name] = self._derivative(style, version, value.name, width, height)
        return {
            "url": self._absolute(value.url),
            "width": width,
            "height": height,
            "styles": styles,
        }

    def _derivative(
        self,
        style: ImageStyle,
        version: str,
        name: str,
        width: int | None,
        height: int | None,
    ) -> dict[str, Any]:
        size: tuple[int | None, int | None] = (None, None)
        if width and height:
            size = derivative_size((width, height), style.width, style.height, style.operation)
        url = reverse(
            "source_oauth:image-derivative",
            kwargs={
                "style": style.name,
                "version": version,
                "signature": signing.sign(style.name, version, name),
                "source": name,
            },
        )
        return {"url": self._absolute(url), "width": size[0], "height": size[1]}

    def _styles(self) -> list[tuple[ImageStyle, str]]:
        """The caller's styles with their versions, looked up once per request."""
        request = self.context.get("request")
        holder: Any = request if request is not None else self
        cached = getattr(holder, _REQUEST_CACHE, None)
        if cached is None:
            cached = [
                (style, style_version(style))
                for style in allowed_styles(calling_client(request))
                if _renderable(style)
            ]
            setattr(holder, _REQUEST_CACHE, cached)
        return cached

    def _absolute(self, url: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url


def _renderable(style: ImageStyle) -> bool:
    # A style saved around ImageStyle.clean() cannot be rendered; a URL for it would
    # only ever answer an error, so it is not offered.
    problems = style_problems(style.width, style.height, style.operation, conf.IMAGE_MAX_PIXELS)
    if problems:
        logger.warning("Image style %r is not offered: %s", style.name, problems)
    return not problems


def calling_client(request: Any) -> Any | None:
    """The API client of the request's OAuth token; None for no token (the default client)."""
    auth = getattr(request, "auth", None) if request is not None else None
    return getattr(auth, "application", None)


def image_size(value: ImageFieldFile) -> tuple[int | None, int | None]:
    """The image's stored size: from the model's width/height fields, else from the file.

    Reading the file costs one storage access per image per request; give the
    model's ``ImageField`` a ``width_field`` and ``height_field`` to avoid it.
    A missing or unreadable file has no size (None, None) rather than an error.
    """
    field = getattr(value, "field", None)
    instance = getattr(value, "instance", None)
    width_field = getattr(field, "width_field", None)
    height_field = getattr(field, "height_field", None)
    if width_field and height_field and instance is not None:
        width, height = getattr(instance, width_field), getattr(instance, height_field)
        if width and height:
            return width, height
    try:
        return value.width, value.height
    except (AttributeError, OSError, ValueError, TypeError):
        return None, None
