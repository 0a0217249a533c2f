"""Permission classes that protect Django REST framework views with OAuth scopes.

::

    from source_oauth.permissions import HasScopes, HasUser

    class ArticleViewSet(viewsets.ModelViewSet):
        permission_classes = [HasScopes.of(read=["content:read"], write=["content:write"])]

    class MeView(APIView):
        permission_classes = [HasUser, HasScopes.of("user:profile")]

Scopes are those of the request's access token (``BearerAuthentication``). A
request without a token acts as the default API client, which "stands for
requests that carry no token": it has that client's allowed scopes, so an
admin decides in the admin what anonymous callers may do. Every class is a
DRF ``BasePermission``: they compose with ``&``, ``|`` and ``~``.

A refusal is recorded on the request, and ``exception_handler`` (set it as
DRF's ``EXCEPTION_HANDLER``) answers it as RFC 6750 §3.1 asks: 403 with
``WWW-Authenticate: Bearer error="insufficient_scope", scope="…"`` and a JSON
body naming the missing scopes. A request without a valid token is answered
401 by DRF with ``BearerAuthentication``'s challenge instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from oauth2_provider.models import get_access_token_model
from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from . import outages
from .authentication import bearer_challenge
from .cache import shared
from .conf import conf
from .models import ApiClient, Scope, scope_token_validator

if TYPE_CHECKING:
    from rest_framework.response import Response

__all__ = ["HasAudience", "HasScopes", "HasUser", "exception_handler", "granted_scopes"]

AccessToken = get_access_token_model()
INSUFFICIENT_SCOPE = "insufficient_scope"
INVALID_TOKEN = "invalid_token"
USER_REQUIRED = "user_required"
HTTP_METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")
DEFAULT_CLIENT_SCOPES_KEY = "source_oauth:default_client_scopes"
_DENIAL = "_source_oauth_denial"


def granted_scopes(request: Request) -> frozenset[str]:
    """The scopes the request acts with: its access token's, else the default API client's."""
    token = request.auth
    if isinstance(token, AccessToken):
        return frozenset(token.scope.split())
    return _default_client_scopes()


class HasScopes(BasePermission):
    """The request has every scope its HTTP method needs (see ``HasScopes.of``)."""

    #: What each method needs: set by ``of()``, or a view's ``required_scopes``.
    required_scopes: Any = None
    code = INSUFFICIENT_SCOPE
    message = "The access token lacks a scope this request needs."

    @classmethod
    def of(
        cls,
        *scopes: str | Iterable[str],
        read: str | Iterable[str] = (),
        write: str | Iterable[str] = (),
        **methods: str | Iterable[str],
    ) -> type[HasScopes]:
        """A permission class for ``permission_classes`` that needs these scopes.

        ``scopes`` are needed by every method, ``read`` also by GET, HEAD and
        OPTIONS, ``write`` also by every other method, and ``GET=[...]``,
        ``POST=[...]``... also by that method (HEAD and OPTIONS follow GET
        unless named). A method that ends up needing no scope is refused, so
        ``of(read=[...])`` makes a read-only resource. Mistakes raise
        ``ImproperlyConfigured`` here, when the view module is imported.
        """
        where = f"{cls.__name__}.of()"
        requirement = _Requirement.build(scopes, read, write, methods, where)
        name = f"{cls.__name__}.of({requirement})"
        namespace = {"required_scopes": requirement, "__module__": cls.__module__}
        return type(cls)(name, (cls,), namespace)

    def has_permission(self, request: Request, view: Any) -> bool:
        required = self.get_required_scopes(request, view)
        if not required:
            detail = _("No scope grants %(method)s requests on this resource.") % {
                "method": request.method
            }
            return _deny(request, self, _Denial(detail))
        granted = granted_scopes(request)  # once: without a token, it is a cache lookup
        missing = tuple(scope for scope in required if scope not in granted)
        if not missing:
            return True
        detail = ngettext(
            "The access token lacks the scope this request needs: %(scopes)s.",
            "The access token lacks the scopes this request needs: %(scopes)s.",
            len(missing),
        ) % {"scopes": ", ".join(missing)}
        return _deny(request, self, _Denial(detail, INSUFFICIENT_SCOPE, required, missing))

    def get_required_scopes(self, request: Request, view: Any) -> tuple[str, ...]:
        """The scopes ``request.method`` needs on ``view``; empty when none is declared for it."""
        declared, owner = self.required_scopes, self
        if declared is None:
            declared, owner = getattr(view, "required_scopes", None), view
        if declared is None:
            raise ImproperlyConfigured(
                f"{type(view).__name__} is protected by {type(self).__name__} but declares no "
                "scopes. Put HasScopes.of(read=[...], write=[...]) in its permission_classes, "
                "or give the view a required_scopes attribute."
            )
        if not isinstance(declared, _Requirement):  # of()'s is checked once, at import
            declared = _Requirement.parse(declared, f"{type(owner).__name__}.required_scopes")
        return declared.for_method(request.method)


class HasUser(BasePermission):
    """The request acts for a user: a client-credentials token, which has none, is refused."""

    code = USER_REQUIRED
    message = "This request needs an access token issued to a user."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if user is not None and user.is_authenticated:
            return True
        denial = _Denial(
            _(
                "This request needs an access token issued to a user; a client credentials "
                "token acts for no user."
            ),
            USER_REQUIRED,
        )
        return _deny(request, self, denial)


class HasAudience(BasePermission):
    """The access token was issued for this resource: its audience (RFC 8707 ``aud``) names it.

    ``HasAudience.of("https://cms.example.com/api/")`` refuses tokens issued
    without that resource indicator, unrestricted ones included, with 401
    ``invalid_token`` (RFC 6750 §3.1: not valid for this resource). Tokens
    restricted to other resources are refused before any permission runs, by
    URL prefix (DOT's ``RESOURCE_SERVER_TOKEN_RESOURCE_VALIDATOR``); this class
    lets a view insist on one exact identifier.
    """

    #: The resource identifier the token must name: set by ``of()``, or a view's
    #: ``required_audience``.
    audience: str | None = None
    code = INVALID_TOKEN
    message = "The access token is not valid for this resource."

    @classmethod
    def of(cls, audience: str) -> type[HasAudience]:
        """A permission class that needs tokens issued for ``audience`` (an absolute URI)."""
        if not isinstance(audience, str) or not audience.strip():
            raise ImproperlyConfigured(f"{cls.__name__}.of() needs a resource identifier.")
        name = f"{cls.__name__}.of({audience!r})"
        namespace = {"audience": audience, "__module__": cls.__module__}
        return type(cls)(name, (cls,), namespace)

    def has_permission(self, request: Request, view: Any) -> bool:
        audience = self.audience or getattr(view, "required_audience", None)
        if not audience:
            raise ImproperlyConfigured(
                f"{type(view).__name__} is protected by {type(self).__name__} but names no "
                "audience: use HasAudience.of(...) or give the view a required_audience."
            )
        token = request.auth
        if isinstance(token, AccessToken) and audience in (token.resource or ()):
            return True
        detail = _("The access token was not issued for %(audience)s.") % {"audience": audience}
        return _deny(request, self, _Denial(detail, INVALID_TOKEN))


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's exception handler, answering a refusal by these permissions as RFC 6750 asks.

    Set as ``REST_FRAMEWORK["EXCEPTION_HANDLER"]``. It is needed because DRF
    adds ``WWW-Authenticate`` only to 401s, and drops the ``message`` of a
    permission combined with ``&``, ``|`` or ``~``; and so that a database
    outage is answered 503 ``temporarily_unavailable`` in JSON (see
    ``outages``) rather than by Django's HTML 500. A project with its own
    handler can call this one from it.
    """
    # Imported here: rest_framework.views reads DEFAULT_PERMISSION_CLASSES, which may name
    # this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    if outages.is_database_outage(exc):  # DRF would re-raise it: Django's HTML 500
        outages.database.failed(exc)
        return outages.unavailable_json(api=True)
    response = drf_exception_handler(exc, context)
    denial = getattr(context.get("request"), _DENIAL, None)
    if response is not None and denial is not None and _from_permission_check(exc):
        response.data = denial.body()
        if denial.error == INVALID_TOKEN:
            # RFC 6750 §3.1: a token not valid for this resource is a 401 with a challenge.
            response.status_code = 401
            response["WWW-Authenticate"] = bearer_challenge(
                error=INVALID_TOKEN, error_description=denial.detail
            )
        elif denial.error == INSUFFICIENT_SCOPE:
            response["WWW-Authenticate"] = bearer_challenge(
                error=INSUFFICIENT_SCOPE,
                error_description=denial.detail,
                scope=" ".join(denial.required),
            )
    return response


# --- private helpers ------------------------------------------------------------------


@dataclass(frozen=True)
class _Denial:
    detail: str
    error: str | None = None
    required: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": self.detail}
        if self.error:
            body["error"] = self.error
        if self.error == INSUFFICIENT_SCOPE:
            body["required_scopes"] = list(self.required)
            body["missing_scopes"] = list(self.missing)
        return body


def _from_permission_check(exc: Exception) -> bool:
    # DRF's check_permissions() raises PermissionDenied with the refusing permission's
    # message: ours (a dict), or DRF's default one when ours sits inside &, | or ~. A
    # view's own PermissionDenied("...") after the checks passed keeps its message.
    if not isinstance(exc, exceptions.PermissionDenied):
        return False
    default = str(exceptions.PermissionDenied.default_detail)
    return isinstance(exc.detail, dict) or str(exc.detail) == default


def _deny(request: Request, permission: BasePermission, denial: _Denial) -> bool:
    # The last refusal wins: with ``a | b`` both refused, it is b's; with a list or
    # ``&``, evaluation stops at the first refusal anyway.
    setattr(request, _DENIAL, denial)
    # DRF shows ``message`` when the class is a top-level entry of permission_classes.
    permission.message = denial.body()
    return False


@dataclass(frozen=True)
class _Requirement:
    """Which scopes each HTTP method needs; the parts add up."""

    every: tuple[str, ...] = ()
    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()
    methods: tuple[tuple[str, tuple[str, ...]], ...] = ()
    _by_method: dict[str, tuple[str, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def build(
        cls,
        every: Iterable[Any],
        read: Any,
        write: Any,
        methods: Mapping[str, Any],
        where: str,
    ) -> _Requirement:
        unknown = [name for name in methods if name not in HTTP_METHODS]
        if unknown:
            raise ImproperlyConfigured(
                f"{where}: unknown argument {unknown[0]!r}. Use read=, write= or an upper-case "
                f"HTTP method ({', '.join(HTTP_METHODS)})."
            )
        requirement = cls(
            every=tuple(name for item in every for name in _names(item, where)),
            read=_names(read, where),
            write=_names(write, where),
            methods=tuple((method, _names(names, where)) for method, names in methods.items()),
        )
        if not any(requirement.for_method(method) for method in HTTP_METHODS):
            raise ImproperlyConfigured(f"{where} declares no scope.")
        return requirement

    @classmethod
    def parse(cls, declared: Any, where: str) -> _Requirement:
        """A requirement from a declaration: scope names, or a dict of read/write/methods.

        (A requirement already built, ``of()``'s, is used as it is: see
        ``HasScopes.get_required_scopes``.)
        """
        if isinstance(declared, Mapping):
            parts = dict(declared)
            read, write = parts.pop("read", ()), parts.pop("write", ())
            return cls.build((), read, write, parts, where)
        return cls.build((declared,), (), (), {}, where)

    def for_method(self, method: str) -> tuple[str, ...]:
        # Worked out once per method: every protected request asks. Only the methods
        # known are kept: a client may send any name, and no name may grow this.
        needed = self._by_method.get(method)
        if needed is None:
            needed = self._work_out(method.upper())
            if method in HTTP_METHODS:
                self._by_method[method] = needed
        return needed

    def _work_out(self, method: str) -> tuple[str, ...]:
        methods = dict(self.methods)
        specific = methods.get(method)
        if specific is None and method in ("HEAD", "OPTIONS"):
            specific = methods.get("GET")
        by_safety = self.read if method in SAFE_METHODS else self.write
        return tuple(dict.fromkeys(self.every + by_safety + (specific or ())))

    def __str__(self) -> str:
        parts = [" ".join(self.every)] if self.every else []
        parts += [f"{key}={' '.join(names)}" for key, names in self._named() if names]
        return ", ".join(parts)

    def _named(self) -> list[tuple[str, tuple[str, ...]]]:
        return [("read", self.read), ("write", self.write), *self.methods]


def _names(value: Any, where: str) -> tuple[str, ...]:
    """Scope names from a string or an iterable of strings, checked against RFC 6749 §3.3."""
    names = (value,) if isinstance(value, str) else value
    try:
        names = tuple(names)
    except TypeError:
        raise ImproperlyConfigured(f"{where}: expected scope names, got {value!r}.") from None
    for name in names:
        if not isinstance(name, str) or not scope_token_validator.regex.match(name):
            raise ImproperlyConfigured(
                f"{where}: {name!r} is not a scope name (one name per string, no spaces)."
            )
    return names


def _default_client_scopes() -> frozenset[str]:
    """The default API client's allowed scopes: one query, then served from the cache.

    The default client stands in for a token, so its scopes are cached as long
    as a token would be (``TOKEN_CACHE_SECONDS``; 0 disables the cache).
    """
    return shared.fetch(
        DEFAULT_CLIENT_SCOPES_KEY,
        lambda: frozenset(
            Scope.objects.filter(api_clients__is_default=True).values_list("name", flat=True)
        ),
        conf.TOKEN_CACHE_SECONDS,
    )


def _forget_default_client_scopes(**kwargs: Any) -> None:
    shared.forget([DEFAULT_CLIENT_SCOPES_KEY], tombstones=False)


def _connect() -> None:
    # A saved or deleted client, a change of allowed scopes or a renamed scope may
    # change the default client's scopes: drop the cached set, the next tokenless
    # request rebuilds it.
    receiver = _forget_default_client_scopes
    uid = "source_oauth_default_scopes"
    post_save.connect(receiver, sender=ApiClient, dispatch_uid=f"{uid}_client")
    post_delete.connect(receiver, sender=ApiClient, dispatch_uid=f"{uid}_client")
    m2m_changed.connect(receiver, sender=ApiClient.allowed_scopes.through, dispatch_uid=uid)
    post_save.connect(receiver, sender=Scope, dispatch_uid=f"{uid}_scope")
    post_delete.connect(receiver, sender=Scope, dispatch_uid=f"{uid}_scope")


_connect()
