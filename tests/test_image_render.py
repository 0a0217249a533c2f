"""Image styles without HTTP: sizes, style validation, Pillow rendering, signatures, names."""

import io
import struct
import zlib

import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from source_oauth.images import signing
from source_oauth.images.geometry import derivative_size, style_problems
from source_oauth.images.render import ImageError, render
from source_oauth.images.styles import derivative_name, is_safe_source_name, style_version
from source_oauth.models import ImageStyle


def image_bytes(fmt="JPEG", size=(1600, 1200), mode="RGB", **save):
    buffer = io.BytesIO()
    Image.new(mode, size, "red" if mode != "1" else 1).save(buffer, fmt, **save)
    return buffer.getvalue()


def rendered(data, *, width, height, operation, fmt="PNG", max_pixels=50_000_000):
    return render(
        io.BytesIO(data),
        width=width,
        height=height,
        operation=operation,
        output_format=fmt,
        quality=80,
        max_pixels=max_pixels,
    )


def png_header_claiming(width, height):
    """A PNG whose header claims ``width``×``height`` pixels, with a few bytes of pixels."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


# --- sizes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "width", "height", "operation", "expected"),
    [
        ((1600, 1200), 640, None, "scale", (640, 480)),
        ((1600, 1200), None, 300, "scale", (400, 300)),
        ((1600, 1200), 640, 640, "scale", (640, 480)),  # fits inside the box
        ((1200, 1600), 640, 640, "scale", (480, 640)),
        ((300, 200), 640, None, "scale", (300, 200)),  # never enlarged
        ((1600, 1200), 100, 100, "scale_and_crop", (100, 100)),
        ((50, 20), 100, 100, "scale_and_crop", (100, 100)),  # fills the box exactly
        ((1600, 1200), 300, 200, "crop", (300, 200)),
        ((250, 120), 300, 200, "crop", (250, 120)),  # a crop never adds pixels
        ((3000, 9), 640, None, "scale", (640, 2)),
        ((10000, 3), 640, None, "scale", (640, 1)),  # at least one pixel
    ],
)
def test_derivative_size_is_computed_from_numbers(source, width, height, operation, expected):
    assert derivative_size(source, width, height, operation) == expected


def test_style_problems_name_the_field():
    assert style_problems(None, None, "scale", 10**6) == {
        "width": "A scaled style needs a width, a height or both."
    }
    assert set(style_problems(100, None, "crop", 10**6)) == {"height"}
    assert set(style_problems(None, 100, "scale_and_crop", 10**6)) == {"width"}
    assert set(style_problems(0, 100, "scale", 10**6)) == {"width"}
    assert "IMAGE_MAX_PIXELS" in style_problems(2000, 1000, "scale_and_crop", 10**6)["width"]
    assert style_problems(5000, 5000, "scale", 10**6) == {}  # scaling never enlarges
    assert style_problems(100, 100, "crop", 10**6) == {}


def test_image_style_clean_reports_problems_as_field_errors(db):
    style = ImageStyle(name="banner", label="Banner", width=1200, operation="scale_and_crop")
    with pytest.raises(ValidationError) as error:
        style.full_clean()
    assert "height" in error.value.message_dict

    ImageStyle(name="banner", label="Banner", width=1200, height=300, operation="crop").full_clean()


def test_image_style_clean_honours_the_pixel_limit_setting(db, settings):
    settings.SOURCE_OAUTH = {"IMAGE_MAX_PIXELS": 10_000}
    style = ImageStyle(name="big", label="Big", width=200, height=200, operation="crop")
    with pytest.raises(ValidationError) as error:
        style.full_clean()
    assert "width" in error.value.message_dict


# --- rendering ---------------------------------------------------------------------

MODES = [
    ("JPEG", "RGB"),
    ("JPEG", "L"),
    ("JPEG", "CMYK"),
    ("PNG", "RGBA"),
    ("PNG", "LA"),
    ("PNG", "P"),
    ("PNG", "I;16"),
    ("PNG", "1"),
    ("GIF", "P"),
    ("WEBP", "RGB"),
]
RECIPES = [
    (640, None, "scale"),
    (None, 50, "scale"),
    (100, 100, "scale_and_crop"),
    (3000, 10, "scale_and_crop"),
    (300, 200, "crop"),
    (5000, 5000, "crop"),
]


@pytest.mark.parametrize(("source_format", "mode"), MODES)
@pytest.mark.parametrize("output", ["JPEG", "PNG", "WEBP"])
def test_render_draws_the_computed_size_in_the_asked_format(source_format, mode, output):
    data = image_bytes(source_format, (800, 600), mode)
    for width, height, operation in RECIPES:
        result = rendered(data, width=width, height=height, operation=operation, fmt=output)
        drawn = Image.open(io.BytesIO(result.content))
        expected = derivative_size((800, 600), width, height, operation)
        assert drawn.format == output
        assert drawn.size == result.size == expected, (width, height, operation)


def test_large_jpeg_is_decoded_at_reduced_scale_and_still_exact():
    data = image_bytes("JPEG", (6000, 4000))
    result = rendered(data, width=100, height=100, operation="scale_and_crop", fmt="JPEG")
    assert Image.open(io.BytesIO(result.content)).size == (100, 100)
    result = rendered(data, width=640, height=None, operation="scale", fmt="WEBP")
    assert Image.open(io.BytesIO(result.content)).size == (640, 427)


def test_transparency_is_flattened_on_white_for_jpeg():
    buffer = io.BytesIO()
    Image.new("RGBA", (200, 200), (0, 0, 0, 0)).save(buffer, "PNG")
    result = rendered(buffer.getvalue(), width=50, height=50, operation="crop", fmt="JPEG")
    pixel = Image.open(io.BytesIO(result.content)).convert("RGB").getpixel((25, 25))
    assert min(pixel) > 245


def test_orientation_is_kept_and_other_metadata_dropped():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90° clockwise
    exif[0x010F] = "Camera maker"
    data = image_bytes("JPEG", (800, 600), exif=exif.tobytes())
    result = rendered(data, width=400, height=None, operation="scale", fmt="JPEG")
    kept = Image.open(io.BytesIO(result.content)).getexif()
    assert kept.get(0x0112) == 6
    assert 0x010F not in kept


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an image at all",
        image_bytes("JPEG")[:400],  # truncated
        image_bytes("PNG")[:200],
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n",  # never handed to Ghostscript
        image_bytes("BMP", (20, 20)),  # decodable by Pillow, not a web format
    ],
    ids=["empty", "text", "truncated-jpeg", "truncated-png", "eps", "bmp"],
)
def test_unreadable_sources_raise_image_error(data):
    with pytest.raises(ImageError) as error:
        rendered(data, width=10, height=10, operation="crop")
    assert error.value.code == "image_unreadable"


def test_huge_dimensions_are_refused_from_the_header_before_decoding():
    # 9000×9000 RGB decodes to 243 MB (Pillow itself would accept it); the header decides.
    with pytest.raises(ImageError) as error:
        rendered(png_header_claiming(9000, 9000), width=100, height=100, operation="crop")
    assert error.value.code == "image_too_large"
    assert "9000×9000" in error.value.message


def test_pixel_limit_applies_to_real_images():
    with pytest.raises(ImageError) as error:
        rendered(
            image_bytes("PNG", (2000, 1000)),
            width=10,
            height=None,
            operation="scale",
            max_pixels=1_999_999,
        )
    assert error.value.code == "image_too_large"


def test_pillows_own_bomb_check_is_reported_the_same_way():
    # With the setting raised beyond Pillow's MAX_IMAGE_PIXELS × 2, Pillow refuses itself.
    with pytest.raises(ImageError) as error:
        rendered(
            png_header_claiming(20000, 20000),
            width=10,
            height=10,
            operation="crop",
            max_pixels=10**12,
        )
    assert error.value.code == "image_too_large"


def test_style_saved_around_validation_is_an_image_error():
    with pytest.raises(ImageError) as error:
        rendered(image_bytes(), width=None, height=100, operation="crop")
    assert error.value.code == "style_invalid"
    # An enlarging box beyond the pixel limit is refused before anything is drawn.
    with pytest.raises(ImageError) as error:
        rendered(
            image_bytes("PNG", (10, 10)),
            width=5000,
            height=5000,
            operation="scale_and_crop",
            max_pixels=1_000_000,
        )
    assert error.value.code == "style_invalid"


# --- signatures and names ----------------------------------------------------------


def test_signature_binds_style_version_and_image():
    signature = signing.sign("thumbnail", "abc", "articles/a.jpg")
    assert signing.is_valid("thumbnail", "abc", "articles/a.jpg", signature)
    assert not signing.is_valid("large", "abc", "articles/a.jpg", signature)
    assert not signing.is_valid("thumbnail", "abd", "articles/a.jpg", signature)
    assert not signing.is_valid("thumbnail", "abc", "articles/b.jpg", signature)
    assert not signing.is_valid("thumbnail", "abc", "articles/a.jpg", signature[:-1] + "A")
    assert not signing.is_valid("thumbnail", "abc", "articles/a.jpg", "")


def test_signatures_survive_a_secret_key_rotation(settings):
    signature = signing.sign("thumbnail", "abc", "articles/a.jpg")
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-brand-new-secret-key-for-this-test-0123456789"
    assert signing.is_valid("thumbnail", "abc", "articles/a.jpg", signature)
    settings.SECRET_KEY_FALLBACKS = []
    assert not signing.is_valid("thumbnail", "abc", "articles/a.jpg", signature)


def test_version_changes_with_every_setting_that_shapes_the_output():
    style = ImageStyle(name="s", width=100, height=100, operation="crop", format="", quality=85)
    seen = {style_version(style)}
    for field, value in [
        ("width", 101),
        ("height", 99),
        ("operation", "scale_and_crop"),
        ("format", "webp"),
        ("quality", 70),
    ]:
        setattr(style, field, value)
        seen.add(style_version(style))
    assert len(seen) == 6
    style.label = "A new label"
    assert style_version(style) in seen


@pytest.mark.parametrize(
    ("source", "fmt", "expected"),
    [
        ("articles/a.jpg", "", "styles/s/v/articles/a.jpg"),
        ("articles/a.JPEG", "jpeg", "styles/s/v/articles/a.JPEG"),
        ("articles/a.png", "", "styles/s/v/articles/a.png"),
        ("articles/a.gif", "", "styles/s/v/articles/a.gif.png"),
        ("articles/a.avif", "", "styles/s/v/articles/a.avif.webp"),
        ("articles/a.jpg", "webp", "styles/s/v/articles/a.jpg.webp"),
        ("articles/noext", "", "styles/s/v/articles/noext.png"),
    ],
)
def test_derivative_name_keeps_the_source_name_and_states_the_format(source, fmt, expected):
    style = ImageStyle(name="s", width=10, height=10, operation="crop", format=fmt)
    assert derivative_name(style, "v", source) == expected


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("articles/a.jpg", True),
        ("a.jpg", True),
        ("../settings.py", False),
        ("articles/../../etc/passwd", False),
        ("/etc/passwd", False),
        ("articles//a.jpg", False),
        ("articles/./a.jpg", False),
        ("articles\\..\\a.jpg", False),
        ("a.jpg\x00.png", False),
        ("", False),
    ],
)
def test_only_plain_relative_names_are_safe(name, safe):
    assert is_safe_source_name(name) is safe
