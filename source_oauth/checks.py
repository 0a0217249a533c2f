"""System checks: a host project's misconfiguration is a ``manage.py check`` message.

Ids are stable: ``source_oauth.E00x`` for errors, ``source_oauth.W00x`` for
warnings.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

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


def cache_is_per_process() -> bool:
    """Whether source_oauth caches tokens or clients in memory no other process can reach."""
    from .conf import conf

    backend = settings.CACHES.get(conf.CACHE_ALIAS, {}).get("BACKEND", "")
    return backend in PER_PROCESS_CACHES and bool(
        conf.TOKEN_CACHE_SECONDS or conf.CLIENT_CACHE_SECONDS
    )


@register(Tags.caches, deploy=True)
def check_shared_cache(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """With a per-process cache, a revoked token stays cached in every other process."""
    from .conf import conf

    if not cache_is_per_process():
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


SECURITY_MIDDLEWARE = "django.middleware.security.SecurityMiddleware"


@register(Tags.security)
def check_login_page_referrer_policy(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """A login page sent with ``Referrer-Policy: no-referrer`` cannot be posted.

    With that policy browsers send ``Origin: null`` with the page's own form,
    and Django's CSRF check refuses it: nobody can sign in on the way to
    ``/oauth/authorize``. Django's SecurityMiddleware gives every page
    ``SECURE_REFERRER_POLICY`` unless the view set its own, as
    ``source_oauth.views.user_facing`` does (``same-origin``).
    """
    from django.shortcuts import resolve_url
    from django.urls import Resolver404, resolve

    policy = getattr(settings, "SECURE_REFERRER_POLICY", None)
    if isinstance(policy, str):
        policy = policy.split(",")
    # Browsers apply the last policy they know.
    if SECURITY_MIDDLEWARE not in settings.MIDDLEWARE or not policy:
        return []
    if policy[-1].strip().lower() != "no-referrer":
        return []
    try:
        login = urlsplit(str(resolve_url(settings.LOGIN_URL)))
        if login.netloc:
            return []  # another site's page
        view = resolve(login.path).func
    except (Resolver404, ValueError):
        return []  # no login page here to look at
    if getattr(view, "source_oauth_user_facing", False):
        return []
    return [
        Warning(
            "SECURE_REFERRER_POLICY is 'no-referrer', so the login page (LOGIN_URL) is sent "
            "with it; browsers then post its form with 'Origin: null', which Django's CSRF "
            "check refuses, and nobody can sign in on the way to /oauth/authorize.",
            hint="Keep Django's default SECURE_REFERRER_POLICY ('same-origin'), or wrap the "
            "login view in source_oauth.views.user_facing, which sends 'same-origin'.",
            id="source_oauth.W003",
        )
    ]


@register(Tags.compatibility)
def check_dot_adoption(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[Error]:
    """A database that migrated stock DOT first must be adopted before ``migrate``.

    Otherwise ``migrate`` fails (InconsistentMigrationHistory: DOT's first
    migration is applied before source_oauth's, its dependency) and every
    OAuth endpoint answers 500. This check reads the migration records, so
    ``manage.py check`` and ``migrate`` say so first. A database that cannot
    be read yet (not created, not reachable) is not this check's business.
    """
    from django.db import DEFAULT_DB_ALIAS, connections

    from .adoption.state import applied_migrations, awaiting_adoption

    messages = []
    for alias in databases or [DEFAULT_DB_ALIAS]:
        try:
            applied = applied_migrations(connections[alias])
        except Exception:  # no database yet, not reachable, or not allowed here
            continue
        if awaiting_adoption(applied):
            messages.append(
                Error(
                    f'Database "{alias}" holds django-oauth-toolkit\'s tables, migrated before '
                    "source_oauth was installed: `migrate` cannot add source_oauth to it, and "
                    "the OAuth endpoints fail until its applications and tokens are adopted.",
                    hint="Run `python manage.py adopt_oauth_toolkit --dry-run` to see what "
                    "adoption does, then `python manage.py adopt_oauth_toolkit`, then "
                    "`migrate` (docs/adoption.md).",
                    id="source_oauth.E006",
                )
            )
    return messages


DOT_URLCONF = "oauth2_provider.urls"


@register(Tags.urls)
def check_dot_urls(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """DOT's own URLconf beside source_oauth's: a namespace clash, and views without our rules."""
    from django.urls import URLResolver, get_resolver

    def includes_dot(patterns: Any) -> bool:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                name = pattern.urlconf_name
                module = name if isinstance(name, str) else getattr(name, "__name__", None)
                if module == DOT_URLCONF or includes_dot(pattern.url_patterns):
                    return True
        return False

    try:
        if not includes_dot(get_resolver().url_patterns):
            return []
    except Exception:  # a broken URLconf is reported by Django's own checks
        return []
    return [
        Warning(
            f'The URLconf includes "{DOT_URLCONF}": its views run without source_oauth\'s '
            "rules (and its application pages break with API clients), and its "
            '"oauth2_provider" namespace clashes with source_oauth.urls.',
            hint='Replace include("oauth2_provider.urls") with include("source_oauth.dot_urls"), '
            "which keeps DOT's paths (authorize/, token/, revoke_token/, introspect/) working "
            'with source_oauth\'s views, and include("source_oauth.urls") once at the root.',
            id="source_oauth.W007",
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
