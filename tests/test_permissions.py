"""source_oauth.permissions and source_oauth.authentication, view by view (APIRequestFactory).

Tokens are real rows, stored the way the token endpoint stores them (hashed);
the requests go through ``BearerAuthentication``, the permission classes and
the example project's ``EXCEPTION_HANDLER``, so each test asserts the exact
status, ``WWW-Authenticate`` header and body a client gets.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from unittest import mock

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, set_token_value
from rest_framework import exceptions
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from source_oauth.authentication import BearerAuthentication, bearer_challenge
from source_oauth.models import ApiClient, Scope
from source_oauth.permissions import HTTP_METHODS, HasScopes, HasUser, granted_scopes
from tests.oauth_helpers import new_client

AccessToken = get_access_token_model()
factory = APIRequestFactory()

REALM = 'Bearer realm="source_oauth"'
# RFC 9728: a 401 also says where the API's protected resource metadata is.
METADATA = ', resource_metadata="http://testserver/.well-known/oauth-protected-resource"'
NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}
READ_WRITE = HasScopes.of(read=["content:read"], write=["content:write"])
SAFE = ["get", "head", "options"]
UNSAFE = ["post", "put", "patch", "delete"]


class Probe(APIView):
    """Answers every method with 200 once authentication and permissions let it."""

    authentication_classes = [BearerAuthentication]

    def get(self, request, *args, **kwargs):
        return Response({"ok": True})

    post = put = patch = delete = get


def call(permission_classes, method="get", token=None, *, path="/probe/", view=Probe, **attrs):
    """Run one request through a Probe protected by ``permission_classes``."""
    probe = type("Probe", (view,), {"permission_classes": permission_classes, **attrs})
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return probe.as_view()(getattr(factory, method)(path, **headers))


def make_token(client, scope, user=None, expires_in=3600):
    """An access token of ``client`` as the token endpoint stores it; returns the bearer string."""
    raw = secrets.token_urlsafe(32)
    token = AccessToken(
        application=client,
        user=user,
        scope=scope,
        expires=timezone.now() + timedelta(seconds=expires_in),
    )
    set_token_value(token, raw)
    token.save()
    return raw


def insufficient(required, missing):
    """The exact 403 a token without ``missing`` gets: (header, body)."""
    noun = "scope" if len(missing) == 1 else "scopes"
    detail = f"The access token lacks the {noun} this request needs: {', '.join(missing)}."
    header = bearer_challenge(
        error="insufficient_scope", error_description=detail, scope=" ".join(required)
    )
    body = {
        "detail": detail,
        "error": "insufficient_scope",
        "required_scopes": list(required),
        "missing_scopes": list(missing),
    }
    return header, body


def assert_insufficient(response, required, missing):
    header, body = insufficient(required, missing)
    assert response.status_code == 403
    assert response["WWW-Authenticate"] == header
    assert response.data == body


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """These tests create users but never check a password: skip PBKDF2's 0.3 s."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api_client(catalog):
    client, _ = new_client(scopes=["content:read", "content:write", "user:profile"])
    return client


@pytest.fixture
def tokens(api_client, user):
    """Bearer strings by name: app-only tokens with various scopes, and one of a user."""
    return {
        "read": make_token(api_client, "content:read"),
        "write": make_token(api_client, "content:write"),
        "both": make_token(api_client, "content:read content:write"),
        "profile": make_token(api_client, "user:profile"),
        "none": make_token(api_client, ""),
        "user": make_token(api_client, "content:read user:profile", user=user),
    }


# --- BearerAuthentication: 401s ----------------------------------------------------------


@pytest.mark.django_db
def test_no_token_needing_a_scope_anonymous_lacks_is_401_with_a_bare_challenge(catalog):
    response = call([READ_WRITE], "post")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == REALM + METADATA
    assert response.data == NOT_PROVIDED


def invalid(description, error="invalid_token"):
    header = f'{REALM}, error="{error}", error_description="{description}"{METADATA}'
    return header, {"detail": description, "error": error}


