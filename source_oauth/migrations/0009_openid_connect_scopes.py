from django.db import migrations

from source_oauth.catalog import ensure_oidc_scopes


def create_openid_connect_scopes(apps, schema_editor):
    ensure_oidc_scopes(apps, schema_editor.connection.alias)


def sign_with_rs256(apps, schema_editor):
    # Clients created before OpenID Connect have DOT's "no algorithm"; RS256 is the default.
    ApiClient = apps.get_model("source_oauth", "ApiClient")
    ApiClient.objects.using(schema_editor.connection.alias).exclude(
        algorithm__in=["RS256", "ES256"]
    ).update(algorithm="RS256")


class Migration(migrations.Migration):
    dependencies = [("source_oauth", "0008_signing_keys_consent_records_and_client_lifetimes")]

    operations = [
        migrations.RunPython(create_openid_connect_scopes, migrations.RunPython.noop),
        migrations.RunPython(sign_with_rs256, migrations.RunPython.noop),
    ]
