"""What adopting a stock DOT database would do, read without writing anything.

``make_plan`` refuses (``AdoptionRefused``) a state it was not made for,
rather than guessing; the command prints the plan either way, and ``run``
carries out exactly the plan it is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.migration import Migration
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)
from oauth2_provider.settings import oauth2_settings

from ..models import ApiClient, Scope, scope_token_validator
from . import legacy
from .state import DOT_INITIAL, SOURCE_INITIAL, applied_migrations

APP = "source_oauth"
DOT = "oauth2_provider"
# DOT's models that point at the application, which must stay DOT's own (not swapped).
TOKEN_MODELS = {
    "ACCESS_TOKEN_MODEL": get_access_token_model,
    "REFRESH_TOKEN_MODEL": get_refresh_token_model,
    "GRANT_MODEL": get_grant_model,
    "ID_TOKEN_MODEL": get_id_token_model,
}
BEFORE = "the settings you had before source_oauth (without it in INSTALLED_APPS)"


class AdoptionRefused(Exception):
    """The database or the settings are not in the state adoption was made for."""


@dataclass
class Plan:
    """Everything adoption does to one database, for the report and for ``run``."""

    using: str
    status: str  # "adopt"; or nothing to do: "adopted", "no_dot"
    migrations: list[Migration] = field(default_factory=list)
    scopes: dict[str, str] = field(default_factory=dict)
    clients: list[legacy.AdoptedClient] = field(default_factory=list)
    tokens: dict[str, int] = field(default_factory=dict)  # table -> rows repointed
    plain_tokens: dict[str, int] = field(default_factory=dict)  # table -> plain tokens

    @property
    def warnings(self) -> list[str]:
        return [f"{client.label} {text}" for client in self.clients for text in client.warnings]


def make_plan(using: str) -> Plan:
    """Read the database and the settings; say what adoption would do, or refuse."""
    connection = connections[using]
    _check_settings()
    applied = applied_migrations(connection)
    if SOURCE_INITIAL in applied:
        return Plan(using, "adopted")
    if DOT_INITIAL not in applied:
        return Plan(using, "no_dot")
    executor = MigrationExecutor(connection)
    plan = Plan(using, "adopt", migrations=_migrations_to_apply(executor, applied))
    _check_tables(connection)
    plan.scopes = _scopes()
    pkce_required = oauth2_settings.PKCE_REQUIRED
    plan.clients = [
        legacy.adopt_application(row, pkce_required) for row in legacy.read_applications(using)
    ]
    known = legacy.application_table()._base_manager.using(using).values("pk")
    for model in token_models():
        table = model._meta.db_table
        rows = model._base_manager.using(using)
        orphans = rows.exclude(application_id=None).exclude(application_id__in=known).count()
        if orphans:
            raise AdoptionRefused(
                f"{orphans} row(s) of {table} point at applications that no longer exist (the "
                "database once ran without foreign key checks): delete them, then run this "
                "command again."
            )
        plan.tokens[table] = rows.count()
        if any(f.name == "token" for f in model._meta.concrete_fields):
            plan.plain_tokens[table] = rows.exclude(token="").count()
    return plan


def _check_settings() -> None:
    if get_application_model() is not ApiClient:
        raise AdoptionRefused(
            "The settings do not use source_oauth yet: OAUTH2_PROVIDER_APPLICATION_MODEL must "
            'be "source_oauth.ApiClient". Finish the setup of the README ("Setup in an '
            'existing project") first, then run this command before `migrate`.'
        )
    for name, get_model in TOKEN_MODELS.items():
        model = get_model()
        if model._meta.app_label != DOT:
            raise AdoptionRefused(
                f"OAUTH2_PROVIDER_{name} is {model._meta.label}: this command adopts stock "
                "django-oauth-toolkit tables only, and cannot move a swapped token model."
            )


def _migrations_to_apply(executor: MigrationExecutor, applied: set) -> list[Migration]:
    """source_oauth's migrations in order, once every other one they need is applied."""
    loader = executor.loader
    dot_missing = sorted(
        name for app, name in loader.graph.nodes if app == DOT and (app, name) not in applied
    )
    if dot_missing:
        raise AdoptionRefused(
            f"django-oauth-toolkit's migrations {', '.join(dot_missing)} are not applied. Apply "
            f"them with {BEFORE}: `manage.py migrate {DOT}`; then switch the settings and run "
            "this command again."
        )
    targets = [key for key in loader.graph.leaf_nodes() if key[0] == APP]
    needed = [migration for migration, _ in executor.migration_plan(targets)]
    others = sorted(str(m) for m in needed if m.app_label != APP)
    if others:
        raise AdoptionRefused(
            f"source_oauth's migrations need {', '.join(others)}, not applied yet. Apply them "
            f"with {BEFORE}, then run this command again."
        )
    return needed


def _check_tables(connection: Any) -> None:
    tables = set(connection.introspection.table_names())
    if legacy.TABLE not in tables:
        raise AdoptionRefused(
            f"DOT's migrations are recorded but its table {legacy.TABLE} is missing: this "
            "database did not use DOT's stock Application model, which is all this command "
            "adopts."
        )
    ours = sorted(
        model._meta.db_table
        for model in connection.introspection.installed_models(tables)
        if model._meta.app_label == APP and not model._meta.proxy
    )
    if ours:
        raise AdoptionRefused(
            f"source_oauth's tables {', '.join(ours)} already exist, but its migrations are "
            "not recorded: something other than `migrate` or this command made them. Drop "
            "them (they hold nothing adoption would keep) or restore the database from "
            "before, then run this command again."
        )


def _scopes() -> dict[str, str]:
    """The scopes of the host's DOT settings (DOT's default read/write when it set none)."""
    configured = oauth2_settings.SCOPES
    if not isinstance(configured, dict):
        raise AdoptionRefused('OAUTH2_PROVIDER["SCOPES"] must be a dict of name: description.')
    name_length = Scope._meta.get_field("name").max_length
    description_length = Scope._meta.get_field("description").max_length
    scopes = {}
    for name, description in configured.items():
        try:
            scope_token_validator(name)
        except ValidationError:
            raise AdoptionRefused(
                f'OAUTH2_PROVIDER["SCOPES"] has the scope {name!r}, which is not a scope name '
                "(RFC 6749 §3.3: printable ASCII without spaces, quotes or backslashes)."
            ) from None
        if len(name) > name_length:
            raise AdoptionRefused(f"The scope name {name!r} is longer than {name_length}.")
        scopes[name] = str(description or name)[:description_length]
    return scopes


def token_models() -> list[Any]:
    """DOT's models that point at the application: access and refresh tokens, grants, ID tokens."""
    return [get_model() for get_model in TOKEN_MODELS.values()]
