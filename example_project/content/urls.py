"""The content API, mounted at ``/api/`` by ``example_project.urls``."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import ArticleViewSet, MeView

router = SimpleRouter()
router.register("articles", ArticleViewSet, basename="article")

urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
    *router.urls,
]
