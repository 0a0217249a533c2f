"""Carrying out an adoption plan: in one transaction, in the order the migrations need.

The steps, all or nothing:

1. source_oauth's ``0001_initial`` creates its tables (through Django's
   migration executor, so the schema is exactly what ``migrate`` makes, and
   the migration is recorded);
2. the host's scopes become ``Scope`` rows; each DOT application becomes an
   ``ApiClient`` with the same primary key, written with the historical model
   of ``0001_initial`` so later migrations find what they expect;
3. DOT's access tokens, refresh tokens, grants and ID tokens get their
   foreign key moved to the API client table (on SQLite the schema editor
   rebuilds those tables);
4. source_oauth's other migrations run: the default client, the image
   styles and whatever comes later, numbered after the adopted clients;
5. the clients' PKCE rule is set, tokens the old host stored in plain text
   keep only their checksums, and the audit trail records each adoption.
"""

from __future__ import annotations

from typing import Any

from django.core.management.color import no_style
from django.db import connections, models, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.state import ProjectState

from .. import audit
from ..models import ApiClient
from . import legacy
from .plan import Plan, make_plan, token_models
from .state import SOURCE_INITIAL

ACTOR = "adopt_oauth_toolkit"
# Any fixed number: two adoptions of one PostgreSQL database take turns.
ADVISORY_LOCK = 0x534F5552_43454F41


def adopt(using: str) -> Plan:
    """Adopt the DOT tables of database ``using``; return the plan carried out.

    The plan is made inside the transaction, after the lock, so what it says
    is what was done; a plan with nothing to do changes nothing.
    """
    connection = connections[using]
    # SQLite's schema editor needs foreign key checks off, which SQLite allows
    # only outside a transaction; they are checked before the end all the same.
    with connection.constraint_checks_disabled(), transaction.atomic(using=using):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK])
        plan = make_plan(using)
        if plan.status == "adopt":
            _carry_out(plan, connection)
            connection.check_constraints()
    return plan


def _carry_out(plan: Plan, connection: Any) -> None:
    executor = MigrationExecutor(connection)
    applied = set(executor.loader.applied_migrations)
    to_apply = {(migration.app_label, migration.name) for migration in plan.migrations}
    full_plan = executor.migration_plan(executor.loader.graph.leaf_nodes(), clean_start=True)
    # The state is built in the graph's order, where source_oauth's first migration
    # comes before DOT's: applying it sees the project as it was at that point.
    state = ProjectState(real_apps=executor.loader.unmigrated_apps)
    for migration, _backwards in full_plan:
        key = (migration.app_label, migration.name)
        if key in applied:
            migration.mutate_state(state, preserve=False)
        elif key in to_apply:
            _flush_deferred_checks(connection)
            state = executor.apply_migration(state, migration)
            if key == SOURCE_INITIAL:
                _copy(plan, state.apps, connection)
                _flush_deferred_checks(connection)
                _repoint_foreign_keys(connection)
    _finish(plan)


def _copy(plan: Plan, apps: Any, connection: Any) -> None:
    """Scopes and clients, written with ``0001_initial``'s historical models."""
    using = plan.using
    Scope = apps.get_model("source_oauth", "Scope")
    Client = apps.get_model("source_oauth", "ApiClient")
    Scope.objects.using(using).bulk_create(
        [Scope(name=name, description=text) for name, text in plan.scopes.items()]
    )
    scopes = list(Scope.objects.using(using).all())
    Client.objects.using(using).bulk_create(
        [Client(pk=c.pk, grant_types=c.grant_types, **c.values) for c in plan.clients]
    )
    for c in plan.clients:
        # update(), not save(): the stored hash is kept as it is and so are the dates,
        # which save() would set to now.
        Client.objects.using(using).filter(pk=c.pk).update(
            client_secret=c.client_secret, created=c.created, updated=c.updated
        )
    Through = Client.allowed_scopes.through
    Through.objects.using(using).bulk_create(
        [Through(apiclient_id=c.pk, scope_id=s.pk) for c in plan.clients for s in scopes]
    )
    # The next client (the default one, created by the next migration) numbers after them.
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [Client, Scope]):
            cursor.execute(sql)


def _repoint_foreign_keys(connection: Any) -> None:
    """Move the ``application`` foreign key of DOT's token tables to the API client table."""
    old_target = legacy.application_table()
    with connection.schema_editor(atomic=True) as editor:
        for model in token_models():
            new_field = model._meta.get_field("application")
            old_field = models.ForeignKey(
                old_target,
                on_delete=new_field.remote_field.on_delete,
                null=new_field.null,
                blank=new_field.blank,
                db_index=new_field.db_index,
            )
            old_field.set_attributes_from_name(new_field.name)
            old_field.model = model
            editor.alter_field(model, old_field, new_field, strict=True)


def _flush_deferred_checks(connection: Any) -> None:
    """Check PostgreSQL's deferred constraints now, as each migration's own commit would.

    An ``ALTER TABLE`` refuses a table with pending deferred trigger events,
    which the rows written just before leave in one transaction.
    """
    if connection.vendor == "postgresql":
        connection.check_constraints()


def _finish(plan: Plan) -> None:
    using = plan.using
    clients = ApiClient.objects.using(using)
    relaxed = [c.pk for c in plan.clients if not c.require_pkce]
    if relaxed:
        clients.filter(pk__in=relaxed).update(require_pkce=False)
    for model in token_models():
        if model._meta.db_table in plan.plain_tokens:
            # Looked up by checksum only, as DOT does once it stores tokens that way.
            model._base_manager.using(using).exclude(token="").update(token="")
    for client in clients.filter(pk__in=[c.pk for c in plan.clients]):
        audit.record(
            audit.Action.CLIENT_CREATED,
            client,
            actor=ACTOR,
            adopted_from="oauth2_provider.Application",
        )
