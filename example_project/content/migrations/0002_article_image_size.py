from django.core.files.images import get_image_dimensions
from django.db import migrations, models


def record_image_sizes(apps, schema_editor):
    """Fill in the size of existing images; one that cannot be read keeps no size.

    Works on values, not model instances: instantiating an article whose size
    is unknown would make Django open its file, and a missing file would raise.
    """
    Article = apps.get_model("content", "Article")
    storage = Article._meta.get_field("image").storage
    articles = Article.objects.using(schema_editor.connection.alias)
    for pk, name in articles.exclude(image="").values_list("pk", "image"):
        try:
            with storage.open(name, "rb") as file:
                width, height = get_image_dimensions(file)
        except (OSError, ValueError):
            continue
        if width and height:
            articles.filter(pk=pk).update(image_width=width, image_height=height)


class Migration(migrations.Migration):
    dependencies = [
        ("content", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="article",
            name="image_height",
            field=models.PositiveIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="article",
            name="image_width",
            field=models.PositiveIntegerField(blank=True, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name="article",
            name="image",
            field=models.ImageField(
                blank=True,
                height_field="image_height",
                upload_to="articles/",
                width_field="image_width",
            ),
        ),
        migrations.RunPython(record_image_sizes, migrations.RunPython.noop),
    ]
