"""The OpenID Connect endpoints, under the names DOT reverses (``oauth2_provider`` namespace).

Each path matches with or without a trailing slash: a POST is never redirected.
"""

from django.urls import re_path

from . import views

urlpatterns = [
    re_path(
        r"^\.well-known/openid-configuration/?$",
        views.DiscoveryView.as_view(),
        name="oidc-connect-discovery-info",
    ),
    re_path(r"^oauth/jwks/?$", views.JwksView.as_view(), name="jwks-info"),
    re_path(r"^oauth/userinfo/?$", views.UserInfoView.as_view(), name="user-info"),
    re_path(r"^oauth/logout/?$", views.LogoutView.as_view(), name="rp-initiated-logout"),
]
