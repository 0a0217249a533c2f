"""System checks: a host project's misconfiguration is a ``manage.py check`` message.

Ids are stable: ``source_oauth.E00x`` for errors, ``source_oauth.W00x`` for
warnings.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.utils.module_loading import import_string

from .dot_settings import RECOMMENDED, REQUIRED

APPLICATION_MODEL = "source_oauth.ApiClient"


def _configured(name: str) -> Any:
    from oauth2_provider.settings import oauth2_settings

    return getattr(oauth2_settings, name)


@register(Tags.compatibility)
def check_application_model(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    if getattr(settings, "OAUTH2_PROVIDER_APPLICATION_MODEL", None) != APPLICATION_MODEL:
        return [
            Error(
                "django-oauth-toolkit does not use source_oauth's API client model.",
                hint=f'Set OAUTH2_PROVIDER_APPLICATION_MODEL = "{APPLICATION_MODEL}" in settings.',
                id="source_oauth.E001",
            )
        ]
    return []


@register(Tags.compatibility)
def check_installed_apps(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    required = ["oauth2_provider", "rest_framework", "corsheaders"]
    missing = [app for app in required if app not in settings.INSTALLED_APPS]
    if missing:
        return [
            Error(
                f"source_oauth needs {', '.join(missing)} in INSTALLED_APPS.",
                hint='INSTALLED_APPS += ["corsheaders", "rest_framework", "oauth2_provider", '
                '"source_oauth"]',
                id="source_oauth.E002",
            )
        ]
    return []


@register(Tags.security)
def check_dot_settings(app_configs: Any = None, **kwargs: Any) -> list[Error | Warning]:
    messages: list[Error | Warning] = []
    for name, expected in REQUIRED.items():
        configured = _configured(name)
        expected_class = import_string(expected)
        if not (isinstance(configured, type) and issubclass(configured, expected_class)):
            messages.append(
                Error(
                    f'OAUTH2_PROVIDER["{name}"] must be {expected} or a subclass of it.',
                    hint="Start from source_oauth.dot_settings.OAUTH2_PROVIDER in your settings.",
                    id="source_oauth.E003",
                )
            )
    for name, expected in RECOMMENDED.items():
        if _configured(name) != expected:
            messages.append(
                Warning(
                    f'OAUTH2_PROVIDER["{name}"] is {_configured(name)!r}; source_oauth\'s secure '
                    f"default is {expected!r}.",
                    hint="Keep the value of source_oauth.dot_settings.OAUTH2_PROVIDER unless "
                    "you know why.",
                    id="source_oauth.W001",
                )
            )
    return messages


CORS_MIDDLEWARE = "corsheaders.middleware.CorsMiddleware"


@register(Tags.compatibility)
def check_cors_middleware(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Browser apps of API clients need CORS, which only corsheaders' middleware answers."""
    if CORS_MIDDLEWARE in settings.MIDDLEWARE:
        return []
    try:
        cors_middleware = import_string(CORS_MIDDLEWARE)
        # A project may list a subclass of it under its own name.
        middlewares = [import_string(path) for path in settings.MIDDLEWARE]
    except ImportError:
        middlewares = []  # corsheaders itself missing is E002; a broken path, Django's error
    if any(isinstance(m, type) and issubclass(m, cors_middleware) for m in middlewares):
        return []
    return [
        Error(
            f"{CORS_MIDDLEWARE} is not in MIDDLEWARE: browser apps of API clients cannot "
            "call the token endpoint or the API from their origins.",
            hint=f'Add "{CORS_MIDDLEWARE}" to MIDDLEWARE, before CommonMiddleware.',
            id="source_oauth.E004",
        )
    ]


