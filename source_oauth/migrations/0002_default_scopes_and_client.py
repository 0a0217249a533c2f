from django.db import migrations

from source_oauth.catalog import ensure_default_client, ensure_scopes


def create_scopes_and_default_client(apps, schema_editor):
    using = schema_editor.connection.alias
    ensure_scopes(apps, using)
    ensure_default_client(apps, using)


class Migration(migrations.Migration):
    dependencies = [("source_oauth", "0001_initial")]

    operations = [migrations.RunPython(create_scopes_and_default_client, migrations.RunPython.noop)]
