"""Access and refresh tokens, grants and ID tokens: listed masked, revocable, never shown."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from oauth2_provider import admin as dot_admin
from oauth2_provider.models import (
    get_access_token_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from .. import audit
from ..models import AccessToken, RefreshToken, RevokedAccessToken
from .mixins import ActingUserMixin, ReadOnlyDetailMixin, RecordAdminMixin


def token_hint(obj: Any) -> str:
    """The first characters of a token's SHA-256 checksum: identifies a row, unlocks nothing.

    With RFC 9700 token storage DOT keeps only the checksum; the raw token,
    when a project stores it, is never shown, nor the whole checksum (which
    would let anyone holding the table match tokens seen elsewhere).
    """
    checksum = getattr(obj, "token_checksum", "") or ""
    return f"{checksum[:8]}…" if checksum else "—"


REVOKED = "revoked"


class AccessTokenStatusFilter(admin.SimpleListFilter):
    """Valid, expired, or revoked: revoked ones are ``RevokedAccessToken`` rows.

    DOT deletes a revoked access token, so "Revoked" lists what
    ``revocations`` remembered; ``AccessTokenAdmin`` hands that listing to
    ``RevokedAccessTokenAdmin`` under its own URL, so it reads as one list.
    """

    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [("valid", _("Valid")), ("expired", _("Expired")), (REVOKED, _("Revoked"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if issubclass(queryset.model, RevokedAccessToken):
            return queryset
        if self.value() == "valid":
            return queryset.filter(expires__gt=timezone.now())
        if self.value() == "expired":
            return queryset.filter(expires__lte=timezone.now())
        if self.value() == REVOKED:
            return queryset.none()  # never reached: the revoked listing is handed over
        return queryset


class RefreshTokenStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [("active", _("Active")), ("revoked", _("Revoked"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("active", "revoked"):
            return queryset.filter(revoked__isnull=self.value() == "active")
        return queryset


@admin.register(AccessToken)
class AccessTokenAdmin(ActingUserMixin, ReadOnlyDetailMixin, dot_admin.AccessTokenAdmin):
    """Access tokens per client and user, masked, with a "Revoke" action."""

    list_display = ["token_display", "application", "user", "scope", "expires", "created"]
    list_filter = [
        AccessTokenStatusFilter,
        ("application", admin.RelatedOnlyFieldListFilter),
        ("user", admin.RelatedOnlyFieldListFilter),
    ]
    fields = ["token_display", "application", "user", "scope", "expires", "created", "updated"]
    readonly_fields = fields
    actions = ["revoke_tokens"]

    @admin.display(description=_("token (SHA-256, first characters)"))
    def token_display(self, obj: Any) -> str:
        return token_hint(obj)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        if request.GET.get(AccessTokenStatusFilter.parameter_name) == REVOKED:
            revoked = self.admin_site.get_model_admin(RevokedAccessToken)
            return revoked.changelist_view(request, extra_context)
        return super().changelist_view(request, extra_context)

    @admin.action(permissions=["change"], description=_("Revoke selected access tokens"))
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Revoke through DOT, which also revokes a bound refresh token (RFC 7009 §2.1)."""
        refresh_model = get_refresh_token_model()
        count = 0
        for token in queryset.select_related("application"):
            kinds = ["access_token"]
            if refresh_model.objects.filter(access_token=token, revoked__isnull=True).exists():
                kinds.append("refresh_token")
            dot_admin.revoke_access_token(token)
            audit.record(audit.Action.TOKEN_REVOKED, token.application, tokens=kinds)
            count += 1
        self.message_user(
            request,
            ngettext("Revoked %d access token.", "Revoked %d access tokens.", count) % count,
        )


@admin.register(RefreshToken)
class RefreshTokenAdmin(ActingUserMixin, ReadOnlyDetailMixin, dot_admin.RefreshTokenAdmin):
    """Refresh tokens per client and user, masked, with a "Revoke" action."""

    list_display = ["token_display", "application", "user", "created", "revoked"]
    list_filter = [
        RefreshTokenStatusFilter,
        ("application", admin.RelatedOnlyFieldListFilter),
        ("user", admin.RelatedOnlyFieldListFilter),
    ]
    fields = ["token_display", "application", "user", "access_token", "created", "revoked"]
    readonly_fields = fields
    actions = ["revoke_tokens"]

    @admin.display(description=_("token (SHA-256, first characters)"))
    def token_display(self, obj: Any) -> str:
        return token_hint(obj)

    @admin.action(permissions=["change"], description=_("Revoke selected refresh tokens"))
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet) -> None:
        """``RefreshToken.revoke()`` also revokes its access token and keeps a tombstone."""
        count = 0
        for token in queryset.filter(revoked__isnull=True).select_related("application"):
            token.revoke()
            audit.record(audit.Action.TOKEN_REVOKED, token.application, tokens=["refresh_token"])
            count += 1
        self.message_user(
            request,
            ngettext("Revoked %d refresh token.", "Revoked %d refresh tokens.", count) % count,
        )


@admin.register(RevokedAccessToken)
class RevokedAccessTokenAdmin(RecordAdminMixin, admin.ModelAdmin):
    """Access tokens revoked before they expired, shown as "Access tokens › Revoked".

    Not in the index of its own: reached through the access tokens' status
    filter, with the access tokens' permissions.
    """

    list_display = ["token_display", "application", "user", "scope", "created", "revoked"]
    list_filter = [
        AccessTokenStatusFilter,
        ("application", admin.RelatedOnlyFieldListFilter),
        ("user", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["application__name", "application__client_id", "user__username"]
    fields = ["token_display", "application", "user", "scope", "created", "expires", "revoked"]
    readonly_fields = fields
    actions = None

    @admin.display(description=_("token (SHA-256, first characters)"))
    def token_display(self, obj: Any) -> str:
        return token_hint(obj)

    def get_model_perms(self, request: HttpRequest) -> dict[str, bool]:
        return {}  # listed under Access tokens, not in the index

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        opts = AccessToken._meta
        return any(
            request.user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}")
            for action in ("view", "change")
        )


class GrantAdmin(ReadOnlyDetailMixin, dot_admin.GrantAdmin):
    """Authorization codes in flight (they live a minute); the code itself is masked."""

    fields = ["masked_code", "application", "user", "redirect_uri", "scope", "expires"]
    readonly_fields = fields


class IDTokenAdmin(ReadOnlyDetailMixin, dot_admin.IDTokenAdmin):
    """ID tokens issued by OpenID Connect sign-ins (their JWTs are not stored); read-only."""


def withdraw_dot_token_admins() -> None:
    """Unregister DOT's own admin section ("Django OAuth Toolkit").

    Its access and refresh tokens are listed in the "API" section through
    proxies. Its grants (authorization codes: single use, alive 60 seconds)
    and ID tokens (DOT's record of each ID token it signed) are nothing an
    administrator acts on, so they are not listed; their admin classes stay
    masked in case a project registers them again.

    Called from ``AppConfig.ready()``: DOT registers them when its admin module
    finishes importing, which happens after this module (DOT imports it to
    find ``APPLICATION_ADMIN_CLASS``), and before our ``ready()``.
    """
    models = (get_access_token_model(), get_refresh_token_model(), get_grant_model())
    for model in (*models, get_id_token_model()):
        if admin.site.is_registered(model):
            admin.site.unregister(model)
