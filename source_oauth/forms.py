"""The "API client" form of the admin: the seed's settings, labelled as the seed names them.

Validation is the model's (``ApiClient.clean()`` -> ``validation.py``), so the
admin and the management commands refuse the same settings with the same
messages; this form only presents the fields and lets an administrator remove
a secret explicitly when making a client public.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from oauth2_provider.forms import ApplicationForm

from .models import ApiClient, ImageStyle, Scope


class ScopeChoiceField(forms.ModelMultipleChoiceField):
    """Scope checkboxes that say what each scope gives, not only its name."""

    def label_from_instance(self, obj: Scope) -> str:
        return f"{obj.name} — {obj.description}" if obj.description else obj.name


class ApiClientForm(ApplicationForm):
    """Add/change form of an API client.

    Subclasses DOT's ``ApplicationForm`` for its ``add_error``, which turns a
    model error keyed by a field this form does not show into a non-field
    error instead of a ``ValueError`` (a 500).
    """

    name = forms.CharField(
        label=_("Name"),
        max_length=255,
        help_text=_("What the client is, e.g. “Mobile app” or “Next.js site”."),
    )
    image_styles = forms.ModelMultipleChoiceField(
        label=_("Image Styles"),
        queryset=ImageStyle.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Allow or restrict access to image derivatives: the client sees these."),
    )
    allowed_scopes = ScopeChoiceField(
        label=_("Allowed Scopes"),
        queryset=Scope.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Which API capabilities the client can access. A token never carries a scope "
            "outside these."
        ),
    )
    grant_types = forms.MultipleChoiceField(
        label=_("Grant types"),
        choices=ApiClient.GrantType.choices,
        required=False,  # "choose at least one" is the model's rule, with its message
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "How the client obtains tokens; several may be enabled. Authorization code: a "
            "user logs in and approves (needs a redirect URI). Client credentials: "
            "server-to-server, no user (confidential clients only). Refresh token: new access "
            "tokens without the user (with authorization code)."
        ),
    )
    remove_secret = forms.BooleanField(
        label=_("Remove the client secret"),
        required=False,
        help_text=_(
            "Tick together with unticking “Confidential Client” to make this client public. "
            "The secret stops working at once."
        ),
    )

    class Meta:
        model = ApiClient
        fields = [
            "name",
            "image_styles",
            "confidential",
            "require_pkce",
            "third_party",
            "allowed_scopes",
            "redirect_uris",
            "grant_types",
            # Sign-in and tokens (issue 15).
            "remember_approval",
            "post_logout_redirect_uris",
            "algorithm",
            "access_token_lifetime",
            "refresh_token_lifetime",
        ]
        labels = {
            "confidential": _("Confidential Client"),
            "third_party": _("3rd Party"),
            "require_pkce": _("Require PKCE"),
            "redirect_uris": _("Redirect URIs"),
            "remember_approval": _("Remember approval"),
            # Labels that do not contain "Redirect URIs" or "Refresh token", which label
            # other fields of this form.
            "post_logout_redirect_uris": _("Post-logout URIs"),
            "algorithm": _("ID token signing algorithm"),
            "access_token_lifetime": _("Access-token lifetime (seconds)"),
            "refresh_token_lifetime": _("Refresh-token lifetime (seconds)"),
        }
        help_texts = {
            "confidential": _(
                "Whether the client can securely store a secret (a server). Public clients — "
                "mobile and single-page apps — get no secret, must use PKCE and cannot use "
                "client credentials."
            ),
            "third_party": _(
                "Whether the client is developed by a third party. Users must approve the "
                "scopes a third-party client asks for; first-party clients skip that screen."
            ),
            "redirect_uris": _(
                "Valid URIs for the authorization code flow, one per line, matched exactly: "
                "https://…, http:// only on a loopback host (127.0.0.1, [::1], localhost), "
                "or a private-use scheme such as com.example.app:/callback. No fragments."
            ),
            "post_logout_redirect_uris": _(
                "Where a client that signs users in (OpenID Connect) may send them after they "
                "sign out of the CMS (post_logout_redirect_uri), one per line, matched exactly; "
                "the same rules as redirect URIs."
            ),
        }
        widgets = {
            "redirect_uris": forms.Textarea(attrs={"rows": 3, "cols": 60}),
            "post_logout_redirect_uris": forms.Textarea(attrs={"rows": 2, "cols": 60}),
        }

    class Media:
        # Not DOT's application_form.js: it drives fields (a typed secret, its
        # hashing, the OIDC algorithm) this form does not have.
        extend = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "algorithm" in self.fields:
            # A form posted without it (a script, a page from before) keeps the client's.
            self.fields["algorithm"].required = False
        for name in ("redirect_uris", "post_logout_redirect_uris"):
            if name in self.fields and self.instance.pk and not self.is_bound:
                # Stored space-separated (DOT's format); edited one per line.
                self.initial[name] = "\n".join(getattr(self.instance, name).split())

    def clean_redirect_uris(self) -> str:
        return " ".join(self.cleaned_data.get("redirect_uris", "").split())

    def clean_algorithm(self) -> str:
        return self.cleaned_data.get("algorithm") or self.instance.algorithm

    def clean_post_logout_redirect_uris(self) -> str:
        return " ".join(self.cleaned_data.get("post_logout_redirect_uris", "").split())

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("remove_secret") and cleaned.get("confidential", True):
            self.add_error(
                "remove_secret",
                _(
                    "A secret is removed only to make the client public (untick “Confidential "
                    "Client”). To replace a secret, use “Regenerate secret”."
                ),
            )
        return cleaned

    def _post_clean(self) -> None:
        # The model's rule "a public client cannot have a secret" is checked in
        # super()._post_clean(); an explicit removal must be applied before it.
        instance = self.instance
        removing = bool(
            self.cleaned_data.get("remove_secret")
            and not self.cleaned_data.get("confidential", True)
            and not self.errors
        )
        kept = (
            instance.client_secret,
            instance.previous_client_secret,
            instance.previous_secret_expires,
        )
        if removing:
            instance.client_secret = ""
            instance.previous_client_secret = ""
            instance.previous_secret_expires = None
        super()._post_clean()
        if removing and self.errors:
            # Nothing is saved; keep showing the client as it is.
            (
                instance.client_secret,
                instance.previous_client_secret,
                instance.previous_secret_expires,
            ) = kept


class ScopeForm(forms.ModelForm):
    """A scope: its name must be a scope-token, as clients send it in ``scope=``."""

    class Meta:
        model = Scope
        fields = ["name", "description"]
        help_texts = {
            "name": _(
                "As clients request it, e.g. content:read: printable ASCII without spaces, "
                "double quotes or backslashes (RFC 6749 §3.3)."
            ),
        }
