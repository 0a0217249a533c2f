"""The derivative endpoint: check the signature, render once, store, redirect.

Order matters: the signature is checked before anything else, so a forged
URL costs no query, no storage access and no rendering. A stored derivative
is answered with a redirect to its storage URL, like the original image's
URL in the API: the bytes then come from wherever the storage serves media
(the web server, S3, a CDN), not through Django, and the derivative is only
ever rendered by the first request.
"""

from __future__ import annotations

import logging

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

from .. import outages
from ..conf import conf
from ..models import ImageStyle
from . import signing
from .render import ImageError, render
from .styles import derivative_name, is_safe_source_name, output_format, style_version

logger = logging.getLogger(__name__)

# A derivative URL names one version of one style of one image, so its redirect
# can be cached; a day bounds how long a purged derivative is still pointed at.
REDIRECT_MAX_AGE = 24 * 3600


@require_safe
@outages.json_when_database_down
def derivative(
    request: HttpRequest, style: str, version: str, signature: str, source: str
) -> HttpResponse:
    """Redirect to the derivative of ``source`` by ``style``, rendering it on first use."""
    if not signing.is_valid(style, version, source, signature):
        return _error(403, "invalid_signature", "This image URL was not issued by the API.")
    if not is_safe_source_name(source):
        return _error(404, "not_found", "No such image.")
    image_style = ImageStyle.objects.filter(name=style).first()
    if image_style is None or style_version(image_style) != version:
        # The style was deleted or changed since the URL was issued: the API has new URLs.
        return _error(404, "not_found", "This image style no longer exists in this version.")
    storage = image_storage()
    name = derivative_name(image_style, version, source)
    if not storage.exists(name):
        if not storage.exists(source):
            return _error(404, "not_found", "No such image.")
        try:
            _render_and_store(storage, image_style, source, name)
        except ImageError as error:
            return _error(422, error.code, error.message)
    response = HttpResponseRedirect(storage.url(name))
    patch_cache_control(response, public=True, max_age=REDIRECT_MAX_AGE)
    return response


def image_storage() -> Storage:
    """The storage that holds source images and their derivatives."""
    return storages[conf.IMAGE_STORAGE]


def _render_and_store(storage: Storage, style: ImageStyle, source: str, name: str) -> None:
    try:
        file = storage.open(source, "rb")
    except OSError as error:
        raise ImageError("image_unreadable", "The image file cannot be read.") from error
    with file:
        rendered = render(
            file,
            width=style.width,
            height=style.height,
            operation=style.operation,
            output_format=output_format(style, source),
            quality=style.quality,
            max_pixels=conf.IMAGE_MAX_PIXELS,
        )
    stored = storage.save(name, ContentFile(rendered.content))
    if stored != name:
        # A concurrent request stored the same derivative first; keep one copy.
        storage.delete(stored)


def _error(status: int, code: str, description: str) -> JsonResponse:
    response = JsonResponse({"error": code, "error_description": description}, status=status)
    response["Cache-Control"] = "no-store"
    return response
