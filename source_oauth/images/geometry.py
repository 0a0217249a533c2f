"""The arithmetic of derivatives: sizes and source regions, from numbers only.

The serializer field reports a derivative's size without rendering it, and
the renderer draws exactly that size, because both ask this module. Nothing
here touches a file or Pillow.
"""

from __future__ import annotations

from dataclasses import dataclass

SCALE = "scale"
CROP = "crop"
SCALE_AND_CROP = "scale_and_crop"
OPERATIONS = (SCALE, CROP, SCALE_AND_CROP)

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Plan:
    """Which region of the source (``box``, in source pixels) becomes a ``size`` image."""

    box: Box
    size: tuple[int, int]


def style_problems(
    width: int | None, height: int | None, operation: str, max_pixels: int
) -> dict[str, str]:
    """Why a style cannot be rendered, by field name; empty when it can.

    ``scale`` fits the image inside the box and needs at least one side;
    ``crop`` and ``scale_and_crop`` cut an exact rectangle and need both.
    ``scale_and_crop`` may enlarge, so its box must stay within the pixel
    limit that bounds the memory of one rendering.
    """
    problems: dict[str, str] = {}
    for name, value in (("width", width), ("height", height)):
        if value is not None and value < 1:
            problems[name] = "Must be at least 1 pixel."
    if operation not in OPERATIONS:
        problems["operation"] = f"Unknown operation {operation!r}."
    elif operation == SCALE and width is None and height is None:
        problems["width"] = "A scaled style needs a width, a height or both."
    elif operation != SCALE:
        for name, value in (("width", width), ("height", height)):
            if value is None:
                problems.setdefault(name, "A cropped style needs both a width and a height.")
    if not problems and width and height and operation != SCALE and width * height > max_pixels:
        problems["width"] = (
            f"{width}×{height} is more than the {max_pixels} pixels an image may have "
            "(SOURCE_OAUTH['IMAGE_MAX_PIXELS'])."
        )
    return problems


def plan(source: tuple[int, int], width: int | None, height: int | None, operation: str) -> Plan:
    """The region of a ``source``-sized image a style keeps, and the size it draws it at.

    ``scale`` never enlarges (a small image stays as it is), ``crop`` keeps
    the centre at 1:1, ``scale_and_crop`` fills exactly ``width``×``height``
    from the largest centred region of that shape. Raises ``ValueError`` for
    a style that ``style_problems`` rejects.
    """
    src_w, src_h = source
    if src_w < 1 or src_h < 1:
        raise ValueError("The source image has no pixels.")
    if style_problems(width, height, operation, max_pixels=2**63):
        raise ValueError("The image style cannot be rendered.")
    full: Box = (0.0, 0.0, float(src_w), float(src_h))
    if operation == SCALE:
        ratios = [side / src for side, src in ((width, src_w), (height, src_h)) if side]
        ratio = min(1.0, *ratios)
        size = (max(1, round(src_w * ratio)), max(1, round(src_h * ratio)))
        return Plan(full, size)
    if width is None or height is None:  # style_problems rules this out; narrows the types
        raise ValueError("A cropped style needs both a width and a height.")
    if operation == CROP:
        out_w, out_h = min(width, src_w), min(height, src_h)
        left, top = (src_w - out_w) // 2, (src_h - out_h) // 2
        return Plan((left, top, left + out_w, top + out_h), (out_w, out_h))
    # scale_and_crop: the widest region with the target's aspect ratio, centred.
    if src_w * height > src_h * width:
        region_w, region_h = src_h * width / height, float(src_h)
    else:
        region_w, region_h = float(src_w), src_w * height / width
    left, top = (src_w - region_w) / 2, (src_h - region_h) / 2
    return Plan((left, top, left + region_w, top + region_h), (width, height))


def derivative_size(
    source: tuple[int, int], width: int | None, height: int | None, operation: str
) -> tuple[int, int]:
    """The size of the derivative of a ``source``-sized image, without rendering it."""
    return plan(source, width, height, operation).size
