from django.apps import AppConfig


class ContentConfig(AppConfig):
    name = "example_project.content"
    label = "content"
    verbose_name = "Content"
    default_auto_field = "django.db.models.BigAutoField"
