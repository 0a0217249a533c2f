from django.db import migrations

STYLES = [
    # name, label, width, height, operation
    ("thumbnail", "Thumbnail (100×100, cropped)", 100, 100, "scale_and_crop"),
    ("medium", "Medium (640 wide)", 640, None, "scale"),
    ("large", "Large (1280 wide)", 1280, None, "scale"),
]


def create_image_styles(apps, schema_editor):
    ImageStyle = apps.get_model("source_oauth", "ImageStyle")
    ApiClient = apps.get_model("source_oauth", "ApiClient")
    db = schema_editor.connection.alias
    styles = []
    for name, label, width, height, operation in STYLES:
        style, _ = ImageStyle.objects.using(db).get_or_create(
            name=name,
            defaults={"label": label, "width": width, "height": height, "operation": operation},
        )
        styles.append(style)
    for client in ApiClient.objects.using(db).filter(is_default=True):
        client.image_styles.add(*styles)


class Migration(migrations.Migration):
    dependencies = [("source_oauth", "0002_default_scopes_and_client")]

    operations = [migrations.RunPython(create_image_styles, migrations.RunPython.noop)]
