"""Template tags for a host's sign-in page: ``{% load source_oauth %}``.

A person sent to sign in by ``/oauth/authorize`` should see which application
is asking, as the consent page shows it::

    {% oauth_client_asking as client %}
    {% if client %}Sign in to continue to {{ client.name }}.{% endif %}
"""

from __future__ import annotations

from typing import Any

from django import template

from .. import pages
from ..models import ApiClient

register = template.Library()


@register.simple_tag(takes_context=True)
def oauth_client_asking(context: template.Context) -> ApiClient | None:
    """The API client whose authorization request this sign-in page returns to, if any."""
    request = getattr(context, "request", None)
    next_url = context.get("next") or (request.GET.get("next") if request is not None else None)
    return pages.client_asking(next_url)


@register.simple_tag(takes_context=True)
def oauth_site_name(context: template.Context) -> Any:
    """The site's name, as the consent page shows it (``SOURCE_OAUTH["SITE_NAME"]``)."""
    request = getattr(context, "request", None)
    return pages.site_name(request) if request is not None else ""
