"""What a host project gets from installing the app: migrations, catalog, checks."""

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.db.migrations.loader import MigrationLoader
from django.test import override_settings

from source_oauth.dot_settings import OAUTH2_PROVIDER
from source_oauth.models import ApiClient, ImageStyle, Scope


def test_migrations_run_before_dots_so_the_app_can_join_a_project():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    plan = loader.graph.forwards_plan(("oauth2_provider", "0001_initial"))
    assert ("source_oauth", "0001_initial") in plan


@pytest.mark.django_db
def test_migrate_creates_scopes_styles_and_default_client():
    # These rows come from the data migrations (the test database was migrated).
    assert set(Scope.objects.values_list("name", flat=True)) >= {
        "content:read",
        "content:write",
        "user:profile",
    }
    assert set(ImageStyle.objects.values_list("name", flat=True)) >= {
        "thumbnail",
        "medium",
        "large",
    }
    default = ApiClient.objects.get(is_default=True)
    assert default.confidential and default.client_secret == ""


@pytest.mark.django_db
def test_no_missing_migrations():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def ids(messages):
    return {m.id for m in messages}


def test_checks_pass_for_the_example_project():
    assert not {i for i in ids(run_checks()) if i.startswith("source_oauth")}


@override_settings(OAUTH2_PROVIDER_APPLICATION_MODEL="oauth2_provider.Application")
def test_e001_wrong_application_model():
    from source_oauth.checks import check_application_model

    assert ids(check_application_model()) == {"source_oauth.E001"}


def test_e002_missing_installed_apps(settings):
    from source_oauth.checks import check_installed_apps

    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if a != "corsheaders"]
    messages = check_installed_apps()
    assert ids(messages) == {"source_oauth.E002"}
    assert "corsheaders" in messages[0].msg


def test_e003_and_w001_dot_settings(settings):
    from source_oauth.checks import check_dot_settings

    settings.OAUTH2_PROVIDER = {
        **OAUTH2_PROVIDER,
        "OAUTH2_VALIDATOR_CLASS": "oauth2_provider.oauth2_validators.OAuth2Validator",
        "REFRESH_TOKEN_REUSE_PROTECTION": False,
    }
    messages = check_dot_settings()
    assert ids(messages) == {"source_oauth.E003", "source_oauth.W001"}
    assert all(m.hint for m in messages)


def test_manage_py_check_runs_the_checks(settings, capsys):
    settings.OAUTH2_PROVIDER = {**OAUTH2_PROVIDER, "PKCE_REQUIRED": False}
    call_command("check")
    assert "source_oauth.W001" in capsys.readouterr().err


def test_e005_process_cache_needs_a_redis_url(settings):
    from source_oauth.checks import check_process_cache

    settings.SOURCE_OAUTH = {"PROCESS_CACHE_REDIS_URL": "memcached://127.0.0.1:11211"}
    messages = check_process_cache()
    assert ids(messages) == {"source_oauth.E005"}
    assert "memcached://" in messages[0].msg
    settings.SOURCE_OAUTH = {"PROCESS_CACHE_REDIS_URL": "redis://127.0.0.1:6379/0"}
    assert check_process_cache() == []


def test_e005_process_cache_needs_redis_py(settings, monkeypatch):
    import sys

    from source_oauth.checks import check_process_cache

    settings.SOURCE_OAUTH = {"PROCESS_CACHE_REDIS_URL": "redis://127.0.0.1:6379/0"}
    monkeypatch.setitem(sys.modules, "redis", None)  # import redis now raises ImportError
    messages = check_process_cache()
    assert ids(messages) == {"source_oauth.E005"}
    assert "not installed" in messages[0].msg


def test_w002_per_process_cache_is_a_deploy_warning(settings):
    from source_oauth.checks import check_shared_cache

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert ids(check_shared_cache()) == {"source_oauth.W002"}
    assert "source_oauth.W002" not in ids(run_checks())  # only with --deploy
    assert "source_oauth.W002" in ids(run_checks(include_deployment_checks=True))
    settings.SOURCE_OAUTH = {"TOKEN_CACHE_SECONDS": 0, "CLIENT_CACHE_SECONDS": 0}
    assert check_shared_cache() == []
    settings.CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": ""}}
    settings.SOURCE_OAUTH = {}
    assert check_shared_cache() == []
