"""Bearer-token authentication for Django REST framework views (RFC 6750).

A host project sets::

    REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["source_oauth.authentication.BearerAuthentication"],
        ...
    }

The token is checked by django-oauth-toolkit and oauthlib, as with DOT's own
``OAuth2Authentication``; the lookup of an access token by its bearer string
is ``SourceOAuth2Validator._load_access_token``, which the token cache serves.
A token in the ``Authorization: Bearer`` header, the usual case, goes straight
to the validator's ``validate_bearer_token`` (oauthlib's resource endpoint
would only find the header and call it, after copying every request header);
a token in a form body (RFC 6750 §2.2) takes DOT's whole path. The
validator gets a request object built for that call only (``_BearerRequest``),
which does none of oauthlib's parsing. What this
class adds is RFC 6750 at the edges: a request that presents a
token which does not work is refused with 401 and an ``error="invalid_token"``
challenge (DOT would let it through as anonymous), a token in the query
string is refused, and the challenge carries ``SOURCE_OAUTH["REALM"]``.
"""

from __future__ import annotations

from functools import cached_property
from types import MappingProxyType
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext as _
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import CaseInsensitiveDict
from oauthlib.common import Request as OAuthlibRequest
from rest_framework import exceptions
from rest_framework.request import Request

from .conf import conf

INVALID_TOKEN = "invalid_token"
INVALID_REQUEST = "invalid_request"


def bearer_challenge(**params: str) -> str:
    """A ``WWW-Authenticate`` value: ``Bearer realm="…"`` followed by ``params`` in order.

    Values are quoted-strings (RFC 9110 §5.6.4) of printable ASCII: anything
    else (a line break, a translated message's accents) is dropped, quotes
    and backslashes are escaped, so no value can end the header early.
    """
    attributes = {"realm": conf.REALM, **params}
    return "Bearer " + ", ".join(f'{name}="{_quote(value)}"' for name, value in attributes.items())


def _quote(value: str) -> str:
    value = "".join(char for char in str(value) if " " <= char <= "~")
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _bearer_header(request: Request) -> tuple[bool, str | None]:
    """Whether ``Authorization`` is a Bearer header, and its token as oauthlib reads it.

    The token is None when the header is malformed (no token, or more than one part).
    """
    parts = request.META.get("HTTP_AUTHORIZATION", "").split()
    if not parts or parts[0].lower() != "bearer":
        return False, None
    return True, parts[1] if len(parts) == 2 else None


class BearerAuthentication(OAuth2Authentication):
    """An access token in the ``Authorization: Bearer`` header; a bad one is a 401.

    Returns ``(user, token)``. For a client-credentials token, which acts for
    no user, ``user`` is ``AnonymousUser`` (DOT gives ``None``, which breaks
    ``request.user.is_authenticated``). Without a token it returns None, so
    the request is anonymous and permissions decide (see
    ``source_oauth.permissions``).
    """

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        # A request without a query string has no query parameters: not parsed for nothing.
        if request.META.get("QUERY_STRING") and "access_token" in request.query_params:
            # DOT refuses it too (COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT) but
            # silently; say why, so the client developer knows what to change.
            self._fail(
                request,
                INVALID_REQUEST,
                _(
                    "Access tokens are not accepted in the query string; send them in "
                    "an Authorization: Bearer header."
                ),
            )
        presented, header_token = _bearer_header(request)
        if header_token is None:
            result = super().authenticate(request)
        else:
            result = self._verify(request, header_token)
        if result is not None:
            user, token = result
            if user is None:
                return AnonymousUser(), token
            if not getattr(user, "is_active", True):
                self._fail(request, INVALID_TOKEN, _("The user of this access token is inactive."))
            return user, token
        error = getattr(request, "oauth2_error", None) or {}
        if error or presented:
            # A token was presented (header or, per RFC 6750 §2.2, form body) and refused.
            self._fail(
                request,
                error.get("error", INVALID_TOKEN),
                error.get("error_description", _("The access token is invalid.")),
            )
        return None

    def _verify(self, request: Request, token: str) -> tuple[Any, Any] | None:
        """DOT's answer for a header token, from the configured validator."""
        oauthlib_request = _BearerRequest(request)
        validator = oauth2_settings.OAUTH2_VALIDATOR_CLASS()
        if validator.validate_bearer_token(token, [], oauthlib_request):
            return oauthlib_request.user, oauthlib_request.access_token
        request.oauth2_error = getattr(oauthlib_request, "oauth2_error", {})
        return None

    def authenticate_header(self, request: Request) -> str:
        """The challenge of a 401: the realm, the error when a token was refused, and where
        the API's RFC 9728 metadata names its authorization server (``resource_metadata``)."""
        params = dict(getattr(request, "oauth2_error", None) or {})
        metadata_url = oauth2_settings.oauth2_resource_metadata_url(request)
        if metadata_url:
            params["resource_metadata"] = metadata_url
        return bearer_challenge(**params)

    def _fail(self, request: Request, error: str, description: str) -> None:
        # authenticate_header() builds the challenge from this; the body says the same.
        request.oauth2_error = {"error": error, "error_description": description}
        raise exceptions.AuthenticationFailed({"detail": description, "error": error})


# Every parameter oauthlib's Request knows, as its constructor sets them for a request
# without query or body: None. Read-only, so one mapping serves every request.
_NO_PARAMS = MappingProxyType(dict.fromkeys(OAuthlibRequest("http://x/")._params))


class _BearerRequest(OAuthlibRequest):
    """oauthlib's ``Request`` for ``validate_bearer_token``, without the work it never reads.

    oauthlib's constructor normalises a URI, parses its query and a body and
    fills forty parameters; DOT's check of a bearer token reads none of them,
    and reads the URI only for a token restricted to audiences (RFC 8707). So
    the absolute URI is built when first read (without the query string, as
    DOT compares it), and the parameters are oauthlib's defaults, shared.
    Whatever the validator sets (``user``, ``access_token``, ``oauth2_error``...)
    lands on this object as on oauthlib's.
    """

    def __init__(self, request: Request) -> None:  # not super's: that is the work skipped
        self._django_request = request
        self.http_method = request.method
        self.headers = CaseInsensitiveDict({})
        self.body = None
        self.decoded_body = None
        self.oauth_params = []
        self.validator_log = {}
        self._params = _NO_PARAMS

    @cached_property
    def uri(self) -> str:  # type: ignore[override]
        return self._django_request.build_absolute_uri(self._django_request.path)