@pytest.mark.django_db
def test_unknown_token_is_401_invalid_token(catalog):
    response = call([READ_WRITE], "get", "no-such-token")
    header, body = invalid("The access token is invalid.")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == header
    assert response.data == body


@pytest.mark.django_db
def test_expired_token_is_401_invalid_token(api_client):
    token = make_token(api_client, "content:read", expires_in=-1)
    response = call([READ_WRITE], "get", token)
    header, body = invalid("The access token has expired.")
    assert (response.status_code, response["WWW-Authenticate"], response.data) == (
        401,
        header,
        body,
    )


@pytest.mark.django_db
def test_revoked_token_is_401_invalid_token(api_client):
    token = make_token(api_client, "content:read")
    assert call([READ_WRITE], "get", token).status_code == 200
    AccessToken.objects.get(application=api_client).revoke()  # DOT deletes it
    response = call([READ_WRITE], "get", token)
    header, body = invalid("The access token is invalid.")
    assert (response.status_code, response["WWW-Authenticate"], response.data) == (
        401,
        header,
        body,
    )


@pytest.mark.django_db
def test_token_in_query_string_is_refused_even_when_valid(tokens):
    # DOT's COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT makes verify_request refuse it.
    response = call([READ_WRITE], "get", path=f"/probe/?access_token={tokens['read']}")
    description = (
        "Access tokens are not accepted in the query string; send them in an "
        "Authorization: Bearer header."
    )
    header, body = invalid(description, "invalid_request")
    assert (response.status_code, response["WWW-Authenticate"], response.data) == (
        401,
        header,
        body,
    )
    # Even beside a valid header: a request uses one method (RFC 6750 §2).
    response = call([READ_WRITE], "get", tokens["read"], path="/probe/?access_token=x")
    assert response.status_code == 401


@pytest.mark.django_db
def test_token_of_an_inactive_user_is_401(api_client, user):
    token = make_token(api_client, "content:read", user=user)
    user.is_active = False
    user.save()
    response = call([READ_WRITE], "get", token)
    header, body = invalid("The user of this access token is inactive.")
    assert (response.status_code, response["WWW-Authenticate"], response.data) == (
        401,
        header,
        body,
    )


@pytest.mark.django_db
def test_bearer_scheme_without_a_token_is_401_invalid_token(catalog):
    for value in ("Bearer", "Bearer ", "Bearer a b", "bearer"):
        request = factory.get("/probe/", HTTP_AUTHORIZATION=value)
        probe = type("P", (Probe,), {"permission_classes": [READ_WRITE]})
        response = probe.as_view()(request)
        assert response.status_code == 401, value
        assert response["WWW-Authenticate"] == invalid("The access token is invalid.")[0]


