"""The DRF views the benchmark drives: one small fixed JSON list, protected or not.

The protected and the unprotected view of a configuration differ only in
their authentication and permission classes, so their ratio is the cost of
bearer authentication and scope checking. source_oauth's protected view is
in ``bench.source_views`` (this module must import nothing of source_oauth:
the stock configuration does not install it).
"""

from __future__ import annotations

from oauth2_provider.contrib.rest_framework import OAuth2Authentication, TokenHasScope
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

ITEMS = [{"id": i, "title": f"Item {i}", "published": True} for i in range(1, 6)]


class ItemsView(APIView):
    """Not authenticated: the baseline of the protected views."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request, *args, **kwargs):
        return Response(ITEMS)


class StockProtectedItemsView(ItemsView):
    """Stock django-oauth-toolkit: bearer token with the ``read`` scope."""

    authentication_classes = [OAuth2Authentication]
    permission_classes = [TokenHasScope]
    required_scopes = ["read"]
