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
from . import lifetimes, one_time
from .mixins import ActingUserMixin, copyable


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
    # Fits 1280 px beside the sidebar and the filters: the client ID is shortened
    # (with a copy button), "Confidential Client" and "3rd Party" share a column,
    # the default client is marked in its name's cell (and listed first).
    list_display = [
        "name_column",
        "client_id_column",
        "grants_column",
        "client_type_column",
        "scopes_display",
    ]
    list_display_links = ["name_column"]
    list_filter = [GrantTypeFilter, "confidential", "third_party"]
    search_fields = ["name", "client_id"]
    ordering = ["-is_default", "name"]
    readonly_fields = [
        "client_id",
        "client_secret_hint",
        "grant_types_display",
        "default_client",
        "created",
        "updated",
        "tokens",
        "token_counts",
    ]
    radio_fields: dict = {}
    raw_id_fields: tuple = ()
    filter_horizontal: tuple = ()
    # DOT's get_absolute_url names a front-end page source_oauth does not serve.
    view_on_site = False

    class Media:
        # Copy buttons, the one-time secret's URL cleaned up, PKCE shown as required
        # while "Confidential Client" is unticked.
        css = {"all": ["source_oauth/admin.css"]}
        js = ["source_oauth/admin.js"]

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
            (
                _("Sign-in and tokens"),
                {
                    "fields": [
                        "remember_approval",
                        "post_logout_redirect_uris",
                        "algorithm",
                        "access_token_lifetime",
                        "refresh_token_lifetime",
                    ]
                },
            ),
        ]
        if obj is not None:
            # Links only for those who may follow them; the counts for everyone else.
            tokens = "tokens" if self._may_view_tokens(request) else "token_counts"
            fieldsets.append(
                (_("Record"), {"fields": ["default_client", "created", "updated", tokens]})
            )
        return fieldsets

    def _may_view_tokens(self, request: HttpRequest) -> bool:
        return all(
            request.user.has_perm(f"{m._meta.app_label}.view_{m._meta.model_name}")
            or request.user.has_perm(f"{m._meta.app_label}.change_{m._meta.model_name}")
            for m in (AccessToken, RefreshToken)
        )

    # --- columns and read-only fields ---------------------------------------------

    @admin.display(description=_("name"), ordering="name")
    def name_column(self, obj: ApiClient) -> str:
        if obj.is_default:
            return format_html(
                '{} <span class="source-oauth-badge" title="{}">{}</span>',
                obj.name,
                _("Stands for requests that carry no token. Cannot be deleted."),
                _("Default"),
            )
        return obj.name

    @admin.display(description=_("client ID"), ordering="client_id")
    def client_id_column(self, obj: ApiClient) -> str:
        return copyable(obj.client_id, label=_("Copy client ID"))

    @admin.display(description=_("grant types"))
    def grant_types_display(self, obj: ApiClient) -> str:
        labels = dict(ApiClient.GrantType.choices)
        return ", ".join(str(labels.get(g, g)) for g in obj.grant_types) or "—"

    @admin.display(description=_("grant types"))
    def grants_column(self, obj: ApiClient) -> str:
        # The token lifetimes share the grants' cell: one more column would not fit 1280 px.
        return format_html(
            '{}<br><span class="source-oauth-tag">{}</span>',
            self.grant_types_display(obj),
            lifetimes.summary(obj),
        )

    @admin.display(description=_("client type"), ordering="confidential")
    def client_type_column(self, obj: ApiClient) -> str:
        kind = _("Confidential") if obj.confidential else _("Public")
        if obj.third_party:
            tag = _("3rd party")
            return format_html('{}<br><span class="source-oauth-tag">{}</span>', kind, tag)
        return kind

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
            "{} (<code>sha256 {}</code>): {}",
            _("Stored as a hash only"),
            mask(obj.client_secret),
            _("the secret cannot be shown again."),
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
        links = []
        for model, label in self._token_counts(obj):
            opts = model._meta
            url = reverse(
                f"admin:{opts.app_label}_{opts.model_name}_changelist",
                current_app=self.admin_site.name,
            )
            links.append((f"{url}?application__id__exact={obj.pk}", label))
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    @admin.display(description=_("tokens"))
    def token_counts(self, obj: ApiClient) -> str:
        return " · ".join(label for _model, label in self._token_counts(obj))

    def _token_counts(self, obj: ApiClient) -> list[tuple[type, str]]:
        access = AccessToken.objects.filter(application=obj).count()
        refresh = RefreshToken.objects.filter(application=obj, revoked__isnull=True).count()
        return [
            (AccessToken, ngettext("%d access token", "%d access tokens", access) % access),
            (
                RefreshToken,
                ngettext("%d active refresh token", "%d active refresh tokens", refresh) % refresh,
            ),
        ]

    # --- saving: credentials are generated here and shown once --------------------

    def save_model(self, request: HttpRequest, obj: ApiClient, form: Any, change: bool) -> None:
        # A client gets a secret when it is created confidential, or made
        # confidential. The default client, created without one, gets it only
        # when an administrator asks ("Generate secret").
        becomes_confidential = not change or "confidential" in form.changed_data
        if obj.confidential and not obj.client_secret and becomes_confidential:
            request._source_oauth_new_secret = obj.set_new_secret()
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if not form.instance.allowed_scopes.exists():
            self.message_user(
                request,
                _(
                    "“%(name)s” has no allowed scopes: its tokens will carry no scope, so it "
                    "can call no API that needs one. Tick its scopes under Allowed Scopes."
                )
                % {"name": form.instance.name},
                messages.WARNING,
            )

    def response_add(
        self, request: HttpRequest, obj: ApiClient, post_url_continue: str | None = None
    ) -> HttpResponse:
        response = super().response_add(request, obj, post_url_continue)
        secret = self._new_secret(request)
        if secret:
            # "Save and add another" shows it above the next, empty form.
            land_on = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_add")
            if "_addanother" not in request.POST:
                land_on = self._change_url(obj)
            return self._show_once(request, obj, secret, land_on)
        if not obj.confidential:
            self.message_user(
                request,
                _("“%(name)s” is a public client: it has no secret and proves itself with PKCE.")
                % {"name": obj.name},
                messages.INFO,
            )
        if not any(key in request.POST for key in (IS_POPUP_VAR, "_addanother", "_continue")):
            # The credentials belong with the client: land on its page.
            return HttpResponseRedirect(self._change_url(obj))
        return response

    def response_change(self, request: HttpRequest, obj: ApiClient) -> HttpResponse:
        response = super().response_change(request, obj)
        secret = self._new_secret(request)
        if secret:
            return self._show_once(request, obj, secret, self._change_url(obj))
        return response

    def _new_secret(self, request: HttpRequest) -> str | None:
        secret = getattr(request, "_source_oauth_new_secret", None)
        request._source_oauth_new_secret = None
        return secret

    def _show_once(
        self, request: HttpRequest, obj: ApiClient, secret: str, url: str
    ) -> HttpResponse:
        """Redirect to the page that shows ``secret`` once (see ``one_time``)."""
        key = one_time.hold(request, obj.pk, secret)
        return HttpResponseRedirect(f"{url}?{one_time.PARAM}={key}")

    def _change_url(self, obj: ApiClient) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
            args=[quote(obj.pk)],
            current_app=self.admin_site.name,
        )

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        return super().add_view(request, form_url, self._one_time_context(request, extra_context))

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        context = self._one_time_context(request, extra_context, object_id)
        return super().change_view(request, object_id, form_url, context)

    def _one_time_context(
        self, request: HttpRequest, extra_context: dict | None, object_id: str | None = None
    ) -> dict:
        """The credentials to show above the form, the one time the URL unlocks them."""
        context = dict(extra_context or {})
        if request.method != "GET" or not one_time.asked(request):
            return context
        held = one_time.take(request)
        if held is not None and (object_id is None or str(held.client_pk) == unquote(object_id)):
            client = ApiClient.objects.filter(pk=held.client_pk).first()
            if client is not None:
                context["one_time"] = {"client": client, "secret": held.secret}
                return context
        context["one_time_gone"] = True  # shown already, or not to this session
        return context

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
            return self._show_once(
                request, obj, credentials.client_secret or "", self._change_url(obj)
            )
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

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict | None = None
    ) -> HttpResponse:
        """For the default client, say why it cannot be deleted (Django would only say 403)."""
        obj = self.get_object(request, unquote(object_id))
        if obj is not None and obj.is_default and self.has_view_or_change_permission(request, obj):
            context = {
                **self.admin_site.each_context(request),
                "title": _("Cannot delete the default API client"),
                "subtitle": None,
                "opts": self.opts,
                "original": obj,
                "change_url": self._change_url(obj),
            }
            request.current_app = self.admin_site.name
            return TemplateResponse(
                request,
                "admin/source_oauth/apiclient/delete_default.html",
                context,
                status=403 if request.method == "POST" else 200,
            )
        return super().delete_view(request, object_id, extra_context)

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
