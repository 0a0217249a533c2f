"""The API client and what it is allowed to see: scopes and image styles."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models, transaction
from django.db.models.deletion import ProtectedError
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from oauth2_provider import models as dot_models
from oauth2_provider.models import AbstractApplication

from . import lifetimes
from .conf import conf
from .fields import HashedSecretField, MultipleChoiceTextField
from .oidc.models import SigningAlgorithm
from .secrets import check_secret, generate_secret, hash_secret, needs_upgrade

# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
scope_token_validator = RegexValidator(
    r"^[\x21\x23-\x5b\x5d-\x7e]+\Z",
    _(
        "A scope name is printable ASCII without spaces, double quotes or "
        "backslashes (RFC 6749 §3.3)."
    ),
    code="invalid_scope_name",
)


class Scope(models.Model):
    """A capability of the API that a client may be allowed, e.g. ``content:read``."""

    name = models.CharField(
        _("name"), max_length=100, unique=True, validators=[scope_token_validator]
    )
    description = models.CharField(
        _("description"),
        max_length=255,
        help_text=_("Shown to users on the consent screen, e.g. “Read published content”."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("scope")
        verbose_name_plural = _("scopes")

    def __str__(self) -> str:
        return self.name


class ImageStyle(models.Model):
    """A named recipe for an image derivative (thumbnail, medium, large...)."""

    class Operation(models.TextChoices):
        SCALE = "scale", _("Scale")
        CROP = "crop", _("Crop")
        SCALE_AND_CROP = "scale_and_crop", _("Scale and crop")

    class Format(models.TextChoices):
        ORIGINAL = "", _("Same as the original")
        JPEG = "jpeg", "JPEG"
        PNG = "png", "PNG"
        WEBP = "webp", "WebP"

    name = models.SlugField(_("machine name"), max_length=64, unique=True)
    label = models.CharField(_("label"), max_length=100)
    width = models.PositiveIntegerField(_("width"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height"), null=True, blank=True)
    operation = models.CharField(
        _("operation"), max_length=20, choices=Operation.choices, default=Operation.SCALE
    )
    format = models.CharField(
        _("output format"), max_length=8, choices=Format.choices, default="", blank=True
    )
    quality = models.PositiveSmallIntegerField(
        _("quality"), default=85, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("image style")
        verbose_name_plural = _("image styles")

    def __str__(self) -> str:
        return self.label or self.name

    def clean(self) -> None:
        """Refuse a recipe that cannot be rendered, as form errors on its fields.

        Scaling needs a width or a height; cropping needs both; an exact box
        must stay within ``IMAGE_MAX_PIXELS``. The renderer asks the same rule.
        """
        from django.core.exceptions import ValidationError

        from .images.geometry import style_problems

        problems = style_problems(self.width, self.height, self.operation, conf.IMAGE_MAX_PIXELS)
        if problems:
            raise ValidationError(problems)


DEFAULT_CLIENT_PROTECTED = _(
    "The default API client cannot be deleted: it stands for requests that carry no token."
)


class ApiClientQuerySet(models.QuerySet):
    """API clients; a delete that would take the default client with it is refused."""

    def delete(self) -> tuple[int, dict[str, int]]:
        default = self.filter(is_default=True).first()
        if default is not None:
            raise ProtectedError(str(DEFAULT_CLIENT_PROTECTED), {default})
        return super().delete()

    delete.alters_data = True
    delete.queryset_only = True

    def get_by_natural_key(self, client_id: str) -> ApiClient:
        return self.get(client_id=client_id)


class ApiClient(AbstractApplication):
    """An application that talks to the CMS API: DOT's Application, with the seed's settings.

    DOT's single ``authorization_grant_type``/``client_type``/``skip_authorization``
    columns are replaced by properties derived from ``grant_types``,
    ``confidential`` and ``third_party``, so there is one source of truth.
    """

    class GrantType(models.TextChoices):
        AUTHORIZATION_CODE = "authorization_code", _("Authorization code")
        CLIENT_CREDENTIALS = "client_credentials", _("Client credentials")
        REFRESH_TOKEN = "refresh_token", _("Refresh token")

    # DOT's names for the grants it asks ``allows_grant_type`` about.
    _DOT_GRANTS = {
        AbstractApplication.GRANT_AUTHORIZATION_CODE: GrantType.AUTHORIZATION_CODE,
        AbstractApplication.GRANT_CLIENT_CREDENTIALS: GrantType.CLIENT_CREDENTIALS,
    }

    client_secret = HashedSecretField(
        _("client secret"),
        max_length=255,
        blank=True,
        default="",
        editable=False,
        help_text=_("Stored as a hash. The plain secret is shown once, when it is generated."),
    )
    previous_client_secret = HashedSecretField(
        _("previous client secret"), max_length=255, blank=True, default="", editable=False
    )
    previous_secret_expires = models.DateTimeField(
        _("previous secret valid until"), null=True, blank=True, editable=False
    )
    confidential = models.BooleanField(
        _("confidential client"),
        default=True,
        help_text=_(
            "Whether the client can securely store a secret (a server). Public clients "
            "(mobile and browser apps) get no secret and must use PKCE."
        ),
    )
    third_party = models.BooleanField(
        _("3rd party"),
        default=False,
        help_text=_(
            "Whether the client is developed by a third party. Users must approve the "
            "scopes a third-party client asks for; first-party clients skip that screen."
        ),
    )
    grant_types = MultipleChoiceTextField(
        _("grant types"),
        max_length=64,
        choices=GrantType.choices,
        default=list,
        blank=True,
        help_text=_("How the client may obtain tokens. Several may be enabled."),
    )
    allowed_scopes = models.ManyToManyField(
        Scope,
        verbose_name=_("allowed scopes"),
        blank=True,
        related_name="api_clients",
        help_text=_("Which API capabilities the client can access."),
    )
    image_styles = models.ManyToManyField(
        ImageStyle,
        verbose_name=_("image styles"),
        blank=True,
        related_name="api_clients",
        help_text=_("Which image derivatives the client may see."),
    )
    require_pkce = models.BooleanField(
        _("require PKCE"),
        default=True,
        help_text=_(
            "Whether the authorization code flow must use PKCE (S256). Always on for public "
            "clients. Turning it off lets a confidential client use the plain flow, with its "
            "secret alone, as the product's documented example does; it then loses PKCE's "
            "protection against authorization code injection (a code stolen from one user "
            "replayed into the client in another user's session) and relies on its own "
            "state checking against cross-site request forgery (RFC 9700 §2.1.1)."
        ),
    )
    remember_approval = models.BooleanField(
        _("remember approval"),
        default=False,
        help_text=_(
            "For a third-party client: remember a user's approval, so a later request for the "
            "same or fewer scopes skips the consent screen (more scopes ask again). Users see "
            "and revoke what they approved under “Connected apps”."
        ),
    )
    access_token_lifetime = models.PositiveIntegerField(
        _("access token lifetime"),
        null=True,
        blank=True,
        validators=[
            MinValueValidator(lifetimes.ACCESS_TOKEN_MIN),
            MaxValueValidator(lifetimes.ACCESS_TOKEN_MAX),
        ],
        help_text=_("In seconds, 60 to 86400 (a day). Empty: the site default."),
    )
    refresh_token_lifetime = models.PositiveIntegerField(
        _("refresh token lifetime"),
        null=True,
        blank=True,
        validators=[
            MinValueValidator(lifetimes.REFRESH_TOKEN_MIN),
            MaxValueValidator(lifetimes.REFRESH_TOKEN_MAX),
        ],
        help_text=_(
            "In seconds: a refresh token dies after this long without use, at most the site "
            "default. Empty: the site default."
        ),
    )
    # DOT's field, with the algorithms source_oauth signs ID tokens with (never HS256:
    # client secrets are stored hashed, so none could be an HMAC key).
    algorithm = models.CharField(
        _("ID token signing algorithm"),
        max_length=5,
        choices=SigningAlgorithm.choices,
        default=SigningAlgorithm.RS256,
        help_text=_("How ID tokens for this client are signed (OpenID Connect)."),
    )
    is_default = models.BooleanField(
        _("default API client"),
        default=False,
        editable=False,
        help_text=_("Stands for requests that carry no token. Cannot be deleted."),
    )

    objects = ApiClientQuerySet.as_manager()

    # DOT hashes ``client_secret`` itself unless this is False; ours is hashed by its field.
    hash_client_secret = False

    class Meta(AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"
        verbose_name = _("API client")
        verbose_name_plural = _("API clients")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="source_oauth_one_default_client",
            )
        ]

    # --- DOT's columns, derived -------------------------------------------------

    @property
    def client_type(self) -> str:
        return self.CLIENT_CONFIDENTIAL if self.confidential else self.CLIENT_PUBLIC

    @property
    def skip_authorization(self) -> bool:
        return not self.third_party

    @property
    def authorization_grant_type(self) -> str:
        # DOT's clean() asks this to decide whether redirect URIs are required.
        if self.GrantType.AUTHORIZATION_CODE in self.grant_types:
            return self.GRANT_AUTHORIZATION_CODE
        return self.GRANT_CLIENT_CREDENTIALS if self.grant_types else ""

    @cached_property
    def allowed_scope_names(self) -> list[str]:
        """The names of the allowed scopes, sorted; loaded once per instance.

        Kept on the instance so a cached client (``cache.clients``) answers
        scope questions without a query.
        """
        return sorted(self.allowed_scopes.values_list("name", flat=True))

    @property
    def pkce_required(self) -> bool:
        """PKCE is required of public clients always, of confidential ones unless turned off."""
        return self.require_pkce or not self.confidential

    def allows_grant_type(self, *grant_types: str) -> bool:
        """Answer DOT, which names grants its own way (``authorization-code``)."""
        enabled = set(self.grant_types)
        return any(self._DOT_GRANTS.get(g, g) in enabled for g in grant_types)

    # --- secrets ----------------------------------------------------------------

    @property
    def has_secret(self) -> bool:
        return bool(self.client_secret)

    def set_new_secret(self, overlap: timedelta | None = None) -> str:
        """Generate a secret, keep the current one valid for ``overlap``, return the plain value.

        The caller saves the client and shows the returned value once; only its
        hash is ever stored.
        """
        if overlap is None:
            overlap = timedelta(seconds=conf.SECRET_ROTATION_OVERLAP_SECONDS)
        if self.client_secret and overlap > timedelta(0):
            self.previous_client_secret = self.client_secret
            self.previous_secret_expires = timezone.now() + overlap
        else:
            self.previous_client_secret = ""
            self.previous_secret_expires = None
        secret = generate_secret()
        self.client_secret = secret
        return secret

    def check_client_secret(self, secret: str) -> bool:
        """Tell whether ``secret`` is the current secret, or the previous one still in overlap.

        A secret that matched a legacy hash adopted from DOT is stored with
        source_oauth's hash from then on (see ``secrets``).
        """
        current = check_secret(secret, self.client_secret)
        previous = (
            not current
            and self.previous_secret_expires is not None
            and self.previous_secret_expires > timezone.now()
            and check_secret(secret, self.previous_client_secret)
        )
        if current and needs_upgrade(self.client_secret):
            self._upgrade_secret("client_secret", secret)
        elif previous and needs_upgrade(self.previous_client_secret):
            self._upgrade_secret("previous_client_secret", secret)
        return current or previous

    def _upgrade_secret(self, field: str, secret: str) -> None:
        """Replace the legacy hash in ``field``, which ``secret`` just matched, with ours.

        The conditional UPDATE writes only if the row still holds that hash (a
        secret rotated meanwhile is never overwritten) and locks the row; the
        ``save()`` that follows lets the caches holding this client forget it.
        """
        stored, hashed = getattr(self, field), hash_secret(secret)
        with transaction.atomic(using=self._state.db):
            if (
                not ApiClient._base_manager.using(self._state.db)
                .filter(pk=self.pk, **{field: stored})
                .update(**{field: hashed})
            ):
                return
            setattr(self, field, hashed)
            self.save(update_fields=[field])

    # --- the default client ------------------------------------------------------

    def natural_key(self) -> tuple[str]:
        return (self.client_id,)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        """Refuse to delete the default client, whatever path asks (admin, shell, code)."""
        if self.is_default:
            raise ProtectedError(str(DEFAULT_CLIENT_PROTECTED), {self})
        return super().delete(*args, **kwargs)

    # --- validation -------------------------------------------------------------

    def clean(self) -> None:
        # Not DOT's clean(): it knows one grant type per client and lets plain http
        # through for any host. Ours states every rule of an API client.
        from .validation import validate_api_client

        if not self.confidential:
            self.require_pkce = True  # a public client has nothing else to prove itself with
        validate_api_client(self)

    def redirect_uri_allowed(self, uri: str) -> bool:
        """Exact match against a registered URI; only a loopback URI's port may differ."""
        from .validation import redirect_uri_matches

        return any(
            redirect_uri_matches(registered, uri) for registered in self.redirect_uris.split()
        )

    def get_allowed_schemes(self) -> list[str]:
        """Schemes DOT may redirect to: those of the validated (post-logout) redirect URIs."""
        uris = f"{self.redirect_uris} {self.post_logout_redirect_uris}".split()
        return sorted({uri.split(":", 1)[0].lower() for uri in uris})

    def post_logout_redirect_uri_allowed(self, uri: str) -> bool:
        """Exact string match against a registered post-logout redirect URI (RP logout)."""
        return uri in self.post_logout_redirect_uris.split()

    @property
    def jwk_key(self) -> Any:
        """The private key that signs this client's ID tokens (DOT asks for it by this name)."""
        from .oidc.keys import signing_key

        return signing_key(self.algorithm or SigningAlgorithm.RS256).jwk


