"""django-oauth-toolkit's endpoint paths, served by source_oauth's views.

For a site whose clients were configured against DOT's URLconf, mounted
where ``include("oauth2_provider.urls")`` was::

    path("o/", include("source_oauth.dot_urls")),  # /o/authorize/, /o/token/, ...
    path("", include("source_oauth.urls")),        # /oauth/..., /.well-known/...

The old paths keep working, with source_oauth's rules; metadata and every
reversed URL name the canonical ``/oauth/`` paths of ``source_oauth.urls``.
DOT's application pages are not carried over: API clients live in the admin.
"""

from django.urls import re_path

from . import views

app_name = "source_oauth_dot_paths"

urlpatterns = [
    re_path(r"^authorize/?$", views.AuthorizationView.as_view(), name="authorize"),
    re_path(r"^token/?$", views.TokenView.as_view(), name="token"),
    re_path(r"^revoke_token/?$", views.RevokeTokenView.as_view(), name="revoke-token"),
    re_path(r"^introspect/?$", views.IntrospectTokenView.as_view(), name="introspect"),
]
