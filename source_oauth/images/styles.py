"""Which styles a client may use, a style's version, and where a derivative is stored.

A derivative is stored at ``styles/<style>/<version>/<source name>[.<ext>]``.
The version is a hash of the style's settings, so changing a style gives
every image new derivative paths and URLs, and the old URLs stop working;
saving a style unchanged, or changing it back, keeps its derivatives.
"""

from __future__ import annotations

import hashlib
import posixpath
from typing import Any

from ..models import ImageStyle

# Bump to give every derivative a new path when the rendering itself changes.
RENDERER_VERSION = "1"
DERIVATIVES_DIR = "styles"

# Extensions that name an output format, and formats for sources that have none.
# Decided from the name, not the file, so a derivative's path is known without opening it.
_FORMAT_OF_EXTENSION = {
    "jpg": "JPEG",
    "jpeg": "JPEG",
    "jpe": "JPEG",
    "jfif": "JPEG",
    "png": "PNG",
    "webp": "WEBP",
}
_SUBSTITUTE_FORMAT = {"avif": "WEBP"}  # lossy and alpha-capable like AVIF, readable everywhere
_EXTENSION_OF_FORMAT = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


def style_version(style: ImageStyle) -> str:
    """A short hash of everything that shapes the style's output."""
    recipe = "|".join(
        str(part)
        for part in (
            RENDERER_VERSION,
            style.width,
            style.height,
            style.operation,
            style.format,
            style.quality,
        )
    )
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


def output_format(style: ImageStyle, source_name: str) -> str:
    """The Pillow format a style writes: its own, else the source's (PNG when no fit)."""
    own = (style.format or "").upper()
    if own in _EXTENSION_OF_FORMAT:
        return own
    extension = _extension(source_name)
    return _FORMAT_OF_EXTENSION.get(extension) or _SUBSTITUTE_FORMAT.get(extension, "PNG")


def derivative_name(style: ImageStyle, version: str, source_name: str) -> str:
    """The storage name of a derivative: the source's name, plus an extension if it changes."""
    output = output_format(style, source_name)
    name = posixpath.join(DERIVATIVES_DIR, style.name, version, source_name)
    if _FORMAT_OF_EXTENSION.get(_extension(source_name)) != output:
        name = f"{name}.{_EXTENSION_OF_FORMAT[output]}"
    return name


def _extension(name: str) -> str:
    return posixpath.splitext(name)[1].lower().lstrip(".")


def is_safe_source_name(name: str) -> bool:
    """Whether ``name`` is a plain relative storage name that cannot leave the storage.

    The name arrives in a signed URL, so only names the server issued get
    here; this is defence in depth against traversal all the same.
    """
    if not name or name.startswith("/") or "\\" in name or "\x00" in name:
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


def allowed_styles(application: Any | None) -> list[ImageStyle]:
    """The styles ``application`` may use (one query); the default client's when None."""
    if application is not None and getattr(application, "pk", None) is not None:
        return list(ImageStyle.objects.filter(api_clients=application))
    return list(ImageStyle.objects.filter(api_clients__is_default=True))
