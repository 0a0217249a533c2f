"""Settings of the example CMS: source_oauth installed as a host project would.

SQLite by default; PostgreSQL (or anything dj-database-url reads) when
DATABASE_URL is set. Redis as the cache when REDIS_URL is set.
"""

import os
import tempfile
from pathlib import Path

import dj_database_url

from source_oauth.dot_settings import OAUTH2_PROVIDER as SOURCE_OAUTH_DOT_DEFAULTS

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "insecure-example-key-change-me-in-production")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "oauth2_provider",
    "source_oauth",
    "example_project.content",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "example_project" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
        # A persistent connection is checked before a request reuses it, so a database
        # restart costs no failed request (source_oauth.W005).
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not ":memory:", so the live server's threads each get their own connection.
    # One file per test run, so parallel runs from one checkout cannot clash.
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"source_oauth_test_{os.getpid()}.sqlite3")
    }

if os.environ.get("REDIS_URL"):
    # django-redis rather than Django's own RedisCache, which builds a new redis-py
    # client for every cache call: that alone cost about 60 µs per protected request.
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            # Fail fast when Redis is down or frozen: source_oauth then serves from the
            # database (source_oauth.W006). Redis answers in well under a millisecond.
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "var" / "media"))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "/accounts/login/"

# --- source_oauth -------------------------------------------------------------
OAUTH2_PROVIDER_APPLICATION_MODEL = "source_oauth.ApiClient"
OAUTH2_PROVIDER = {
    **SOURCE_OAUTH_DOT_DEFAULTS,
    # RFC 9728: the name /.well-known/oauth-protected-resource gives the example API.
    "OAUTH2_PROTECTED_RESOURCE_NAME": "Example CMS API",
}
SOURCE_OAUTH = {"SITE_NAME": "Example CMS"}
if os.environ.get("REDIS_URL"):
    # Each process keeps its own copy of tokens and clients, kept exact by Redis pub/sub.
    SOURCE_OAUTH["PROCESS_CACHE_REDIS_URL"] = os.environ["REDIS_URL"]

REST_FRAMEWORK = {
    # Bearer tokens, with RFC 6750 errors (401 invalid_token, 403 insufficient_scope).
    "DEFAULT_AUTHENTICATION_CLASSES": ["source_oauth.authentication.BearerAuthentication"],
    # Every view declares its scopes; one that forgets raises ImproperlyConfigured.
    "DEFAULT_PERMISSION_CLASSES": ["source_oauth.permissions.HasScopes"],
    "EXCEPTION_HANDLER": "source_oauth.permissions.exception_handler",
}

# CORS: source_oauth.cors allows the origins of registered API clients on /oauth/token,
# /oauth/revoke, /oauth/introspect and /api/; no CORS_ALLOWED_ORIGINS needed. Browser
# apps may read the challenge of a 401 or 403.
CORS_EXPOSE_HEADERS = ["WWW-Authenticate"]

LOG_LEVEL = os.environ.get("LOG_LEVEL", "WARNING")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Django's "django" logger has a console handler of its own and passes its records
    # on to the root's too: every line would be printed twice. Root's handler alone, once.
    # ("django.server", runserver's request lines, keeps its own and does not pass them on.)
    "loggers": {"django": {"handlers": [], "level": LOG_LEVEL}},
}
