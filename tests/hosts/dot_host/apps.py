from django.apps import AppConfig


class DotHostConfig(AppConfig):
    name = "tests.hosts.dot_host"
    label = "dot_host"
    default_auto_field = "django.db.models.BigAutoField"
