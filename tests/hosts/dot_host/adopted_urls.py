"""The site's URLs after adoption: DOT's include replaced, as docs/adoption.md says."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from .views import HelloView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("o/", include("source_oauth.dot_urls")),
    path("", include("source_oauth.urls")),
    path("api/hello/", HelloView.as_view()),
]
