"""URLs of the OAuth server, at the paths of the product text.

Each path matches with or without a trailing slash, so a POST is never
redirected by ``APPEND_SLASH`` (a redirected POST loses its body). The
patterns live in DOT's ``oauth2_provider`` namespace, which DOT reverses
internally (metadata, login redirects).
"""

from django.urls import include, re_path

from . import views
from .consent import urls as consent_urls
from .oidc import urls as oidc_urls
from .resource_metadata import ProtectedResourceMetadataView

oauth_patterns = [
    re_path(r"^oauth/authorize/?$", views.AuthorizationView.as_view(), name="authorize"),
    re_path(r"^oauth/token/?$", views.TokenView.as_view(), name="token"),
    re_path(r"^oauth/revoke/?$", views.RevokeTokenView.as_view(), name="revoke-token"),
    re_path(r"^oauth/introspect/?$", views.IntrospectTokenView.as_view(), name="introspect"),
    re_path(
        r"^\.well-known/oauth-authorization-server/?$",
        views.ServerMetadataView.as_view(),
        name="oauth-server-metadata",
    ),
    *oidc_urls.urlpatterns,  # discovery, JWKS, UserInfo, logout
    *consent_urls.urlpatterns,  # the user's "Connected apps" page
    re_path(
        r"^\.well-known/oauth-protected-resource/?$",
        ProtectedResourceMetadataView.as_view(),
        name="oauth-resource-metadata",
    ),
]

urlpatterns = [
    re_path("", include((oauth_patterns, "oauth2_provider"))),
    re_path("", include("source_oauth.images.urls")),  # signed image derivatives
]