@pytest.mark.django_db
def test_other_schemes_are_left_to_other_authentication_classes(catalog):
    request = factory.post("/probe/", HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")
    response = type("P", (Probe,), {"permission_classes": [READ_WRITE]}).as_view()(request)
    assert (response.status_code, response["WWW-Authenticate"]) == (401, REALM + METADATA)


@pytest.mark.django_db
def test_an_invalid_token_is_refused_even_where_anyone_may_enter(catalog):
    response = call([AllowAny], "get", "no-such-token")
    assert response.status_code == 401
    assert call([AllowAny], "get").status_code == 200


@pytest.mark.django_db
def test_realm_comes_from_source_oauth_settings(catalog, settings):
    settings.SOURCE_OAUTH = {"REALM": 'my "cms"'}
    response = call([READ_WRITE], "delete")
    assert response["WWW-Authenticate"] == 'Bearer realm="my \\"cms\\""' + METADATA


@pytest.mark.django_db
def test_app_only_token_authenticates_as_anonymous_user_with_the_token(tokens):
    seen = {}

    class Spy(Probe):
        def get(self, request, *args, **kwargs):
            seen.update(user=request.user, auth=request.auth)
            return Response({})

    assert call([AllowAny], "get", tokens["read"], view=Spy).status_code == 200
    assert seen["user"].is_anonymous
    assert seen["auth"].scope == "content:read"


@pytest.mark.django_db
def test_form_body_token_is_accepted(tokens):
    # RFC 6750 §2.2, as DOT and oauthlib read it; only the query string is refused.
    probe = type("P", (Probe,), {"permission_classes": [READ_WRITE]})
    request = factory.post("/probe/", {"access_token": tokens["write"]}, format="multipart")
    assert probe.as_view()(request).status_code == 200
    request = factory.post("/probe/", {"access_token": "wrong"}, format="multipart")
    assert probe.as_view()(request).status_code == 401


# --- HasScopes -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("method", SAFE + UNSAFE)
@pytest.mark.parametrize("scopes", ["read", "write", "both", "none"])
def test_read_write_scopes_for_every_method_and_token(tokens, method, scopes):
    granted = {"read": {"content:read"}, "write": {"content:write"}, "none": set()}.get(
        scopes, {"content:read", "content:write"}
    )
    needed = "content:read" if method in SAFE else "content:write"
    response = call([READ_WRITE], method, tokens[scopes])
    if needed in granted:
        assert response.status_code == 200
        assert "WWW-Authenticate" not in response
    else:
        assert_insufficient(response, [needed], [needed])


@pytest.mark.django_db
@pytest.mark.parametrize("method", SAFE + UNSAFE)
def test_scopes_for_every_method(tokens, method):
    permission = HasScopes.of("content:read")
    assert call([permission], method, tokens["read"]).status_code == 200
    assert_insufficient(
        call([permission], method, tokens["write"]), ["content:read"], ["content:read"]
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "needed"),
    [
        ("get", "content:read"),
        ("head", "content:read"),  # HEAD and OPTIONS follow GET
        ("options", "content:read"),
        ("post", "content:write"),
        ("delete", "user:profile"),
    ],
)
def test_scopes_per_http_method(tokens, api_client, method, needed):
    permission = HasScopes.of(GET=["content:read"], POST="content:write", DELETE=["user:profile"])
    token = make_token(api_client, needed)
    assert call([permission], method, token).status_code == 200
    assert_insufficient(call([permission], method, tokens["none"]), [needed], [needed])


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["put", "patch"])
def test_a_method_the_declaration_leaves_out_is_refused(tokens, method):
    permission = HasScopes.of(GET=["content:read"], POST=["content:write"])
    response = call([permission], method, tokens["both"])
    assert response.status_code == 403
    assert "WWW-Authenticate" not in response
    assert response.data == {
        "detail": f"No scope grants {method.upper()} requests on this resource."
    }


@pytest.mark.django_db
def test_read_only_declaration_refuses_writes(tokens):
    permission = HasScopes.of(read=["content:read"])
    assert call([permission], "get", tokens["both"]).status_code == 200
    assert call([permission], "post", tokens["both"]).status_code == 403


@pytest.mark.django_db
def test_scopes_add_up_and_the_body_names_only_the_missing_ones(tokens, api_client):
    permission = HasScopes.of("content:read", write=["content:write"], DELETE=["user:profile"])
    assert call([permission], "post", tokens["both"]).status_code == 200
    assert_insufficient(
        call([permission], "delete", tokens["both"]),
        ["content:read", "content:write", "user:profile"],
        ["user:profile"],
    )
    assert_insufficient(
        call([permission], "delete", tokens["read"]),
        ["content:read", "content:write", "user:profile"],
        ["content:write", "user:profile"],
    )


@pytest.mark.django_db
def test_scopes_declared_on_the_view(tokens):
    response = call([HasScopes], "get", tokens["read"], required_scopes=["content:read"])
    assert response.status_code == 200
    declared = {"read": ["content:read"], "write": ["content:write"]}
    assert call([HasScopes], "post", tokens["write"], required_scopes=declared).status_code == 200
    assert_insufficient(
        call([HasScopes], "post", tokens["read"], required_scopes=declared),
        ["content:write"],
        ["content:write"],
    )


@pytest.mark.django_db
def test_a_view_that_declares_no_scopes_is_improperly_configured(tokens):
    with pytest.raises(ImproperlyConfigured) as error:
        call([HasScopes], "get", tokens["read"])
    assert str(error.value) == (
        "Probe is protected by HasScopes but declares no scopes. Put "
        "HasScopes.of(read=[...], write=[...]) in its permission_classes, or give the view "
        "a required_scopes attribute."
    )


