"""The "API clients" screen: add, change, regenerate a secret; the default client is kept."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from oauth2_provider import admin as dot_admin

from .. import audit
from ..clients import rotate_client_secret
from ..conf import conf
from ..forms import ApiClientForm
from ..models import AccessToken, ApiClient, RefreshToken
from ..secrets import mask
from .mixins import ActingUserMixin


class GrantTypeFilter(admin.SimpleListFilter):
    """Clients that have one grant type enabled (among possibly several)."""

    title = _("grant type")
    parameter_name = "grant_type"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return ApiClient.GrantType.choices

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        # Stored space-separated and no value is a substring of another.
        if self.value() in ApiClient.GrantType.values:
            return queryset.filter(grant_types__contains=self.value())
        return queryset


class RegenerateSecretForm(forms.Form):
    """Confirmation of a secret rotation, with the choice to cut the old secret off at once."""

    stop_now = forms.BooleanField(
        label=_("The current secret has leaked: stop it at once"),
        required=False,
    )


class ApiClientAdmin(ActingUserMixin, dot_admin.ApplicationAdmin):
    """The "API clients" screen. Registered by DOT through ``APPLICATION_ADMIN_CLASS``."""

    form = ApiClientForm
    list_display = [
        "name",
        "client_id",
        "grant_types_display",
        "confidential_column",
        "third_party_column",
        "scopes_display",
        "default_column",
        "created",
    ]
    list_filter = [GrantTypeFilter, "confidential", "third_party"]
    search_fields = ["name", "client_id"]
    readonly_fields = [
        "client_id",
        "client_secret_hint",
        "grant_types_display",
        "default_client",
        "created",
        "updated",
        "tokens",
    ]
    radio_fields: dict = {}
    raw_id_fields: tuple = ()
    filter_horizontal: tuple = ()
    # DOT's get_absolute_url names a front-end page source_oauth does not serve.
    view_on_site = False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("allowed_scopes")

    def get_fieldsets(self, request: HttpRequest, obj: ApiClient | None = None) -> list:
        editable = obj is None or self.has_change_permission(request, obj)
        settings = ["image_styles", "confidential", "require_pkce"]
        if editable and obj is not None and obj.client_secret:
            settings.append("remove_secret")
        settings += ["third_party", "allowed_scopes", "redirect_uris"]
        # A read-only grant_types would be shown as "-" (Django looks a list up in choices).
        grants = "grant_types" if editable else "grant_types_display"
        if obj is None:
            intro = _(
                "Enter a name and select the settings. Saving generates the credentials: a "
                "client ID and, for a confidential client, a secret that is shown only once."
            )
            fieldsets: list = [(None, {"fields": ["name"], "description": intro})]
        else:
            fieldsets = [
                (None, {"fields": ["name"]}),
                (_("Credentials"), {"fields": ["client_id", "client_secret_hint"]}),
            ]
        fieldsets += [
            (_("Client settings"), {"fields": settings}),
            (_("Grant types"), {"fields": [grants]}),
        ]
        if obj is not None:
            fieldsets.append(
                (_("Record"), {"fields": ["default_client", "created", "updated", "tokens"]})
            )
        return fieldsets

    # --- columns and read-only fields ---------------------------------------------

    @admin.display(description=_("grant types"))
    def grant_types_display(self, obj: ApiClient) -> str:
        labels = dict(ApiClient.GrantType.choices)
        return ", ".join(str(labels.get(g, g)) for g in obj.grant_types) or "—"

    @admin.display(description=_("confidential"), boolean=True, ordering="confidential")
    def confidential_column(self, obj: ApiClient) -> bool:
        return obj.confidential

    @admin.display(description=_("3rd party"), boolean=True, ordering="third_party")
    def third_party_column(self, obj: ApiClient) -> bool:
        return obj.third_party

    @admin.display(description=_("default"), boolean=True, ordering="is_default")
    def default_column(self, obj: ApiClient) -> bool:
        return obj.is_default

    @admin.display(description=_("default API client"))
    def default_client(self, obj: ApiClient) -> str:
        if obj.is_default:
            return _("Yes: it stands for requests that carry no token, and cannot be deleted.")
        return _("No")

    @admin.display(description=_("allowed scopes"))
    def scopes_display(self, obj: ApiClient) -> str:
        return ", ".join(scope.name for scope in obj.allowed_scopes.all()) or "—"

    @admin.display(description=_("client secret"))
    def client_secret_hint(self, obj: ApiClient) -> str:
        """A masked hint of the stored hash: enough to tell two secrets apart, never the secret."""
        # The secret is looked at first: on a form re-shown with errors, ``obj``
        # carries the unsaved "confidential" box, not the stored one.
        if not obj.client_secret:
            if not obj.confidential:
                return _("None: a public client has no secret.")
            return _("None yet: the client cannot authenticate until one is generated.")
        hint = format_html(
            "{} (<code>sha256 {}</code>). {}",
            _("Stored as a hash only"),
            mask(obj.client_secret),
            _("The secret cannot be shown again; a new one can be generated."),
        )
        expires = obj.previous_secret_expires
        if obj.previous_client_secret and expires and expires > timezone.now():
            hint = format_html(
                "{} {}",
                hint,
                _("The previous secret keeps working until %(when)s.")
                % {"when": timezone.localtime(expires).strftime("%Y-%m-%d %H:%M %Z")},
            )
        return hint

    @admin.display(description=_("tokens"))
    def tokens(self, obj: ApiClient) -> str:
        access = AccessToken.objects.filter(application=obj).count()
        refresh = RefreshToken.objects.filter(application=obj, revoked__isnull=True).count()
        links = []
        for model, label in (
            (
                AccessToken,
                ngettext("%d access token", "%d access tokens", access) % access,
            ),
            (
                RefreshToken,
                ngettext("%d active refresh token", "%d active refresh tokens", refresh) % refresh,
            ),
        ):
            opts = model._meta
            url = reverse(
                f"admin:{opts.app_label}_{opts.model_name}_changelist",
                current_app=self.admin_site.name,
            )
            links.append((f"{url}?application__id__exact={obj.pk}", label))
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    # --- saving: credentials are generated here and shown once --------------------

    def save_model(self, request: HttpRequest, obj: ApiClient, form: Any, change: bool) -> None:
        # A client gets a secret when it is created confidential, or made
        # confidential. The default client, created without one, gets it only
        # when an administrator asks ("Generate secret").
        becomes_confidential = not change or "confidential" in form.changed_data
        if obj.confidential and not obj.client_secret and becomes_confidential:
            request._source_oauth_new_secret = obj.set_new_secret()
        super().save_model(request, obj, form, change)

    def response_add(
        self, request: HttpRequest, obj: ApiClient, post_url_continue: str | None = None
    ) -> HttpResponse:
        response = super().response_add(request, obj, post_url_continue)
        self._announce_credentials(request, obj, added=True)
        if not any(key in request.POST for key in (IS_POPUP_VAR, "_addanother", "_continue")):
            # The one-time credentials belong with the client: land on its page.
            return HttpResponseRedirect(self._change_url(obj))
        return response

    def response_change(self, request: HttpRequest, obj: ApiClient) -> HttpResponse:
        response = super().response_change(request, obj)
        self._announce_credentials(request, obj, added=False)
        return response

    def _announce_credentials(self, request: HttpRequest, obj: ApiClient, *, added: bool) -> None:
        secret = getattr(request, "_source_oauth_new_secret", None)
        request._source_oauth_new_secret = None
        if secret:
            self.message_secret(request, obj, secret)
        elif added and not obj.confidential:
            self.message_user(
                request,
                format_html(
                    _(
                        "“{name}” is a public client: it has no secret and proves itself with "
                        'PKCE. Client ID: <code class="source-oauth-client-id">{client_id}</code>'
                    ),
                    name=obj.name,
                    client_id=obj.client_id,
                ),
                messages.INFO,
            )

    def message_secret(self, request: HttpRequest, obj: ApiClient, secret: str) -> None:
        """Show a newly generated secret, the only time it is ever readable."""
        self.message_user(
            request,
            format_html(
                _(
                    "Copy the client secret of “{name}” now: it is shown only this once, and "
                    "only its hash is stored.<br>"
                    'Client ID: <code class="source-oauth-client-id">{client_id}</code><br>'
                    "Client secret: "
                    '<code class="source-oauth-client-secret" style="user-select: all">'
                    "{secret}</code>"
                ),
                name=obj.name,
                client_id=obj.client_id,
                secret=secret,
            ),
            messages.WARNING,
        )

    def _change_url(self, obj: ApiClient) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
            args=[quote(obj.pk)],
            current_app=self.admin_site.name,
        )

    # --- "Regenerate secret" --------------------------------------------------------

    def get_urls(self) -> list:
        name = f"{self.opts.app_label}_{self.opts.model_name}_regenerate_secret"
        view = self.admin_site.admin_view(self.regenerate_secret_view)
        return [
            path("<path:object_id>/regenerate-secret/", view, name=name),
            *super().get_urls(),
        ]

    def regenerate_secret_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Confirm, then rotate a confidential client's secret and show the new one once."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        if not obj.confidential:
            self.message_user(
                request, _("A public client has no secret to regenerate."), messages.ERROR
            )
            return HttpResponseRedirect(self._change_url(obj))
        overlap = timedelta(seconds=conf.SECRET_ROTATION_OVERLAP_SECONDS)
        offer_overlap = bool(obj.client_secret) and overlap > timedelta(0)
        form = RegenerateSecretForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            stop_now = form.cleaned_data["stop_now"] or not offer_overlap
            with audit.acting_as(request.user):
                credentials = rotate_client_secret(obj, timedelta(0) if stop_now else overlap)
            self.log_change(request, obj, _("Regenerated the client secret."))
            self.message_secret(request, obj, credentials.client_secret or "")
            return HttpResponseRedirect(self._change_url(obj))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Regenerate the client secret")
            if obj.client_secret
            else _("Generate a client secret"),
            "subtitle": None,
            "opts": self.opts,
            "original": obj,
            "form": form,
            "offer_overlap": offer_overlap,
            "overlap_minutes": int(overlap.total_seconds() // 60),
            "change_url": self._change_url(obj),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request, "admin/source_oauth/apiclient/regenerate_secret.html", context
        )

    # --- the default client cannot be deleted ----------------------------------------

    def has_delete_permission(self, request: HttpRequest, obj: ApiClient | None = None) -> bool:
        if obj is not None and obj.is_default:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest, action_location: Any = None) -> dict:
        # Django 6.1 asks for the actions of one place (list or change form); 5.2 has no such
        # argument. Naming it here keeps 6.1 from warning (RemovedInDjango2028Warning).
        location = {} if action_location is None else {"action_location": action_location}
        actions = super().get_actions(request, **location)
        if "delete_selected" in actions:
            # Same key, so Django's confirmation page posts back to this action.
            func = type(self).delete_selected_clients
            actions["delete_selected"] = (func, "delete_selected", func.short_description)
        return actions

    @admin.action(permissions=["delete"], description=_("Delete selected API clients"))
    def delete_selected_clients(self, request: HttpRequest, queryset: QuerySet) -> Any:
        default = queryset.filter(is_default=True).first()
        if default is not None:
            self.message_user(
                request,
                _(
                    "“%(name)s” is the default API client and cannot be deleted. Nothing was "
                    "deleted."
                )
                % {"name": default.name},
                messages.ERROR,
            )
            return None
        return delete_selected(self, request, queryset)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        if queryset.filter(is_default=True).exists():
            raise PermissionDenied
        super().delete_queryset(request, queryset)

    def delete_model(self, request: HttpRequest, obj: ApiClient) -> None:
        if obj.is_default:
            raise PermissionDenied
        super().delete_model(request, obj)