class RedeemedCode(models.Model):
    """An authorization code that has been exchanged, kept to detect its replay.

    RFC 6749 §4.1.2: if a code is used more than once the server SHOULD revoke
    the tokens issued from it. DOT deletes a code once used, so nothing would
    remember which tokens it produced; this row does, by checksum only.
    """

    code_checksum = models.CharField(max_length=64, unique=True)
    application = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="+")
    access_token_checksum = models.CharField(max_length=64)
    refresh_token_checksum = models.CharField(max_length=64, blank=True)
    expires = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("redeemed authorization code")


class AuditEvent(models.Model):
    """Who did what to an API client or token, and when. Never holds a secret."""

    class Action(models.TextChoices):
        CLIENT_CREATED = "client_created", _("Client created")
        CLIENT_CHANGED = "client_changed", _("Client changed")
        CLIENT_DELETED = "client_deleted", _("Client deleted")
        SECRET_ROTATED = "secret_rotated", _("Secret rotated")
        TOKEN_REVOKED = "token_revoked", _("Token revoked")
        CODE_REPLAYED = "code_replayed", _("Authorization code replayed")
        REFRESH_TOKEN_REPLAYED = "refresh_token_replayed", _("Refresh token replayed")
        CLIENT_AUTH_THROTTLED = "client_auth_throttled", _("Client authentication throttled")

    created = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    action = models.CharField(_("what"), max_length=32, choices=Action.choices)
    actor = models.CharField(
        _("who"), max_length=255, help_text=_("A user, an API client, or the command line.")
    )
    client = models.ForeignKey(
        ApiClient,
        verbose_name=_("API client"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    client_name = models.CharField(_("API client name"), max_length=255, blank=True)
    client_identifier = models.CharField(_("client ID"), max_length=255, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.actor}"


class AccessToken(dot_models.AccessToken):
    """DOT's access token, listed in the admin's "API" section."""

    class Meta:
        proxy = True
        verbose_name = _("access token")
        verbose_name_plural = _("access tokens")


class RefreshToken(dot_models.RefreshToken):
    """DOT's refresh token, listed in the admin's "API" section."""

    class Meta:
        proxy = True
        verbose_name = _("refresh token")
        verbose_name_plural = _("refresh tokens")


class RevokedAccessToken(models.Model):
    """An access token revoked before it expired, kept so that it can still be found.

    DOT revokes an access token by deleting its row (``AccessToken.revoke()``),
    whoever asks: an administrator, its client at ``/oauth/revoke``, a replay,
    a refresh that replaces it. This row remembers it, by checksum only, for as
    long as DOT keeps a revoked refresh token (``REFRESH_TOKEN_EXPIRE_SECONDS``).
    Recorded by ``revocations``; listed by the admin as access tokens "Revoked".
    """

    token_checksum = models.CharField(_("token checksum"), max_length=64, db_index=True)
    application = models.ForeignKey(
        ApiClient,
        verbose_name=_("API client"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    scope = models.TextField(_("scope"), blank=True)
    created = models.DateTimeField(_("issued"))
    expires = models.DateTimeField(_("would have expired"))
    revoked = models.DateTimeField(_("revoked"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-revoked", "-id"]
        verbose_name = _("revoked access token")
        verbose_name_plural = _("revoked access tokens")

    def __str__(self) -> str:
        return f"Revoked access token #{self.pk}"


# The feature packages' own models, registered with this app and importable from here.
from .consent.models import ConsentRecord  # noqa: E402, F401
from .oidc.models import SigningKey  # noqa: E402, F401
