from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from .views import HelloView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("o/", include("oauth2_provider.urls")),
    path("api/hello/", HelloView.as_view()),
]
