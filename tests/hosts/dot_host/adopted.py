"""The same site after the settings step of docs/adoption.md."""

from source_oauth.dot_settings import OAUTH2_PROVIDER as SOURCE_OAUTH_DOT_SETTINGS

from .settings import *  # noqa: F403
from .settings import INSTALLED_APPS, MIDDLEWARE
from .settings import OAUTH2_PROVIDER as PREVIOUS_DOT_SETTINGS

INSTALLED_APPS = [*INSTALLED_APPS, "corsheaders", "rest_framework", "source_oauth"]
OAUTH2_PROVIDER_APPLICATION_MODEL = "source_oauth.ApiClient"
# source_oauth's DOT settings; the scopes the site had stay until adoption has read them.
OAUTH2_PROVIDER = {**SOURCE_OAUTH_DOT_SETTINGS, "SCOPES": PREVIOUS_DOT_SETTINGS["SCOPES"]}
MIDDLEWARE = ["corsheaders.middleware.CorsMiddleware", *MIDDLEWARE]
ROOT_URLCONF = "tests.hosts.dot_host.adopted_urls"
