from django.db import migrations

from source_oauth.catalog import ensure_image_styles


def create_image_styles(apps, schema_editor):
    ensure_image_styles(apps, schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [("source_oauth", "0002_default_scopes_and_client")]

    operations = [migrations.RunPython(create_image_styles, migrations.RunPython.noop)]
