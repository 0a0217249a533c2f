from django.apps import AppConfig, apps
from django.contrib.auth.signals import user_logged_in
from django.utils.translation import gettext_lazy as _


class SourceOAuthConfig(AppConfig):
    name = "source_oauth"
    verbose_name = _("API")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import audit, checks, narrowing, redaction, revocations  # noqa: F401
        from .cache import clients, tokens

        redaction.install()
        tokens.connect()
        clients.connect()
        from . import cors, permissions  # noqa: F401  (their signal receivers)
        from .oidc import checks as oidc_checks  # noqa: F401  (registers its checks)
        from .oidc.authorize import remember_auth_time

        user_logged_in.connect(remember_auth_time, dispatch_uid="source_oauth_auth_time")

        if apps.is_installed("django.contrib.admin"):
            from .admin import withdraw_dot_token_admins

            withdraw_dot_token_admins()
