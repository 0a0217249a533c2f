"""The "API client" form of the admin: the seed's settings, labelled as the seed names them.

Validation is the model's (``ApiClient.clean()`` -> ``validation.py``), so the
admin and the management commands refuse the same settings with the same
messages; this form presents the fields (redirect URIs by line), and lets an
administrator remove a secret explicitly when making a client public.

Also the scope form, and ``SignInForm`` for ``source_oauth/login.html``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from oauth2_provider.forms import ApplicationForm
from oauth2_provider.settings import oauth2_settings

from .models import ApiClient, ImageStyle, Scope
from .oidc.models import SigningAlgorithm
from .validation import redirect_uri_errors


class ScopeChoiceField(forms.ModelMultipleChoiceField):
    """Scope checkboxes that say what each scope gives, not only its name."""

    def label_from_instance(self, obj: Scope) -> str:
        return f"{obj.name} — {obj.description}" if obj.description else obj.name


# One set of labels and help texts for the editable form and for the read-only
# page a view-only administrator sees (Django's admin reads ``Meta.labels``
# and ``Meta.help_texts`` for read-only fields, not the form fields').
LABELS = {
    "name": _("Name"),
    "client_id": _("Client ID"),
    "image_styles": _("Image Styles"),
    "confidential": _("Confidential Client"),
    "require_pkce": _("Require PKCE"),
    "third_party": _("3rd Party"),
    "allowed_scopes": _("Allowed Scopes"),
    "redirect_uris": _("Redirect URIs"),
    "grant_types": _("Grant types"),
    "grant_types_display": _("Grant types"),
    "remove_secret": _("Remove the client secret"),
    "remember_approval": _("Remember approval"),
    # Labels that do not contain "Redirect URIs" or "Refresh token", which label other
    # fields of this form.
    "post_logout_redirect_uris": _("Post-logout URIs"),
    "algorithm": _("ID token signing algorithm"),
    "access_token_lifetime": _("Access-token lifetime (seconds)"),
    "refresh_token_lifetime": _("Refresh-token lifetime (seconds)"),
}
HELP_TEXTS = {
    "name": _("What the client is, e.g. “Mobile app” or “Next.js site”."),
    "image_styles": _("Allow or restrict access to image derivatives: the client sees these."),
    "confidential": _(
        "Whether the client can securely store a secret (a server). Public clients — "
        "mobile and single-page apps — get no secret, must use PKCE and cannot use "
        "client credentials."
    ),
    "require_pkce": _(
        "Always on for public clients. Turning it off lets this confidential client use the "
        "authorization code flow without PKCE, with its secret alone (the plain flow some "
        "server-side apps use); it then loses PKCE's protection against a stolen or "
        "injected authorization code (RFC 9700 §2.1.1). Leave it on unless the client "
        "cannot send a code challenge."
    ),
    "third_party": _(
        "Whether the client is developed by a third party. Users must approve the scopes a "
        "third-party client asks for; first-party clients skip that screen."
    ),
    "allowed_scopes": _(
        "Which API capabilities the client can access. A token never carries a scope outside these."
    ),
    "redirect_uris": _(
        "Valid URIs for the authorization code flow, one per line, matched exactly: https://…, "
        "http:// only on a loopback host (127.0.0.1, [::1], localhost), or a private-use scheme "
        "such as com.example.app:/callback. No fragments."
    ),
    "grant_types": _(
        "How the client obtains tokens; several may be enabled. Authorization code: a user "
        "logs in and approves (needs a redirect URI). Client credentials: server-to-server, no "
        "user (confidential clients only). Refresh token: new access tokens without the user "
        "(with authorization code)."
    ),
    "remove_secret": _(
        "Tick together with unticking “Confidential Client” to make this client public. The "
        "secret stops working at once."
    ),
    "post_logout_redirect_uris": _(
        "Where a client that signs users in (OpenID Connect) may send them after they sign out "
        "of the CMS (post_logout_redirect_uri), one per line, matched exactly; the same rules "
        "as redirect URIs."
    ),
}
HELP_TEXTS["grant_types_display"] = HELP_TEXTS["grant_types"]


class ApiClientForm(ApplicationForm):
    """Add/change form of an API client.

    Subclasses DOT's ``ApplicationForm`` for its ``add_error``, which turns a
    model error keyed by a field this form does not show into a non-field
    error instead of a ``ValueError`` (a 500).
    """

    name = forms.CharField(label=LABELS["name"], max_length=255, help_text=HELP_TEXTS["name"])
    image_styles = forms.ModelMultipleChoiceField(
        label=LABELS["image_styles"],
        queryset=ImageStyle.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=HELP_TEXTS["image_styles"],
    )
    allowed_scopes = ScopeChoiceField(
        label=LABELS["allowed_scopes"],
        queryset=Scope.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=HELP_TEXTS["allowed_scopes"],
    )
    grant_types = forms.MultipleChoiceField(
        label=LABELS["grant_types"],
        choices=ApiClient.GrantType.choices,
        required=False,  # "choose at least one" is the model's rule, with its message
        widget=forms.CheckboxSelectMultiple,
        help_text=HELP_TEXTS["grant_types"],
    )
    remove_secret = forms.BooleanField(
        label=LABELS["remove_secret"], required=False, help_text=HELP_TEXTS["remove_secret"]
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
        labels = LABELS
        help_texts = HELP_TEXTS
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
        """One URI per line; each line's problems named once, with its line number.

        The model checks the same rules on the stored, space-separated value (for
        the commands too); here a person gets them by line, and a line with a
        space in it is one mistake, not one per word.
        """
        errors = []
        uris = []
        for number, line in enumerate(self.cleaned_data.get("redirect_uris", "").splitlines(), 1):
            uri = line.strip()
            if not uri:
                continue
            if len(uri.split()) > 1:
                problems = [_("“%(uri)s” contains a space. Put one URI per line.") % {"uri": uri}]
            else:
                problems = redirect_uri_errors(uri)
            errors += [
                _("Line %(number)d: %(problem)s") % {"number": number, "problem": problem}
                for problem in problems
            ]
            uris.append(uri)
        if errors:
            raise ValidationError(errors)
        return " ".join(uris)

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
        self._check_signing_key(cleaned.get("algorithm"))
        return cleaned

    def _check_signing_key(self, algorithm: str | None) -> None:
        """A newly chosen ID token algorithm needs a key, or sign-in would end in a 503."""
        # RS256, the default, is the system check's business (source_oauth.W008).
        if not algorithm or algorithm == SigningAlgorithm.RS256:
            return
        if "algorithm" not in self.changed_data:
            return
        if not oauth2_settings.OIDC_ENABLED:
            return
        from .oidc.keys import available_algorithms

        if algorithm not in available_algorithms():
            self.add_error(
                "algorithm",
                _(
                    "No %(algorithm)s key signs ID tokens yet: this client's sign-ins would "
                    "fail. Run “python manage.py oidc_keys generate --algorithm %(algorithm)s” "
                    "first, or keep the algorithm the server has a key for."
                )
                % {"algorithm": algorithm},
            )

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

    def add_error(self, field: str | None, error: Any) -> None:
        # The model re-checks redirect URIs on the value it still holds when the typed
        # lines were refused above; those lines' errors already say what is wrong.
        if (
            field is None
            and hasattr(error, "error_dict")
            and "redirect_uris" in (self._errors or {})
        ):
            error = ValidationError(
                {key: value for key, value in error.error_dict.items() if key != "redirect_uris"}
            )
        super().add_error(field, error)


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


class SignInForm(AuthenticationForm):
    """Django's sign-in form, with a refused sign-in announced on both fields.

    Wrong credentials are a form-wide error, so Django marks no field; a
    screen-reader user would hear the alert but find both fields valid. Used
    by ``source_oauth/login.html`` (``id="signin-error"``).
    """

    error_id = "signin-error"

    def full_clean(self) -> None:
        super().full_clean()
        if self.non_field_errors():
            for name in ("username", "password"):
                if name in self.fields:
                    self.fields[name].widget.attrs.update(
                        {"aria-invalid": "true", "aria-describedby": self.error_id}
                    )
