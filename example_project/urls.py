from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

from example_project import demo_client

urlpatterns = [
    path("admin/", admin.site.urls),
    # The sign-in page the authorization flow sends people to (LOGIN_URL), in one line.
    path("accounts/", include("source_oauth.login")),
    path("", include("source_oauth.urls")),
    path("api/", include("example_project.content.urls")),
    path("demo/callback", demo_client.callback, name="demo-callback"),
] + static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
