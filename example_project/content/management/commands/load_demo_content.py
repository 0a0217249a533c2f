"""Load a few demo articles, each with a real image drawn by Pillow (no download).

Idempotent: an article is found by its title; one that exists keeps its text
and gets its image back only if the file is missing from storage.
"""

from __future__ import annotations

import io
import random
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from PIL import Image, ImageDraw, ImageFont

from example_project.content.models import Article

# title, body, (top colour, bottom colour) of the picture
ARTICLES = [
    (
        "Welcome to the demo CMS",
        "This site is an OAuth 2.0 authorization server. API clients read these "
        "articles with a content:read token and write them with content:write.",
        ((32, 64, 160), (120, 200, 255)),
    ),
    (
        "Tokens for servers: client credentials",
        "A backend exchanges its client ID and secret for a token that acts for no "
        "user. It can read and write content, but never a user's profile.",
        ((20, 110, 70), (190, 235, 150)),
    ),
    (
        "Tokens for people: authorization code with PKCE",
        "A web or mobile app sends the user to /oauth/authorize, gets a code back and "
        "exchanges it for a token that acts for that user: /api/me/ shows who it is.",
        ((150, 40, 60), (255, 180, 120)),
    ),
    (
        "Image styles",
        "Each API client sees the image derivatives its settings allow: a thumbnail, "
        "a medium or a large rendering of every article's picture.",
        ((90, 40, 140), (230, 170, 250)),
    ),
]
IMAGE_SIZE = (1600, 1000)


def draw_picture(title: str, top: tuple[int, int, int], bottom: tuple[int, int, int]) -> bytes:
    """A JPEG: a vertical gradient, a few translucent circles and the title."""
    width, height = IMAGE_SIZE
    image = Image.new("RGB", IMAGE_SIZE)
    draw = ImageDraw.Draw(image)
    for y in range(height):
        t = y / (height - 1)
        colour = tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        draw.line([(0, y), (width, y)], fill=colour)
    overlay = Image.new("RGBA", IMAGE_SIZE, (0, 0, 0, 0))
    shapes = ImageDraw.Draw(overlay)
    rng = random.Random(title)  # the same picture on every run
    for _ in range(12):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.randrange(60, 320)
        shapes.ellipse([x - r, y - r, x + r, y + r], fill=(255, 255, 255, rng.randrange(30, 90)))
    image = Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
    font = ImageFont.load_default(size=64)
    ImageDraw.Draw(image).text((80, height - 160), title, font=font, fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


class Command(BaseCommand):
    help = "Create the demo articles with their images (again only what is missing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--author", default="admin", help="Username of the author (none if no such user)."
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        author = get_user_model().objects.filter(username=options["author"]).first()
        created = images = 0
        for index, (title, body, (top, bottom)) in enumerate(ARTICLES, start=1):
            article, is_new = Article.objects.get_or_create(
                title=title, defaults={"body": body, "author": author}
            )
            created += is_new
            if article.image and article.image.storage.exists(article.image.name):
                continue
            name = f"demo-{index}.jpg"
            # A named ContentFile: ImageField reads the size it stores from it.
            picture = ContentFile(draw_picture(title, top, bottom), name=name)
            article.image.save(name, picture, save=True)
            images += 1
        self.stdout.write(
            f"Demo content: {len(ARTICLES)} articles ({created} created, {images} images drawn)."
        )
