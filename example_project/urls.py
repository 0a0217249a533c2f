from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from example_project import demo_client
from source_oauth.forms import SignInForm
from source_oauth.views import user_facing

urlpatterns = [
    path("admin/", admin.site.urls),
    path(
        "accounts/login/",
        user_facing(auth_views.LoginView.as_view(authentication_form=SignInForm)),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("source_oauth.urls")),
    path("api/", include("example_project.content.urls")),
    path("demo/callback", demo_client.callback, name="demo-callback"),
] + static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
