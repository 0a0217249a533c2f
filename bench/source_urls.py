from django.urls import include, path

from bench import source_views, views

urlpatterns = [
    path("bench/items/", source_views.SourceProtectedItemsView.as_view()),
    path("bench/public/", views.ItemsView.as_view()),
    path("", include("example_project.urls")),
]
