"""The record of a user's approval of a third-party client's scopes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ConsentRecord(models.Model):
    """A user approved these scopes for this client, at ``approved``, remembered until ``expires``.

    Kept only for clients with "Remember approval" on. A later authorization
    request for the same or fewer scopes, before ``expires``, skips the consent
    page; one for more scopes asks again, and approving it adds them here.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    client = models.ForeignKey(
        "source_oauth.ApiClient",
        verbose_name=_("API client"),
        on_delete=models.CASCADE,
        related_name="consent_records",
    )
    scope = models.TextField(_("scopes"), help_text=_("Space-separated, as approved."))
    created = models.DateTimeField(_("first approved"), auto_now_add=True)
    approved = models.DateTimeField(_("last approved"), default=timezone.now)
    expires = models.DateTimeField(_("remembered until"), db_index=True)

    class Meta:
        ordering = ["-approved", "-id"]
        verbose_name = _("remembered approval")
        verbose_name_plural = _("remembered approvals")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "client"], name="source_oauth_one_consent_per_user_and_client"
            )
        ]

    def __str__(self) -> str:
        return f"{self.client} — {self.scope}"

    @property
    def scopes(self) -> list[str]:
        return self.scope.split()

    def is_live(self) -> bool:
        return self.expires > timezone.now()

    is_live.boolean = True  # type: ignore[attr-defined]
    is_live.short_description = _("remembered")  # type: ignore[attr-defined]
