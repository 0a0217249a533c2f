"""The derivative URL, in the ``source_oauth`` namespace.

``image-styles/<style>/<version>/<signature>/<source name>``: the signature
is a path segment, not a query parameter, so caches and CDNs that drop query
strings keep working; the source name stays readable at the end.
"""

from django.urls import re_path

from . import views

app_name = "source_oauth"

urlpatterns = [
    re_path(
        r"^image-styles/(?P<style>[-\w]+)/(?P<version>[0-9a-f]{12})/"
        r"(?P<signature>[-\w]+)/(?P<source>.+)$",
        views.derivative,
        name="image-derivative",
    ),
]