@pytest.mark.django_db
def test_a_badly_declared_view_is_improperly_configured(tokens):
    with pytest.raises(ImproperlyConfigured, match=r"Probe.required_scopes: unknown argument"):
        call([HasScopes], "get", tokens["read"], required_scopes={"reed": ["content:read"]})


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "HasScopes.of() declares no scope."),
        ((), {"read": []}, "HasScopes.of() declares no scope."),
        ((), {"reads": ["a"]}, "HasScopes.of(): unknown argument 'reads'."),
        ((), {"get": ["a"]}, "HasScopes.of(): unknown argument 'get'."),
        (("content:read content:write",), {}, "is not a scope name"),
        ((), {"read": 5}, "HasScopes.of(): expected scope names, got 5."),
        ((), {"write": [""]}, "'' is not a scope name"),
        ((["content:read", 7],), {}, "7 is not a scope name"),
        (('say "hi"',), {}, "is not a scope name"),
    ],
)
def test_the_factory_refuses_mistakes_when_the_view_is_defined(args, kwargs, message):
    with pytest.raises(ImproperlyConfigured) as error:
        HasScopes.of(*args, **kwargs)
    assert message in str(error.value)


def test_the_factory_makes_a_named_subclass():
    permission = HasScopes.of("a:b", read="c", POST=["d", "e"])
    assert issubclass(permission, HasScopes)
    assert permission.__name__ == "HasScopes.of(a:b, read=c, POST=d e)"
    # A list of scopes counts as its names.
    assert HasScopes.of(["a", "b"]).required_scopes == HasScopes.of("a", "b").required_scopes


def test_each_methods_scopes_are_worked_out_once_and_only_known_methods_are_kept():
    requirement = HasScopes.of("a:b", read="c", POST=["d"]).required_scopes
    with mock.patch.object(type(requirement), "_work_out", wraps=requirement._work_out) as work:
        assert requirement.for_method("HEAD") == ("a:b", "c")
        assert requirement.for_method("HEAD") == ("a:b", "c")
        assert requirement.for_method("POST") == ("a:b", "d")
        assert work.call_count == 2
        # Any name a client sends reaches the permission: none of them is kept.
        for name in ("BREW", "PROPFIND", "X" * 100):
            assert requirement.for_method(name) == ("a:b",)
        assert {"HEAD", "POST"} <= set(requirement._by_method) <= set(HTTP_METHODS)


@pytest.mark.django_db
def test_without_a_token_the_default_clients_scopes_apply(catalog):
    default = ApiClient.objects.get(is_default=True)
    assert set(default.allowed_scopes.values_list("name", flat=True)) == {"content:read"}
    assert call([READ_WRITE], "get").status_code == 200
    assert call([READ_WRITE], "post").status_code == 401

    # The cached scopes follow the admin's changes at once.
    default.allowed_scopes.add(Scope.objects.get(name="content:write"))
    assert call([READ_WRITE], "post").status_code == 200
    default.allowed_scopes.clear()
    response = call([READ_WRITE], "get")
    assert (response.status_code, response["WWW-Authenticate"]) == (401, REALM + METADATA)


