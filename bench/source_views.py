"""source_oauth's protected bench view: ``bench.views``' view, protected as the example API is."""

from source_oauth.authentication import BearerAuthentication
from source_oauth.permissions import HasScopes

from .views import ItemsView


class SourceProtectedItemsView(ItemsView):
    """A bearer token with the ``content:read`` scope.

    (A request without a token acts as the default API client; the benchmark
    always sends one.)
    """

    authentication_classes = [BearerAuthentication]
    permission_classes = [HasScopes.of(read=["content:read"])]
