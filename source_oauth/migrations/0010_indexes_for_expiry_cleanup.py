"""Indexes that let ``clear_expired_oauth`` find expired rows without reading whole tables.

DOT's token tables have no index on ``expires`` (nor on a refresh token's
``revoked``): each batch of the cleanup would scan millions of rows. These
tables are DOT's, so the indexes are made by SQL rather than by ``AddIndex``
on a model of ours. On PostgreSQL they are built ``CONCURRENTLY`` (the
migration is not atomic), so a live site keeps issuing and checking tokens
while a large table is indexed; inside a transaction (``adopt_oauth_toolkit``
runs every migration in one) a plain ``CREATE INDEX`` is the only choice.
"""

from django.db import migrations
from oauth2_provider.settings import oauth2_settings

# (DOT model setting, field, index name)
INDEXES = [
    ("ACCESS_TOKEN_MODEL", "expires", "source_oauth_accesstoken_expires"),
    ("REFRESH_TOKEN_MODEL", "revoked", "source_oauth_refreshtoken_revoked"),
    ("GRANT_MODEL", "expires", "source_oauth_grant_expires"),
    ("ID_TOKEN_MODEL", "expires", "source_oauth_idtoken_expires"),
]


def _concurrently(schema_editor):
    connection = schema_editor.connection
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def create_indexes(apps, schema_editor):
    concurrently = "CONCURRENTLY " if _concurrently(schema_editor) else ""
    quote = schema_editor.quote_name
    for setting, field_name, index in INDEXES:
        model = apps.get_model(getattr(oauth2_settings, setting))
        column = model._meta.get_field(field_name).column
        schema_editor.execute(
            f"CREATE INDEX {concurrently}IF NOT EXISTS {quote(index)} "
            f"ON {quote(model._meta.db_table)} ({quote(column)})"
        )


def drop_indexes(apps, schema_editor):
    concurrently = "CONCURRENTLY " if _concurrently(schema_editor) else ""
    for _setting, _field, index in INDEXES:
        schema_editor.execute(
            f"DROP INDEX {concurrently}IF EXISTS {schema_editor.quote_name(index)}"
        )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("source_oauth", "0009_openid_connect_scopes"),
        ("oauth2_provider", "__latest__"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes, elidable=False)]
