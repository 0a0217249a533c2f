"""The claims about a user that an ID token and the UserInfo endpoint carry, per scope.

``openid`` gives ``sub``: the user's primary key as a string, stable for the
life of the account and never the username (which a user may change, and
another user may later take). ``profile`` gives ``name``, ``given_name``,
``family_name`` and ``preferred_username``; ``email`` gives ``email``. Empty
values are left out. Django does not know whether an email address is
verified, so ``email_verified`` is sent only when the host's hook says.

The host's one hook is ``SOURCE_OAUTH["OIDC_CLAIMS"]``: the dotted path of a
function ``(user, scopes) -> dict`` whose claims are added to these (or
replace them). A standard claim it returns still needs its scope (OpenID
Connect Core §5.4, e.g. ``email_verified`` needs ``email``); a claim of its own
is sent as returned, the function having been told the granted scopes. It
cannot change ``sub`` nor any claim that describes the token itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping
from typing import Any

from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _
from oauth2_provider.oauth2_validators import OAuth2Validator

from ..conf import conf

# OpenID Connect Core §5.4: the scope each standard claim belongs to (DOT's table).
CLAIM_SCOPES: Mapping[str, str] = OAuth2Validator.oidc_claim_scope

# What a Django user answers by itself; listed as ``claims_supported`` in discovery.
SUPPORTED = ["sub", "name", "given_name", "family_name", "preferred_username", "email"]

# Claims about the token, not the user: set by the server, never by the hook.
RESERVED = frozenset(
    {"iss", "aud", "exp", "iat", "nbf", "jti", "auth_time", "nonce", "azp", "at_hash", "c_hash"}
    | {"acr", "amr", "sid"}
)

LABELS: Mapping[str, Any] = {
    "sub": _("An identifier of your account (not your username)"),
    "name": _("Your name"),
    "given_name": _("Your first name"),
    "family_name": _("Your last name"),
    "preferred_username": _("Your username"),
    "email": _("Your email address"),
    "email_verified": _("Whether your email address is verified"),
    "picture": _("Your picture"),
    "locale": _("Your language"),
    "zoneinfo": _("Your time zone"),
}


def subject(user: Any) -> str:
    """The ``sub`` of ``user``: its primary key, which never changes and is not the username."""
    return str(user.pk)


def claims_for(user: Any, scopes: Collection[str]) -> dict[str, Any]:
    """The claims ``scopes`` allow about ``user``, hook included; ``sub`` always."""
    scopes = frozenset(scopes)
    values = {**_user_claims(user), **_host_claims(user, scopes)}
    allowed = {
        name: value
        for name, value in values.items()
        if value not in (None, "") and CLAIM_SCOPES.get(name, "") in {*scopes, ""}
    }
    return {"sub": subject(user), **allowed}


def identity_claims(user: Any, scopes: Collection[str]) -> list[dict[str, Any]]:
    """What the consent page lists: each claim a client will receive, labelled, with its value.

    Empty without ``openid``: no ID token is issued and UserInfo refuses the token.
    """
    if "openid" not in scopes:
        return []
    return [
        {
            "claim": name,
            "label": LABELS.get(name, name),
            "value": "" if name == "sub" else value,
        }
        for name, value in claims_for(user, scopes).items()
    ]


# --- private helpers ------------------------------------------------------------------


def _user_claims(user: Any) -> dict[str, Any]:
    get_full_name = getattr(user, "get_full_name", None)
    email_field = user.get_email_field_name() if hasattr(user, "get_email_field_name") else "email"
    return {
        "name": get_full_name() if callable(get_full_name) else "",
        "given_name": getattr(user, "first_name", ""),
        "family_name": getattr(user, "last_name", ""),
        "preferred_username": user.get_username(),
        "email": getattr(user, email_field, ""),
    }


def _host_claims(user: Any, scopes: frozenset[str]) -> dict[str, Any]:
    if not conf.OIDC_CLAIMS:
        return {}
    extra = _hook(conf.OIDC_CLAIMS)(user, scopes) or {}
    return {name: value for name, value in extra.items() if name not in RESERVED | {"sub"}}


@functools.lru_cache(maxsize=4)
def _hook(path: str) -> Callable[[Any, frozenset[str]], Mapping[str, Any]]:
    return import_string(path)
