"""The example project's URLs, plus a view that requires tokens issued for its own resource."""

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from example_project.urls import urlpatterns as example_urlpatterns
from source_oauth.permissions import HasAudience, HasScopes


class AudienceView(APIView):
    permission_classes = [HasScopes.of("content:read"), HasAudience]

    @property
    def required_audience(self) -> str:
        return self.request.build_absolute_uri("/protected/")

    def get(self, request):
        return Response({"ok": True})


urlpatterns = [path("protected/", AudienceView.as_view()), *example_urlpatterns]
