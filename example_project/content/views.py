"""The example CMS's content API, protected by scopes (``source_oauth.permissions``).

| request | needs |
| --- | --- |
| ``GET /api/articles/``, ``GET /api/articles/<id>/`` | ``content:read`` |
| ``POST``, ``PUT``, ``PATCH``, ``DELETE`` on the same | ``content:write`` |
| ``GET /api/me/`` | a token issued to a user, with ``user:profile`` |

A request without a token acts as the default API client, which has
``content:read`` after ``migrate``: the published content is public unless an
admin takes that scope away from the default client.
"""

from __future__ import annotations

from typing import Any

from rest_framework import viewsets
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from source_oauth.permissions import HasScopes, HasUser

from .models import Article
from .serializers import ArticleSerializer, ProfileSerializer


class ArticlePagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class ArticleViewSet(viewsets.ModelViewSet):
    """Articles: list, detail, create, update and delete."""

    queryset = Article.objects.select_related("author")
    serializer_class = ArticleSerializer
    pagination_class = ArticlePagination
    permission_classes = [HasScopes.of(read=["content:read"], write=["content:write"])]

    def perform_create(self, serializer: BaseSerializer) -> None:
        user = self.request.user
        serializer.save(author=user if user.is_authenticated else None)


class MeView(APIView):
    """The profile of the user the access token acts for."""

    # HasUser first: a client-credentials token is told that a user is required,
    # whatever its scopes.
    permission_classes = [HasUser, HasScopes.of("user:profile")]

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(ProfileSerializer(request.user).data)
