"""Drawing a derivative with Pillow, safely.

Untrusted bytes go through here, so the rules are: only common web formats
are decoded (no Ghostscript-backed EPS and the like); the pixel count is
checked from the header, before any pixel is decoded, against
``SOURCE_OAUTH["IMAGE_MAX_PIXELS"]``; large JPEGs are decoded at a reduced
scale when the derivative is smaller; every decoder failure becomes an
``ImageError`` with a message for the API consumer.

Pixels are not rotated: a derivative keeps the original's EXIF orientation
tag (and no other metadata, so no GPS position leaks), so it displays like
the original and its size is what ``geometry`` computes from the stored
pixel size, the size Django reports for the original.
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass
from typing import IO

from PIL import Image, UnidentifiedImageError

from .geometry import Plan, plan

logger = logging.getLogger(__name__)

# Common web formats only (a camera's MPO opens as JPEG); AVIF when Pillow has it.
INPUT_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "AVIF")
_ORIENTATION = 0x0112
# Decoders raise these for broken files; Pillow's own bomb check raises DecompressionBombError.
_DECODE_ERRORS = (
    Image.DecompressionBombError,
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
)


def _input_formats() -> tuple[str, ...]:
    Image.init()  # registers every plugin once; Image.open fails on an unregistered name
    return tuple(name for name in INPUT_FORMATS if name in Image.OPEN)


class ImageError(Exception):
    """A source image that cannot be rendered; ``code`` is stable, ``message`` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Rendered:
    content: bytes
    format: str
    size: tuple[int, int]


def render(
    source: IO[bytes],
    *,
    width: int | None,
    height: int | None,
    operation: str,
    output_format: str,
    quality: int,
    max_pixels: int,
) -> Rendered:
    """Render ``source`` by a style's recipe into ``output_format`` bytes.

    Raises ``ImageError`` (``image_unreadable``, ``image_too_large``,
    ``style_invalid``); never lets a decoder exception escape.
    """
    try:
        image = Image.open(source, formats=_input_formats())
    except _DECODE_ERRORS as error:
        raise _unreadable(error) from error
    with image:
        src_w, src_h = image.size
        if src_w * src_h > max_pixels:
            raise ImageError(
                "image_too_large",
                f"The image is {src_w}×{src_h} pixels; at most {max_pixels} pixels are "
                "processed (SOURCE_OAUTH['IMAGE_MAX_PIXELS']).",
            )
        try:
            recipe = plan((src_w, src_h), width, height, operation)
        except ValueError as error:
            raise ImageError("style_invalid", f"The image style cannot be rendered: {error}") from (
                error
            )
        if recipe.size[0] * recipe.size[1] > max_pixels:
            # Only scale_and_crop enlarges; ImageStyle.clean() keeps its box within the limit.
            raise ImageError("style_invalid", "The image style draws more pixels than allowed.")
        try:
            orientation = image.getexif().get(_ORIENTATION)
            drawn = _draw(image, recipe)
            content = _encode(drawn, output_format, quality, orientation)
        except _DECODE_ERRORS as error:
            raise _unreadable(error) from error
    return Rendered(content, output_format, drawn.size)


def _unreadable(error: BaseException) -> ImageError:
    # Logged: a decoder failing in an unusual way is worth a look, not a 500.
    logger.info("Image cannot be rendered: %r", error)
    if isinstance(error, Image.DecompressionBombError):
        return ImageError("image_too_large", "The image has too many pixels to be processed.")
    if isinstance(error, UnidentifiedImageError):
        return ImageError(
            "image_unreadable",
            f"The file is not an image in a supported format ({', '.join(INPUT_FORMATS)}).",
        )
    return ImageError("image_unreadable", "The image file is damaged or truncated.")


def _draw(image: Image.Image, recipe: Plan) -> Image.Image:
    """Cut and resize ``image`` by ``recipe``; decode a JPEG only at the scale it needs."""
    src_w, src_h = image.size
    left, top, right, bottom = recipe.box
    out_w, out_h = recipe.size
    needed = (
        math.ceil(src_w * out_w / (right - left)),
        math.ceil(src_h * out_h / (bottom - top)),
    )
    if image.format in ("JPEG", "MPO") and needed[0] < src_w and needed[1] < src_h:
        # Twice the needed size, like Image.thumbnail's reducing_gap: DCT scaling is
        # cheap on memory, the final resample keeps the quality.
        image.draft(None, (min(src_w, 2 * needed[0]), min(src_h, 2 * needed[1])))
    fx, fy = image.size[0] / src_w, image.size[1] / src_h
    box = (left * fx, top * fy, right * fx, bottom * fy)
    image = _normalised(image)
    if (right - left, bottom - top) == (out_w, out_h) and (fx, fy) == (1, 1):
        return image.crop(tuple(int(edge) for edge in box))
    return image.resize(recipe.size, Image.Resampling.LANCZOS, box=box)


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def _normalised(image: Image.Image) -> Image.Image:
    """The image in a mode that resizes well (RGB, RGBA, L or LA); decodes it."""
    if image.mode in ("RGB", "RGBA", "L", "LA") and "transparency" not in image.info:
        image.load()
        return image
    return image.convert("RGBA" if _has_alpha(image) else "RGB")


def _encode(image: Image.Image, output_format: str, quality: int, orientation: int | None) -> bytes:
    quality = max(1, min(100, quality))
    options: dict[str, object] = {}
    if output_format == "JPEG":
        if _has_alpha(image):
            background = Image.new("RGB", image.size, "white")
            background.paste(image, mask=image.convert("RGBA").getchannel("A"))
            image = background
        elif image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        options = {"quality": quality, "optimize": True, "progressive": True}
    elif output_format == "WEBP":
        options = {"quality": quality}
    elif output_format == "PNG":
        options = {"optimize": True}
    if isinstance(orientation, int) and 2 <= orientation <= 8:
        exif = Image.Exif()
        exif[_ORIENTATION] = orientation
        options["exif"] = exif.tobytes()
    buffer = io.BytesIO()
    image.save(buffer, output_format, **options)
    return buffer.getvalue()
