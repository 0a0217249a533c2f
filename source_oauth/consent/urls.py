"""The user's own pages (in the ``oauth2_provider`` namespace, as every ``oauth/`` path)."""

from django.urls import re_path

from .views import ConnectedAppsView

urlpatterns = [
    re_path(r"^oauth/connected-apps/?$", ConnectedAppsView.as_view(), name="connected-apps"),
]
