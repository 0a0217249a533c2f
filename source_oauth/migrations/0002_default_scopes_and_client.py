from django.db import migrations

SCOPES = {
    "content:read": "Read the site's content",
    "content:write": "Create, change and delete the site's content",
    "user:profile": "See your user profile (name and email address)",
}


def create_scopes_and_default_client(apps, schema_editor):
    Scope = apps.get_model("source_oauth", "Scope")
    ApiClient = apps.get_model("source_oauth", "ApiClient")
    db = schema_editor.connection.alias
    for name, description in SCOPES.items():
        Scope.objects.using(db).get_or_create(name=name, defaults={"description": description})
    if not ApiClient.objects.using(db).filter(is_default=True).exists():
        # No secret yet: an administrator generates one ("Regenerate secret" in the
        # admin, or manage.py rotate_client_secret) when a server needs to use it.
        client = ApiClient.objects.using(db).create(
            name="Default API client",
            confidential=True,
            third_party=False,
            grant_types="client_credentials",
            is_default=True,
        )
        client.allowed_scopes.set(Scope.objects.using(db).filter(name="content:read"))


def remove_default_client(apps, schema_editor):
    apps.get_model("source_oauth", "ApiClient").objects.filter(is_default=True).delete()


class Migration(migrations.Migration):
    dependencies = [("source_oauth", "0001_initial")]

    operations = [migrations.RunPython(create_scopes_and_default_client, remove_default_client)]
