"""The site half way: source_oauth installed, DOT's application model not yet switched."""

from .adopted import *  # noqa: F403

OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
