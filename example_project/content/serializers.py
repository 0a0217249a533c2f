"""How the content API reads and writes articles."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import serializers

from source_oauth.images.fields import StyledImageField

from .models import Article

User = get_user_model()

# Uploads larger than this are refused with a 400 (Pillow would decode them in memory).
MAX_IMAGE_BYTES = 10 * 1024 * 1024


class AuthorSerializer(serializers.ModelSerializer):
    """An article's author as the public sees it: no username, no email address."""

    name = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "name"]

    def get_name(self, user: Any) -> str:
        return user.get_full_name() or user.get_username()


class ArticleSerializer(serializers.ModelSerializer):
    """An article. The author is whoever the token acts for (none for an app-only token)."""

    author = AuthorSerializer(read_only=True)
    # The image with the derivatives the calling client may see (source_oauth image styles).
    image = StyledImageField(required=False, allow_null=True)

    class Meta:
        model = Article
        fields = ["id", "title", "body", "image", "author", "created", "updated"]
        read_only_fields = ["created", "updated"]

    def validate_image(self, image: Any) -> Any:
        if image is not None and image.size > MAX_IMAGE_BYTES:
            raise serializers.ValidationError(
                f"The image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB."
            )
        return image


class ProfileSerializer(serializers.ModelSerializer):
    """The profile of the user an access token acts for (``user:profile``)."""

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "email"]
        read_only_fields = fields
