import django.core.validators
import django.db.models.deletion
import oauth2_provider.generators
from django.conf import settings
from django.db import migrations, models

import source_oauth.fields


class Migration(migrations.Migration):
    initial = True

    # DOT's own models point at the swapped application model, so it must exist first.
    run_before = [("oauth2_provider", "0001_initial")]

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ImageStyle",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.SlugField(max_length=64, unique=True, verbose_name="machine name")),
                ("label", models.CharField(max_length=100, verbose_name="label")),
                ("width", models.PositiveIntegerField(blank=True, null=True, verbose_name="width")),
                (
                    "height",
                    models.PositiveIntegerField(blank=True, null=True, verbose_name="height"),
                ),
                (
                    "operation",
                    models.CharField(
                        choices=[
                            ("scale", "Scale"),
                            ("crop", "Crop"),
                            ("scale_and_crop", "Scale and crop"),
                        ],
                        default="scale",
                        max_length=20,
                        verbose_name="operation",
                    ),
                ),
                (
                    "format",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("", "Same as the original"),
                            ("jpeg", "JPEG"),
                            ("png", "PNG"),
                            ("webp", "WebP"),
                        ],
                        default="",
                        max_length=8,
                        verbose_name="output format",
                    ),
                ),
                (
                    "quality",
                    models.PositiveSmallIntegerField(
                        default=85,
                        validators=[
                            django.core.validators.MinValueValidator(1),
                            django.core.validators.MaxValueValidator(100),
                        ],
                        verbose_name="quality",
                    ),
                ),
                ("updated", models.DateTimeField(auto_now=True, verbose_name="updated")),
            ],
            options={
                "verbose_name": "image style",
                "verbose_name_plural": "image styles",
                "ordering": ["name"],
            },
        ),
        migrations.CreateModel(
            name="Scope",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "name",
                    models.CharField(
                        max_length=100,
                        unique=True,
                        validators=[
                            django.core.validators.RegexValidator(
                                "^[\\x21\\x23-\\x5b\\x5d-\\x7e]+\\Z",
                                "A scope name is printable ASCII without spaces, double quotes or backslashes (RFC 6749 §3.3).",
                                code="invalid_scope_name",
                            )
                        ],
                        verbose_name="name",
                    ),
                ),
                (
                    "description",
                    models.CharField(
                        help_text="Shown to users on the consent screen, e.g. “Read published content”.",
                        max_length=255,
                        verbose_name="description",
                    ),
                ),
            ],
            options={
                "verbose_name": "scope",
                "verbose_name_plural": "scopes",
                "ordering": ["name"],
            },
        ),
        migrations.CreateModel(
            name="ApiClient",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                (
                    "client_id",
                    models.CharField(
                        db_index=True,
                        default=oauth2_provider.generators.generate_client_id,
                        max_length=255,
                        unique=True,
                        verbose_name="client ID",
                    ),
                ),
                (
                    "redirect_uris",
                    models.TextField(
                        blank=True,
                        help_text="Allowed URIs list, space separated",
                        verbose_name="redirect URIs",
                    ),
                ),
                (
                    "post_logout_redirect_uris",
                    models.TextField(
                        blank=True,
                        default="",
                        help_text="Allowed Post Logout URIs list, space separated",
                        verbose_name="post logout redirect URIs",
                    ),
                ),
                ("name", models.CharField(blank=True, max_length=255, verbose_name="name")),
                ("created", models.DateTimeField(auto_now_add=True, verbose_name="created")),
                ("updated", models.DateTimeField(auto_now=True, verbose_name="updated")),
                (
                    "algorithm",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("", "No OIDC support"),
                            ("RS256", "RSA with SHA-2 256"),
                            ("HS256", "HMAC with SHA-2 256"),
                        ],
                        default="",
                        max_length=5,
                        verbose_name="algorithm",
                    ),
                ),
                (
                    "allowed_origins",
                    models.TextField(
                        blank=True,
                        default="",
                        help_text="Allowed origins list to enable CORS, space separated",
                        verbose_name="allowed origins",
                    ),
                ),
                (
                    "registration_source",
                    models.CharField(
                        choices=[
                            ("manual", "Manual"),
                            ("dcr", "Dynamic Client Registration"),
                            ("cimd", "Client ID Metadata Document"),
                        ],
                        default="manual",
                        help_text="How this application was registered (manual, DCR per RFC 7591, or CIMD)",
                        max_length=32,
                        verbose_name="registration source",
                    ),
                ),
                (
                    "cimd_expires_at",
                    models.DateTimeField(
                        blank=True,
                        default=None,
                        help_text="When the cached Client ID Metadata Document should be re-fetched",
                        null=True,
                        verbose_name="CIMD expires at",
                    ),
                ),
                (
                    "client_secret",
                    source_oauth.fields.HashedSecretField(
                        blank=True,
                        default="",
                        editable=False,
                        help_text="Stored as a hash. The plain secret is shown once, when it is generated.",
                        max_length=255,
                        verbose_name="client secret",
                    ),
                ),
                (
                    "previous_client_secret",
                    source_oauth.fields.HashedSecretField(
                        blank=True,
                        default="",
                        editable=False,
                        max_length=255,
                        verbose_name="previous client secret",
                    ),
                ),
                (
                    "previous_secret_expires",
                    models.DateTimeField(
                        blank=True,
                        editable=False,
                        null=True,
                        verbose_name="previous secret valid until",
                    ),
                ),
                (
                    "confidential",
                    models.BooleanField(
                        default=True,
                        help_text="Whether the client can securely store a secret (a server). Public clients (mobile and browser apps) get no secret and must use PKCE.",
                        verbose_name="confidential client",
                    ),
                ),
                (
                    "third_party",
                    models.BooleanField(
                        default=False,
                        help_text="Whether the client is developed by a third party. Users must approve the scopes a third-party client asks for; first-party clients skip that screen.",
                        verbose_name="3rd party",
                    ),
                ),
                (
                    "grant_types",
                    source_oauth.fields.MultipleChoiceTextField(
                        blank=True,
                        choices=[
                            ("authorization_code", "Authorization code"),
                            ("client_credentials", "Client credentials"),
                            ("refresh_token", "Refresh token"),
                        ],
                        default=list,
                        help_text="How the client may obtain tokens. Several may be enabled.",
                        max_length=64,
                        verbose_name="grant types",
                    ),
                ),
                (
                    "is_default",
                    models.BooleanField(
                        default=False,
                        editable=False,
                        help_text="Stands for requests that carry no token. Cannot be deleted.",
                        verbose_name="default API client",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="%(app_label)s_%(class)s",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="user",
                    ),
                ),
                (
                    "image_styles",
                    models.ManyToManyField(
                        blank=True,
                        help_text="Which image derivatives the client may see.",
                        related_name="api_clients",
                        to="source_oauth.imagestyle",
                        verbose_name="image styles",
                    ),
                ),
                (
                    "allowed_scopes",
                    models.ManyToManyField(
                        blank=True,
                        help_text="Which API capabilities the client can access.",
                        related_name="api_clients",
                        to="source_oauth.scope",
                        verbose_name="allowed scopes",
                    ),
                ),
            ],
            options={
                "verbose_name": "API client",
                "verbose_name_plural": "API clients",
                "ordering": ["name"],
                "abstract": False,
                "swappable": "OAUTH2_PROVIDER_APPLICATION_MODEL",
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("is_default", True)),
                        fields=("is_default",),
                        name="source_oauth_one_default_client",
                    )
                ],
            },
        ),
    ]