@register(Tags.caches)
def check_process_cache(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Each process's own copy needs redis-py, to hear what other servers forget."""
    from .conf import conf

    url = conf.PROCESS_CACHE_REDIS_URL
    if not url:
        return []
    try:
        import redis  # noqa: F401
    except ImportError:
        return [
            Error(
                'SOURCE_OAUTH["PROCESS_CACHE_REDIS_URL"] is set but the redis package is '
                "not installed.",
                hint="pip install redis (or django-redis), or remove the setting.",
                id="source_oauth.E005",
            )
        ]
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return [
            Error(
                f'SOURCE_OAUTH["PROCESS_CACHE_REDIS_URL"] is not a Redis URL: {url!r}.',
                hint="Use redis://host:port/db, rediss://… or unix://path, usually the "
                "location of your Redis cache.",
                id="source_oauth.E005",
            )
        ]
    return []


PER_PROCESS_CACHES = ("django.core.cache.backends.locmem.LocMemCache",)


@register(Tags.caches, deploy=True)
def check_shared_cache(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """With a per-process cache, a revoked token stays cached in every other process."""
    from .conf import conf

    backend = settings.CACHES.get(conf.CACHE_ALIAS, {}).get("BACKEND", "")
    if backend not in PER_PROCESS_CACHES:
        return []
    if not (conf.TOKEN_CACHE_SECONDS or conf.CLIENT_CACHE_SECONDS):
        return []
    return [
        Warning(
            f'The "{conf.CACHE_ALIAS}" cache is local to each process: a token revoked or '
            "a client changed in one process is still honoured by the others until their "
            'cache entries expire (SOURCE_OAUTH["TOKEN_CACHE_SECONDS"], '
            '["CLIENT_CACHE_SECONDS"]).',
            hint="In production use a cache every server shares, such as Redis, as "
            'SOURCE_OAUTH["CACHE_ALIAS"]; or set both to 0.',
            id="source_oauth.W002",
        )
    ]


@register(Tags.compatibility)
def check_connection_health(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """A persistent connection that died with its server fails the first request to reuse it."""
    messages = []
    for alias, database in settings.DATABASES.items():
        persistent = database.get("CONN_MAX_AGE", 0) != 0  # None: forever
        if persistent and not database.get("CONN_HEALTH_CHECKS", False):
            messages.append(
                Warning(
                    f'DATABASES["{alias}"] keeps connections open (CONN_MAX_AGE) without '
                    "CONN_HEALTH_CHECKS: after the database restarts, the first request on each "
                    "worker fails on its dead connection.",
                    hint=f'Set DATABASES["{alias}"]["CONN_HEALTH_CHECKS"] = True (with '
                    "dj-database-url: conn_health_checks=True).",
                    id="source_oauth.W005",
                )
            )
    return messages


DJANGO_REDIS = "django_redis.cache.RedisCache"
REDIS_CACHES = {
    # backend: its OPTIONS names for the connect and the read timeouts
    "django.core.cache.backends.redis.RedisCache": ("socket_connect_timeout", "socket_timeout"),
    DJANGO_REDIS: ("SOCKET_CONNECT_TIMEOUT", "SOCKET_TIMEOUT"),
}


@register(Tags.caches)
def check_redis_cache_outage(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """A Redis cache must fail fast, and visibly, for source_oauth to serve without it."""
    from .conf import conf

    cache = settings.CACHES.get(conf.CACHE_ALIAS, {})
    names = REDIS_CACHES.get(cache.get("BACKEND", ""))
    if names is None:
        return []
    options = cache.get("OPTIONS", {})
    locations = cache.get("LOCATION", "")
    if isinstance(locations, str):
        locations = locations.split(",")
    # redis-py also reads them from the URL: redis://host/0?socket_timeout=0.5&...
    in_urls = all(f"{name.lower()}=" in location for location in locations for name in names)
    messages = []
    if not (in_urls or all(options.get(name) for name in names)):
        messages.append(
            Warning(
                f'The "{conf.CACHE_ALIAS}" cache is Redis without a connect and a socket '
                "timeout: when Redis stops answering, requests wait for it instead of being "
                "served from the database.",
                hint=f'Set CACHES["{conf.CACHE_ALIAS}"]["OPTIONS"] = {{"{names[0]}": 0.5, '
                f'"{names[1]}": 0.5}} (seconds).',
                id="source_oauth.W006",
            )
        )
    ignore = options.get(
        "IGNORE_EXCEPTIONS", getattr(settings, "DJANGO_REDIS_IGNORE_EXCEPTIONS", False)
    )
    if cache["BACKEND"] == DJANGO_REDIS and ignore:
        messages.append(
            Warning(
                f'The "{conf.CACHE_ALIAS}" cache ignores Redis errors (django-redis '
                "IGNORE_EXCEPTIONS): source_oauth cannot tell that a revocation failed to "
                "reach Redis, and the revoked token's entry may be served once Redis is back.",
                hint="Remove IGNORE_EXCEPTIONS: source_oauth serves from the database by itself "
                "when Redis fails.",
                id="source_oauth.W006",
            )
        )
    return messages
