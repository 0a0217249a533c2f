"""RFC 9728 protected resource metadata: a client finds the authorization server from the API.

Served at ``/.well-known/oauth-protected-resource`` and named in the
``resource_metadata`` parameter of the 401 challenge of every view protected
by ``BearerAuthentication``. DOT builds the document from its
``OAUTH2_PROTECTED_RESOURCE_*`` settings: the resource is this site's origin
unless ``OAUTH2_PROTECTED_RESOURCE_IDENTIFIER`` says otherwise, and its
authorization server is this one (the RFC 8414 issuer).
"""

from __future__ import annotations

from django.utils.decorators import method_decorator
from oauth2_provider.views import OAuthProtectedResourceMetadataView

from . import outages
from .catalog import OIDC_SCOPES


@method_decorator(outages.json_when_database_down, name="dispatch")
class ProtectedResourceMetadataView(OAuthProtectedResourceMetadataView):
    def get_scopes_supported(self) -> list[str]:
        """The API's scopes: not OpenID Connect's, which only the authorization server serves."""
        return [name for name in super().get_scopes_supported() if name not in OIDC_SCOPES]
