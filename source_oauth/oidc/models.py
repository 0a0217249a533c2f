"""The signing key of ID tokens, when it lives in the database (``keys`` manages it)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SigningAlgorithm(models.TextChoices):
    """The JWS algorithms ID tokens are signed with (RFC 7518 §3.1)."""

    RS256 = "RS256", _("RS256 (RSA, 2048 bits)")
    ES256 = "ES256", _("ES256 (ECDSA, P-256)")


class SigningKey(models.Model):
    """A key pair that signs ID tokens; its public half is published in the JWKS.

    One key per algorithm is active (``retired`` is empty). A rotated-out key
    stops signing but stays published until ``published_until``, when every
    ID token it signed has expired. The private key is stored encrypted with
    a key derived from ``SECRET_KEY`` (see ``keys``), never in plain text.
    """

    kid = models.CharField(_("key ID"), max_length=64, unique=True, editable=False)
    algorithm = models.CharField(
        _("algorithm"), max_length=5, choices=SigningAlgorithm.choices, editable=False
    )
    private_key = models.TextField(_("private key (encrypted)"), editable=False)
    public_jwk = models.JSONField(_("public key (JWK)"), editable=False)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    retired = models.DateTimeField(_("retired"), null=True, blank=True, editable=False)
    published_until = models.DateTimeField(
        _("published until"), null=True, blank=True, editable=False
    )

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = _("signing key")
        verbose_name_plural = _("signing keys")

    def __str__(self) -> str:
        return f"{self.algorithm} {self.kid}"
