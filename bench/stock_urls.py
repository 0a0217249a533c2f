from django.contrib import admin
from django.urls import include, path

from bench import views

urlpatterns = [
    path("o/", include("oauth2_provider.urls")),
    path("bench/items/", views.StockProtectedItemsView.as_view()),
    path("bench/public/", views.ItemsView.as_view()),
    path("admin/", admin.site.urls),
]