@pytest.mark.django_db
def test_default_client_scopes_cost_one_query_then_none(catalog, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert call([READ_WRITE], "get").status_code == 200
    with django_assert_num_queries(0):
        assert call([READ_WRITE], "get").status_code == 200


@pytest.mark.django_db
def test_granted_scopes(tokens):
    seen = []

    class Spy(Probe):
        def get(self, request, *args, **kwargs):
            seen.append(granted_scopes(request))
            return Response({})

    call([AllowAny], "get", tokens["both"], view=Spy)
    call([AllowAny], "get", view=Spy)
    assert seen == [frozenset({"content:read", "content:write"}), frozenset({"content:read"})]


@pytest.mark.django_db
def test_without_the_exception_handler_the_body_is_the_same_but_there_is_no_challenge(tokens):
    class Plain(Probe):
        def get_exception_handler(self):
            return drf_exception_handler

    response = call([READ_WRITE], "post", tokens["read"], view=Plain)
    _header, body = insufficient(["content:write"], ["content:write"])
    assert response.status_code == 403
    assert "WWW-Authenticate" not in response
    assert response.data == body


# --- HasUser -------------------------------------------------------------------------------

USER_REQUIRED = {
    "detail": "This request needs an access token issued to a user; a client credentials "
    "token acts for no user.",
    "error": "user_required",
}


@pytest.mark.django_db
def test_has_user(tokens):
    assert call([HasUser], "get", tokens["user"]).status_code == 200
    response = call([HasUser], "get", tokens["profile"])
    assert response.status_code == 403
    assert "WWW-Authenticate" not in response
    assert response.data == USER_REQUIRED
    response = call([HasUser], "get")
    assert (response.status_code, response["WWW-Authenticate"], response.data) == (
        401,
        REALM + METADATA,
        NOT_PROVIDED,
    )


# --- composition ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_or(tokens):
    either = HasScopes.of("content:read") | HasScopes.of("content:write")
    assert call([either], "post", tokens["read"]).status_code == 200
    assert call([either], "post", tokens["write"]).status_code == 200
    # Both refused: the challenge names the last alternative tried.
    assert_insufficient(
        call([either], "post", tokens["profile"]), ["content:write"], ["content:write"]
    )


@pytest.mark.django_db
def test_and_keeps_the_message_of_the_refusing_permission(tokens):
    both = HasUser & HasScopes.of("user:profile")
    assert call([both], "get", tokens["user"]).status_code == 200
    response = call([both], "get", tokens["profile"])
    assert (response.status_code, response.data) == (403, USER_REQUIRED)
    assert_insufficient(
        call([HasScopes.of("user:profile") & HasUser], "get", tokens["read"]),
        ["user:profile"],
        ["user:profile"],
    )


@pytest.mark.django_db
def test_not(tokens):
    app_only = ~HasUser
    assert call([app_only], "get", tokens["read"]).status_code == 200
    response = call([app_only], "get", tokens["user"])
    assert response.status_code == 403
    assert "WWW-Authenticate" not in response
    assert response.data == {"detail": "You do not have permission to perform this action."}


@pytest.mark.django_db
def test_composes_with_drf_permissions(tokens, api_client, admin_user):
    write_or_admin = HasScopes.of("content:write") | IsAdminUser
    assert call([write_or_admin], "post", tokens["write"]).status_code == 200
    admin_token = make_token(api_client, "content:read", user=admin_user)
    assert call([write_or_admin], "post", admin_token).status_code == 200
    assert call([write_or_admin], "post", tokens["read"]).status_code == 403


@pytest.mark.django_db
def test_a_view_raising_permission_denied_keeps_drfs_answer(tokens):
    class Raising(Probe):
        def get(self, request, *args, **kwargs):
            raise exceptions.PermissionDenied("Not your article.")

    response = call([READ_WRITE], "get", tokens["read"], view=Raising)
    assert (response.status_code, response.data) == (403, {"detail": "Not your article."})
    assert "WWW-Authenticate" not in response


@pytest.mark.django_db
def test_a_refusal_rescued_by_or_does_not_leak_into_a_later_403(tokens):
    class Raising(Probe):
        def get(self, request, *args, **kwargs):
            raise exceptions.PermissionDenied("Not your article.")

    # HasScopes refuses, AllowAny lets the request in, then the view refuses on its own.
    response = call([HasScopes.of("content:write") | AllowAny], "get", tokens["read"], view=Raising)
    assert (response.status_code, response.data) == (403, {"detail": "Not your article."})
    assert "WWW-Authenticate" not in response


def test_bearer_challenge_is_one_line_of_printable_ascii(settings):
    settings.SOURCE_OAUTH = {"REALM": "cms"}
    value = bearer_challenge(error="invalid_token", error_description='Bad "t"\r\nX-Evil: 1 — é')
    assert (
        value
        == 'Bearer realm="cms", error="invalid_token", error_description="Bad \\"t\\"X-Evil: 1  "'
    )
