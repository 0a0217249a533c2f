"""The baseline: the example project on stock django-oauth-toolkit 3.4.1, default settings.

Same apps, middleware, database and templates as the example project, minus
``source_oauth``: DOT's own ``oauth2_provider.Application`` model (no
``OAUTH2_PROVIDER_APPLICATION_MODEL``), DOT's default validator, server and
scopes (``read``, ``write``), client secrets hashed with Django's default
password hasher (PBKDF2) unless an application says ``hash_client_secret=False``,
DOT's URLs at ``/o/``.
"""

from example_project.settings import *  # noqa: F403

# Nothing of source_oauth: not its app, middleware, DOT settings or DRF classes.
INSTALLED_APPS = [app for app in INSTALLED_APPS if not app.startswith("source_oauth")]  # noqa: F405
MIDDLEWARE = [name for name in MIDDLEWARE if not name.startswith("source_oauth")]  # noqa: F405
del OAUTH2_PROVIDER_APPLICATION_MODEL, OAUTH2_PROVIDER, SOURCE_OAUTH  # noqa: F821
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "oauth2_provider.contrib.rest_framework.OAuth2Authentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}

DEBUG = False
ROOT_URLCONF = "bench.stock_urls"
