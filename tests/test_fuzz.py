"""Fuzzing the OAuth endpoints (issue #6, RFC 9700).

Hypothesis starts from valid requests to ``/oauth/token``, ``/oauth/authorize``,
``/oauth/revoke`` and ``/oauth/introspect`` (real client IDs, secrets, codes,
verifiers and tokens, fresh for every example) and mutates them: parameters
replaced by random, Unicode, NUL-laden or very long values, repeated or
dropped, random parameters added, the Authorization header replaced by
garbage. Whatever it sends:

- the answer is never a 500;
- the token, revocation and introspection endpoints answer JSON, with an
  ``error`` when they refuse (revocation answers 200 with an empty body, also
  for an unknown token: RFC 7009 §2.2);
- the authorization endpoint answers a redirect to a URI registered for the
  client (never anywhere else), the login page, the consent page or an error
  page;
- a refused request writes nothing to the database. The only writes a refusal
  may make are those RFC 9700 asks for: the presented code is burned, and a
  replayed spent code or refresh token revokes its family.

The in-process tests use Django's test client. Requests it cannot send
(invalid UTF-8 on the wire, oversized headers, broken Content-Type, bogus
Content-Length) go over a raw socket to the live server.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import socket
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from django.core.cache import caches
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from source_oauth.models import ApiClient, AuditEvent, RedeemedCode
from source_oauth.validator import checksum
from tests.oauth_helpers import REDIRECT_URI, basic, new_client, pkce_pair, web_client

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
Grant = get_grant_model()

LOOPBACK_URI = "http://127.0.0.1/callback"
THIRD_PARTY_URI = "https://third.example.com/callback"
WEB_SCOPES = "content:read user:profile"

FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI is repeatable
    database=None,
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --- the world the fuzzer talks to ------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """A placeholder drawn by the strategies, resolved to a real value of the example."""

    name: str

    def __repr__(self) -> str:
        return f"<{self.name}>"


DROP = Ref("drop the parameter")
KEEP = "keep the base request's Authorization header"


@dataclass
class Material:
    """Fresh credentials for one example, so that examples do not use up each other's.

    A new unused code of the web client, and a token family rotated once: its
    spent code and spent refresh token (replays) and its live pair.
    """

    values: dict[str, str]
    grant_pk: int
    redeemed_code_pk: int
    live_access_pk: int
    live_refresh_pk: int


class World:
    """The clients, the user and a test client; ``fresh()`` mints the per-example material."""

    def __init__(self, user, clients: dict[str, ApiClient], client_secrets: dict[str, str]):
        self.http = Client()
        self.user = user
        self.clients = clients
        self.secrets = client_secrets
        self.values = {f"{name}_id": client.client_id for name, client in clients.items()}
        self.values.update({f"{name}_secret": secret for name, secret in client_secrets.items()})

    def __repr__(self) -> str:  # keep secrets out of Hypothesis' reports
        return "World()"

    def fresh(self) -> Material:
        verifier, challenge = pkce_pair()
        grant = self.grant(challenge)
        used_verifier, used_challenge = pkce_pair()
        used = self.grant(used_challenge)
        first = self._token(
            {
                "grant_type": "authorization_code",
                "code": used.code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": used_verifier,
            }
        )
        second = self._token(
            {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        )
        values = {
            **self.values,
            "code": grant.code,
            "code_verifier": verifier,
            "code_challenge": challenge,
            "used_code": used.code,
            "spent_refresh_token": first["refresh_token"],
            "dead_access_token": first["access_token"],
            "access_token": second["access_token"],
            "refresh_token": second["refresh_token"],
        }
        return Material(
            values=values,
            grant_pk=grant.pk,
            redeemed_code_pk=RedeemedCode.objects.get(code_checksum=checksum(used.code)).pk,
            live_access_pk=AccessToken.objects.get(
                token_checksum=checksum(second["access_token"])
            ).pk,
            live_refresh_pk=RefreshToken.objects.get(
                token_checksum=checksum(second["refresh_token"])
            ).pk,
        )

    def grant(self, challenge: str):
        """An authorization code of the web client, as the authorization endpoint stores it."""
        return Grant.objects.create(
            application=self.clients["web"],
            user=self.user,
            code=secrets.token_urlsafe(30),
            expires=timezone.now() + timedelta(seconds=60),
            redirect_uri=REDIRECT_URI,
            scope=WEB_SCOPES,
            code_challenge=challenge,
            code_challenge_method="S256",
        )

    def _token(self, data: dict[str, str]) -> dict:
        response = self.http.post(
            "/oauth/token",
            data,
            HTTP_AUTHORIZATION=basic(self.values["web_id"], self.values["web_secret"]),
        )
        assert response.status_code == 200, response.content
        return response.json()


@pytest.fixture
def world(catalog, user):
    web, web_secret = web_client()
    public, _ = web_client(confidential=False)
    native, _ = web_client(confidential=False, redirect_uris=[LOOPBACK_URI])
    third, third_secret = web_client(third_party=True, redirect_uris=[THIRD_PARTY_URI])
    machine, machine_secret = new_client(scopes=["content:read", "content:write"])
    clients = {
        "web": web,
        "public": public,
        "native": native,
        "third": third,
        "machine": machine,
        "default": ApiClient.objects.get(is_default=True),
    }
    client_secrets = {"web": web_secret, "third": third_secret, "machine": machine_secret}
    return World(user, clients, client_secrets)


@pytest.fixture
def small_world(catalog, user):
    """Only the web and machine clients: enough for one request, quicker to build."""
    web, web_secret = web_client()
    machine, machine_secret = new_client(scopes=["content:read", "content:write"])
    return World(
        user,
        {"web": web, "machine": machine},
        {"web": web_secret, "machine": machine_secret},
    )


def clear_cache() -> None:
    """Failed client authentications are rate limited: each example starts afresh."""
    for cache in caches.all():
        cache.clear()


def resolve(value, values: dict[str, str]):
    if isinstance(value, Ref):
        return values[value.name]
    if isinstance(value, list):
        return [resolve(item, values) for item in value]
    if isinstance(value, dict):
        return {key: resolve(item, values) for key, item in value.items()}
    assert isinstance(value, str), value
    return value


def build(base: dict, changes: dict, extra: dict, values: dict[str, str]) -> dict:
    """The base request with random parameters added and the changes applied."""
    data = {**extra, **base}
    for name, value in changes.items():
        if value == DROP:
            data.pop(name, None)
        else:
            data[name] = value
    return resolve(data, values)


def authorization_header(spec, base_spec, values: dict[str, str]) -> str | None:
    if spec == KEEP:
        spec = base_spec
    if spec is None:
        return None
    kind, *parts = spec
    if kind == "basic":
        client_id, secret = (resolve(part, values) for part in parts)
        return basic(client_id, secret)
    if kind == "bearer":
        return "Bearer " + resolve(parts[0], values)
    return parts[0]


def sent(data: dict, name: str):
    """The value the server reads for a parameter: Django keeps the last of repeated ones."""
    value = data.get(name)
    return value[-1] if isinstance(value, list) and value else value


# --- what the database looks like -------------------------------------------------------


def db_state() -> dict[str, set]:
    """Fingerprints of every row a request could write (revoking changes a fingerprint)."""
    return {
        "access_token": set(AccessToken.objects.values_list("pk", flat=True)),
        "refresh_token": {
            (pk, revoked is None)
            for pk, revoked in RefreshToken.objects.values_list("pk", "revoked")
        },
        "grant": set(Grant.objects.values_list("pk", flat=True)),
        "api_client": set(
            ApiClient.objects.values_list("pk", "client_secret", "previous_client_secret")
        ),
        "redeemed_code": set(RedeemedCode.objects.values_list("pk", flat=True)),
        "audit_event": set(AuditEvent.objects.values_list("pk", "action")),
    }


def assert_writes_within(before, after, *, allowed=None, audit=(), context="") -> None:
    """Rows changed only as ``allowed`` says: ``{table: (may disappear, may appear)}``.

    ``audit``: the actions of the one audit event the request may record.
    """
    allowed = allowed or {}
    for table in before:
        gone, new = before[table] - after[table], after[table] - before[table]
        may_go, may_appear = allowed.get(table, (set(), set()))
        if table == "audit_event":
            assert len(new) <= (1 if audit else 0), f"audit events {new} {context}"
            assert {action for _pk, action in new} <= set(audit), f"{new} {context}"
            new = set()
        assert gone <= may_go, f"{table} rows removed or changed: {gone} {context}"
        assert new <= may_appear, f"{table} rows written or changed: {new} {context}"


def family_revocation(material: Material) -> dict:
    """What revoking the material's family changes: its live pair."""
    pk = material.live_refresh_pk
    return {
        "access_token": ({material.live_access_pk}, set()),
        "refresh_token": ({(pk, True)}, {(pk, False)}),
    }


# --- strategies ---------------------------------------------------------------------------

# Text as WSGI delivers a header (latin-1), and as a form field may carry it (UTF-8).
header_text = st.text(st.characters(max_codepoint=255), max_size=80)
form_text = st.text(st.characters(codec="utf-8"), max_size=80)

NASTY = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "%00",
    "%G0",
    "%",
    "+",
    "&",
    "=",
    "null",
    "[]",
    '{"a": 1}',
    "' OR '1'='1",
    '"',
    "\\",
    "../../../etc/passwd",
    "\u202e",
    "\U0001f600",
    "\r\nX-Injected: 1",
    "<script>alert(1)</script>",
    "a" * 5000,
    "9" * 400,
    "-1",
    "javascript:alert(1)",
    "https://evil.example.com/callback",
    REDIRECT_URI + "/",
    REDIRECT_URI.upper(),
    REDIRECT_URI + "?x=1",
    REDIRECT_URI + "#x",
    "http://127.0.0.1:99999/callback",
    "http://127.0.0.1:abc/callback",
    "http://127.0.0.1:8080/callback",
    "http://[::1/callback",
]
garbage = st.one_of(st.sampled_from(NASTY), st.sampled_from(NASTY), form_text)


def real_or_garbage(*choices):
    """A real value half of the time, garbage otherwise; sometimes sent repeatedly."""
    value = st.one_of(st.sampled_from(choices), garbage)
    return st.one_of(value, value, value, st.lists(value, min_size=2, max_size=3))


CLIENT_IDS = [Ref(f"{name}_id") for name in ("web", "public", "native", "third", "machine")]
CLIENT_IDS.append(Ref("default_id"))
SECRETS = [Ref("web_secret"), Ref("third_secret"), Ref("machine_secret")]
TOKENS = [
    Ref("access_token"),
    Ref("refresh_token"),
    Ref("spent_refresh_token"),
    Ref("dead_access_token"),
]
SCOPES = [
    "content:read",
    "content:read content:write",
    WEB_SCOPES,
    "user:profile content:read",
    "introspection",
    "openid",
    "content:read  content:read",
]
GRANT_TYPES = [
    "authorization_code",
    "client_credentials",
    "refresh_token",
    "password",
    "implicit",
    "token",
    "urn:ietf:params:oauth:grant-type:device_code",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "urn:ietf:params:oauth:grant-type:token-exchange",
    "AUTHORIZATION_CODE",
    "client_credentials ",
]


def mutations(fields: dict, max_size: int = 3):
    """Up to ``max_size`` parameters set to a fuzzed value, or dropped."""
    changes = [
        st.tuples(st.just(name), st.one_of(strategy, st.just(DROP)))
        for name, strategy in fields.items()
    ]
    return st.lists(st.one_of(*changes), max_size=max_size).map(dict)


extra_params = st.one_of(
    st.just({}),
    st.just({}),
    st.dictionaries(form_text.filter(bool), garbage, max_size=3),
)

auth_headers = st.one_of(
    st.none(),
    st.tuples(
        st.just("basic"),
        st.one_of(st.sampled_from(CLIENT_IDS), garbage),
        st.one_of(st.sampled_from(SECRETS), garbage),
    ),
    st.tuples(st.just("bearer"), st.one_of(st.sampled_from(TOKENS), header_text)),
    st.tuples(st.just("raw"), header_text.map(lambda v: "Basic " + v)),
    st.tuples(
        st.just("raw"),
        st.binary(max_size=60).map(lambda b: "Basic " + base64.b64encode(b).decode()),
    ),
    st.tuples(
        st.just("raw"),
        st.sampled_from(
            [
                "",
                "Basic",
                "Basic ",
                "basic Og==",
                "BASIC Og==",
                "Basic Og==",  # ":"
                "Basic =",
                "Basic ====",
                "Basic Og",
                "Basic w6k6w6k=",  # "é:é"
                "Basic //79",  # invalid UTF-8
                "Basic " + base64.b64encode(b"\x00:\x00").decode(),
                "Basic " + base64.b64encode(b"%00:%zz").decode(),
                "Basic " + base64.b64encode(b"a%00b:x").decode(),
                "Basic " + "A" * 8000,
                "Digest username=x",
                "Bearer",
                "Bearer ",
                "Basic\tOg==",
                " Basic Og==",
            ]
        ),
    ),
    st.tuples(st.just("raw"), header_text),
)
# Three examples in four keep the base request's (valid) client authentication.
auth_choices = st.one_of(st.just(KEEP), st.just(KEEP), st.just(KEEP), auth_headers)

WEB_BASIC = ("basic", Ref("web_id"), Ref("web_secret"))
MACHINE_BASIC = ("basic", Ref("machine_id"), Ref("machine_secret"))
CODE_REQUEST = {
    "grant_type": "authorization_code",
    "code": Ref("code"),
    "redirect_uri": REDIRECT_URI,
    "code_verifier": Ref("code_verifier"),
}
WEB_IN_BODY = {"client_id": Ref("web_id"), "client_secret": Ref("web_secret")}


def post(http: Client, path: str, data: dict, authorization: str | None):
    extra = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    return http.post(path, data, **extra)


def assert_json_answer(response, *, empty_ok: bool = False) -> dict:
    """A JSON body, with an ``error`` for a refusal; a 401 challenges HTTP Basic."""
    assert response.status_code < 500, response.content[:500]
    if empty_ok and response.status_code == 200 and not response.content:
        event("200 (empty)")
        return {}
    assert response["Content-Type"] == "application/json", (response.status_code, response.content)
    body = response.json()
    event(f"{response.status_code} {body.get('error', '')}")
    if response.status_code >= 400:
        assert isinstance(body.get("error"), str) and body["error"], body
    if response.status_code == 401:
        assert response["WWW-Authenticate"].startswith('Basic realm="source_oauth"')
    if response.status_code == 429:
        assert body["error"] == "slow_down"
    return body


# --- the token endpoint -------------------------------------------------------------------

TOKEN_BASES = {
    "authorization_code": (CODE_REQUEST, WEB_BASIC),
    "authorization_code, secret in body": ({**CODE_REQUEST, **WEB_IN_BODY}, None),
    "refresh_token": (
        {"grant_type": "refresh_token", "refresh_token": Ref("refresh_token")},
        WEB_BASIC,
    ),
    "client_credentials": (
        {"grant_type": "client_credentials", "scope": "content:read"},
        MACHINE_BASIC,
    ),
    "empty": ({}, None),
}
TOKEN_FIELDS = {
    "grant_type": real_or_garbage(*GRANT_TYPES),
    "client_id": real_or_garbage(*CLIENT_IDS),
    "client_secret": real_or_garbage(*SECRETS),
    "code": real_or_garbage(Ref("code"), Ref("used_code")),
    "code_verifier": real_or_garbage(Ref("code_verifier"), "a" * 43, "a" * 129),
    "redirect_uri": real_or_garbage(REDIRECT_URI, LOOPBACK_URI, THIRD_PARTY_URI),
    "scope": real_or_garbage(*SCOPES),
    "refresh_token": real_or_garbage(*TOKENS),
    "resource": real_or_garbage("https://api.example.com/", "urn:x"),
    "state": garbage,
    "username": garbage,
    "password": garbage,
    "device_code": garbage,
    "assertion": garbage,
}


def assert_issued_token_is_sound(body: dict) -> None:
    """A 200 issues a stored token, within the client's allowed scopes (RFC 9700 §2.3)."""
    assert body["token_type"] == "Bearer" and body["access_token"], body
    token = AccessToken.objects.get(token_checksum=checksum(body["access_token"]))
    allowed = set(token.application.allowed_scopes.values_list("name", flat=True))
    assert set(body["scope"].split()) == set(token.scope.split()) <= allowed, body
    if "refresh_token" in body:
        assert "refresh_token" in token.application.grant_types
        assert (
            RefreshToken.objects.get(
                token_checksum=checksum(body["refresh_token"]), revoked=None
            ).access_token
            == token
        )


@FUZZ
@given(
    base=st.sampled_from(sorted(TOKEN_BASES)),
    changes=mutations(TOKEN_FIELDS),
    extra=extra_params,
    auth=auth_choices,
    with_slash=st.booleans(),
)
def test_token_endpoint_never_fails_and_refusals_write_nothing(
    world, base, changes, extra, auth, with_slash
):
    clear_cache()
    material = world.fresh()
    values = material.values
    base_params, base_auth = TOKEN_BASES[base]
    data = build(base_params, changes, extra, values)
    before = db_state()

    path = "/oauth/token/" if with_slash else "/oauth/token"
    response = post(world.http, path, data, authorization_header(auth, base_auth, values))

    body = assert_json_answer(response)
    assert response["Cache-Control"] == "no-store"
    if response.status_code == 200:
        assert_issued_token_is_sound(body)
        return
    allowed = {}
    if sent(data, "code") == values["code"]:
        # A code is single use, also when its redemption fails (RFC 9700 §2.1.1).
        allowed["grant"] = ({material.grant_pk}, set())
    replay = (
        sent(data, "code") == values["used_code"]
        or sent(data, "refresh_token") == values["spent_refresh_token"]
    )
    audit = ()
    if replay:
        # A replayed spent code or refresh token revokes the family (RFC 9700 §2.2.2, §4.14).
        allowed.update(family_revocation(material))
        allowed["redeemed_code"] = ({material.redeemed_code_pk}, set())
        audit = (AuditEvent.Action.CODE_REPLAYED, AuditEvent.Action.REFRESH_TOKEN_REPLAYED)
    assert_writes_within(
        before, db_state(), allowed=allowed, audit=audit, context=f"{response.status_code} {body}"
    )


# --- revocation -----------------------------------------------------------------------------

REVOKE_BASES = {
    "access token": ({"token": Ref("access_token")}, WEB_BASIC),
    "refresh token": (
        {"token": Ref("refresh_token"), "token_type_hint": "refresh_token"},
        WEB_BASIC,
    ),
    "secret in body": ({"token": Ref("access_token"), **WEB_IN_BODY}, None),
    "another client's token": ({"token": Ref("access_token")}, MACHINE_BASIC),
    "empty": ({}, None),
}
REVOKE_FIELDS = {
    "token": real_or_garbage(*TOKENS),
    "token_type_hint": real_or_garbage(
        "access_token", "refresh_token", "id_token", "device_code", "ACCESS_TOKEN"
    ),
    "client_id": real_or_garbage(*CLIENT_IDS),
    "client_secret": real_or_garbage(*SECRETS),
}


def authenticates_as_owner(data: dict, authorization: str | None, values: dict[str, str]) -> bool:
    """Whether the request carries the web client's (the tokens' owner's) credentials."""
    if authorization and authorization.split(" ", 1)[0].lower() == "basic":
        return authorization == basic(values["web_id"], values["web_secret"])
    return (sent(data, "client_id"), sent(data, "client_secret")) == (
        values["web_id"],
        values["web_secret"],
    )


@FUZZ
@given(
    base=st.sampled_from(sorted(REVOKE_BASES)),
    changes=mutations(REVOKE_FIELDS),
    extra=extra_params,
    auth=auth_choices,
)
def test_revocation_never_fails_and_only_the_owner_revokes(world, base, changes, extra, auth):
    clear_cache()
    material = world.fresh()
    values = material.values
    base_params, base_auth = REVOKE_BASES[base]
    data = build(base_params, changes, extra, values)
    authorization = authorization_header(auth, base_auth, values)
    before = db_state()

    response = post(world.http, "/oauth/revoke", data, authorization)

    # RFC 7009 §2.2: 200 with an empty body, also for an unknown or invalid token.
    assert_json_answer(response, empty_ok=True)
    assert response["Cache-Control"] == "no-store"
    if response.status_code == 200:
        assert response.content == b""
    may_revoke = (
        response.status_code == 200
        and authenticates_as_owner(data, authorization, values)
        and sent(data, "token") in (values["access_token"], values["refresh_token"])
    )
    after = db_state()
    if may_revoke:
        # The owner revoked its live pair (either token revokes both): that, and nothing else.
        assert after != before
        assert not AccessToken.objects.filter(pk=material.live_access_pk).exists()
        assert RefreshToken.objects.get(pk=material.live_refresh_pk).revoked is not None
    assert_writes_within(
        before,
        after,
        allowed=family_revocation(material) if may_revoke else None,
        audit=(AuditEvent.Action.TOKEN_REVOKED,) if may_revoke else (),
        context=f"{response.status_code}",
    )


# --- introspection --------------------------------------------------------------------------

INTROSPECT_BASES = {
    "the owner": ({"token": Ref("access_token")}, WEB_BASIC),
    "another confidential client": ({"token": Ref("access_token")}, MACHINE_BASIC),
    "secret in body": ({"token": Ref("access_token"), **WEB_IN_BODY}, None),
    "empty": ({}, None),
}
INTROSPECT_FIELDS = {
    "token": real_or_garbage(*TOKENS),
    "token_type_hint": real_or_garbage("access_token", "refresh_token"),
    "client_id": real_or_garbage(*CLIENT_IDS),
    "client_secret": real_or_garbage(*SECRETS),
}


@FUZZ
@given(
    base=st.sampled_from(sorted(INTROSPECT_BASES)),
    changes=mutations(INTROSPECT_FIELDS),
    extra=extra_params,
    auth=auth_choices,
    method=st.sampled_from(["post", "post", "post", "get", "put", "delete"]),
)
def test_introspection_never_fails_and_never_writes(world, base, changes, extra, auth, method):
    clear_cache()
    material = world.fresh()
    values = material.values
    base_params, base_auth = INTROSPECT_BASES[base]
    data = build(base_params, changes, extra, values)
    authorization = authorization_header(auth, base_auth, values)
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    before = db_state()

    if method == "post":
        response = world.http.post("/oauth/introspect", data, **headers)
    else:
        response = getattr(world.http, method)("/oauth/introspect", **headers)

    assert response.status_code < 500, response.content[:500]
    if response.status_code == 405:
        assert method != "post"
        event("405")
    else:
        body = assert_json_answer(response)
        if response.status_code == 200:
            assert method == "post"
            # Active only for the live access token (not a refresh, spent or dead token).
            assert body["active"] is (sent(data, "token") == values["access_token"]), body
    assert_writes_within(before, db_state(), context=f"{response.status_code}")


# --- the authorization endpoint ---------------------------------------------------------------


def authorize_base(client: str, redirect_uri: str) -> dict:
    return {
        "client_id": Ref(f"{client}_id"),
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "scope": "content:read",
        "state": "xyz",
        "code_challenge": Ref("code_challenge"),
        "code_challenge_method": "S256",
    }


AUTHORIZE_BASES = {
    "first party": authorize_base("web", REDIRECT_URI),
    "public": authorize_base("public", REDIRECT_URI),
    "native, loopback": authorize_base("native", LOOPBACK_URI),
    "third party": authorize_base("third", THIRD_PARTY_URI),
    "client credentials only": authorize_base("machine", REDIRECT_URI),
    "empty": {},
}
AUTHORIZE_FIELDS = {
    "client_id": real_or_garbage(*CLIENT_IDS),
    "response_type": real_or_garbage("code", "token", "code token", "id_token", "CODE", "none"),
    "redirect_uri": real_or_garbage(
        REDIRECT_URI, LOOPBACK_URI, THIRD_PARTY_URI, "http://127.0.0.1:43210/callback"
    ),
    "scope": real_or_garbage(*SCOPES),
    "state": garbage,
    "code_challenge": real_or_garbage(Ref("code_challenge"), "a" * 43, "a" * 200),
    "code_challenge_method": real_or_garbage("S256", "plain", "s256", "RS256"),
    "prompt": real_or_garbage("none", "login", "consent", "create", "login consent"),
    "approval_prompt": real_or_garbage("auto", "force"),
    "nonce": garbage,
    "claims": real_or_garbage('{"userinfo": {"email": null}}', "{", "[]"),
    "resource": real_or_garbage("https://api.example.com/", "urn:x", "not a uri"),
    "ui_locales": garbage,
    "max_age": garbage,
    "request": garbage,
    "request_uri": garbage,
    "response_mode": real_or_garbage("query", "fragment", "form_post"),
}
CONSENT_FIELDS = {
    **AUTHORIZE_FIELDS,
    "allow": real_or_garbage("Authorize", "1", "", "false", "on"),
    "cancel": real_or_garbage("1"),
}


def registered_uris(data: dict) -> set[str]:
    """The redirect URIs registered for whichever client the request names."""
    names = data.get("client_id")
    names = names if isinstance(names, list) else [names]
    names = [name for name in names if name and "\x00" not in name]
    uris = set()
    for client in ApiClient.objects.filter(client_id__in=names):
        uris.update(client.redirect_uris.split())
    return uris


def check_authorize_answer(response, data: dict, before, *, logged_in: bool) -> None:
    assert response.status_code < 500, response.content[:500]
    status, content_type = response.status_code, response.get("Content-Type", "")
    grant = None
    if status == 302:
        location = response["Location"]
        parts = urlsplit(location)
        target = location.split("?", 1)[0].split("#", 1)[0]
        if target == "/accounts/login/":
            event("302 login")
        else:
            # Never an open redirect: only to a URI registered for the named client
            # (an anonymous user gets one for prompt=none: login_required).
            loopback_port_variant = target == "http://127.0.0.1:43210/callback"
            assert target in registered_uris(data) or loopback_port_variant, location
            # The response rides in the query, or the fragment for response_mode=fragment.
            query = parse_qs(parts.query) or parse_qs(parts.fragment)
            assert "code" in query or "error" in query, location
            event("302 code" if "code" in query else f"302 {query['error'][0]}")
            if "code" in query:
                assert logged_in, location
                grant = Grant.objects.get(code=query["code"][0])
                # Every code is PKCE-bound with S256, within the client's allowed scopes.
                assert grant.code_challenge and grant.code_challenge_method == "S256"
                allowed = set(grant.application.allowed_scopes.values_list("name", flat=True))
                assert set(grant.scope.split()) <= allowed
                assert grant.user_id is not None
    elif status == 200:
        event("200 consent")
        assert logged_in and content_type.startswith("text/html"), response.content[:300]
        assert b'id="authorizationForm"' in response.content
    else:
        event(f"{status}")
        assert 400 <= status < 500, status
        if content_type.startswith("application/json"):
            assert response.json()["error"]  # DOT's answer to prompt=create
        else:
            assert content_type.startswith("text/html"), content_type
    allowed = {"grant": (set(), {grant.pk})} if grant else None
    assert_writes_within(before, db_state(), allowed=allowed, context=f"{status}")


# Query strings no client library builds: bad escapes, bare separators.
raw_query_tails = st.one_of(
    st.just(""),
    st.just(""),
    st.just(""),
    st.sampled_from(
        ["&", "&&", "=", "&=x", "&x", "&%", "&x=%", "&x=%G0", "&x=%zz", "&%00=1", "&x=%ff%fe"]
    ),
)


@FUZZ
@given(
    base=st.sampled_from(sorted(AUTHORIZE_BASES)),
    changes=mutations(AUTHORIZE_FIELDS),
    extra=extra_params,
    tail=raw_query_tails,
    logged_in=st.booleans(),
)
def test_authorize_get_never_fails_and_redirects_only_to_registered_uris(
    world, base, changes, extra, tail, logged_in
):
    clear_cache()
    values = {**world.values, "code_challenge": pkce_pair()[1]}
    data = build(AUTHORIZE_BASES[base], changes, extra, values)
    http = Client()
    if logged_in:
        http.force_login(world.user)
    before = db_state()

    response = http.get("/oauth/authorize?" + urlencode(data, doseq=True) + tail)

    check_authorize_answer(response, data, before, logged_in=logged_in)


CONSENT_BASES = {
    "first party, allowed": {**authorize_base("web", REDIRECT_URI), "allow": "Authorize"},
    "third party, allowed": {**authorize_base("third", THIRD_PARTY_URI), "allow": "Authorize"},
    "third party, denied": {**authorize_base("third", THIRD_PARTY_URI), "cancel": "1"},
    "empty": {},
}


@FUZZ
@given(
    base=st.sampled_from(sorted(CONSENT_BASES)),
    changes=mutations(CONSENT_FIELDS),
    extra=extra_params,
    logged_in=st.booleans(),
)
def test_authorize_post_never_fails_and_redirects_only_to_registered_uris(
    world, base, changes, extra, logged_in
):
    clear_cache()
    values = {**world.values, "code_challenge": pkce_pair()[1]}
    data = build(CONSENT_BASES[base], changes, extra, values)
    http = Client()
    if logged_in:
        http.force_login(world.user)
    before = db_state()

    response = http.post("/oauth/authorize", data)

    check_authorize_answer(response, data, before, logged_in=logged_in)
    if response.status_code == 302 and "code=" in response["Location"]:
        # A code only when the user allowed it.
        assert str(sent(data, "allow")).lower() not in ("", "false", "0", "none"), data


# --- the bases are valid requests: the fuzzer mutates working requests ------------------------


@pytest.mark.parametrize("base", sorted(set(TOKEN_BASES) - {"empty"}))
def test_token_bases_succeed(world, base):
    material = world.fresh()
    params, auth = TOKEN_BASES[base]
    data = build(params, {}, {}, material.values)
    response = post(
        world.http, "/oauth/token", data, authorization_header(KEEP, auth, material.values)
    )
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    "base, expected",
    [
        ("first party", "code"),
        ("public", "code"),
        ("native, loopback", "code"),
        ("third party", "consent"),
        ("client credentials only", "error page"),
    ],
)
def test_authorize_bases_answer_as_expected(world, base, expected):
    values = {**world.values, "code_challenge": pkce_pair()[1]}
    data = build(AUTHORIZE_BASES[base], {}, {}, values)
    world.http.force_login(world.user)
    response = world.http.get("/oauth/authorize?" + urlencode(data))
    if expected == "code":
        assert response.status_code == 302
        assert "code" in parse_qs(urlsplit(response["Location"]).query)
    elif expected == "consent":
        assert response.status_code == 200 and b'id="authorizationForm"' in response.content
    else:
        assert response.status_code == 400 and b"Authorization error" in response.content


# --- what the fuzzers found, one request each ---------------------------------------------------
#
# Each was answered wrongly when written (a 500, an open redirect, a write by a refused
# request, JSON labelled HTML); the docstrings say where.


def web_authorization_header(world: World) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": basic(world.values["web_id"], world.values["web_secret"])}


def valid_authorize_query(world: World, **changes: str) -> dict[str, str]:
    values = {**world.values, "code_challenge": pkce_pair()[1]}
    return build(AUTHORIZE_BASES["first party"], changes, {}, values)


@pytest.mark.parametrize(
    "path", ["/oauth/token?x=%G0", "/oauth/revoke?x=%zz", "/oauth/introspect?x=%zz"]
)
def test_bad_percent_escape_in_the_query_is_a_json_error(small_world, path):
    """oauthlib's ``urldecode`` raises ValueError("Invalid hex encoding in query string")
    from ``oauthlib.common.Request.__init__``, which no layer catches: a 500."""
    http = Client(raise_request_exception=False)
    data = {"grant_type": "client_credentials", "token": "x"}
    response = http.post(path, data, **web_authorization_header(small_world))
    assert response.status_code == 400, response.status_code
    assert response.json()["error"] == "invalid_request"


def test_bad_percent_escape_in_the_authorize_query_is_an_error_page(small_world):
    """Same ValueError on the authorization endpoint, for an otherwise valid request."""
    http = Client(raise_request_exception=False)
    http.force_login(small_world.user)
    before = db_state()
    response = http.get(
        "/oauth/authorize?" + urlencode(valid_authorize_query(small_world)) + "&x=%G0"
    )
    assert response.status_code == 400, response.status_code
    assert_writes_within(before, db_state())


def test_consent_form_posted_for_an_unknown_client_is_an_error_page(small_world):
    """DOT's ``AuthorizationView.form_valid`` does ``Application.objects.get(client_id=...)``
    on the posted client_id before any validation: DoesNotExist, a 500."""
    http = Client(raise_request_exception=False)
    http.force_login(small_world.user)
    data = {**valid_authorize_query(small_world, client_id="no-such-client"), "allow": "Authorize"}
    response = http.post("/oauth/authorize", data)
    assert response.status_code == 400, response.status_code


def test_denied_consent_never_redirects_to_an_unregistered_uri(small_world):
    """An open redirector (RFC 9700 §4.11): posting the consent form without ``allow``
    makes DOT raise access_denied with the *posted*, never validated, redirect_uri
    (``OAuthLibCore.create_authorization_response``), and the view redirects there."""
    http = Client()
    http.force_login(small_world.user)
    data = valid_authorize_query(small_world, redirect_uri="https://evil.example.net/steal")
    response = http.post("/oauth/authorize", data)
    assert not response.get("Location", "").startswith("https://evil.example.net"), response[
        "Location"
    ]


@pytest.mark.parametrize(
    "path, data",
    [
        ("/oauth/token", {"grant_type": "client_credentials", "client_secret": "x"}),
        ("/oauth/token", {"grant_type": "authorization_code", "code": "x"}),
        ("/oauth/revoke", {"token": "x"}),
        ("/oauth/introspect", {"token": "x", "client_secret": "x"}),
    ],
)
@pytest.mark.parametrize("where", ["form", "basic"])
def test_nul_byte_in_the_client_id_is_invalid_client(small_world, path, data, where):
    """On PostgreSQL: ``SourceOAuth2Validator._load_application`` catches ValueError, but
    psycopg 3 raises ``django.db.utils.DataError`` for a NUL in a query parameter: a 500."""
    http = Client(raise_request_exception=False)
    if where == "form":
        response = http.post(path, {**data, "client_id": "a\x00b"})
    else:
        response = http.post(path, data, HTTP_AUTHORIZATION=basic("a\x00b", "x"))
    assert response.status_code in (400, 401), response.status_code
    assert response.json()["error"]


def test_nul_byte_in_the_authorize_client_id_is_an_error_page(small_world):
    """The same ``_load_application`` on the authorization endpoint (PostgreSQL)."""
    http = Client(raise_request_exception=False)
    http.force_login(small_world.user)
    response = http.get(
        "/oauth/authorize?" + urlencode(valid_authorize_query(small_world, client_id="\x00"))
    )
    assert response.status_code == 400, response.status_code


def test_nul_byte_in_the_code_is_invalid_request(small_world):
    """On PostgreSQL: ``validate_code`` filters ``Grant.objects`` on the raw code: DataError."""
    http = Client(raise_request_exception=False)
    data = {"grant_type": "authorization_code", "code": "a\x00b", "code_verifier": "a" * 43}
    data["redirect_uri"] = REDIRECT_URI
    response = http.post("/oauth/token", data, **web_authorization_header(small_world))
    assert response.status_code == 400, response.status_code
    assert response.json()["error"] == "invalid_request"  # a malformed parameter


@pytest.mark.parametrize(
    "changes",
    [{"code_challenge": "a" * 129}, {"code_challenge": ""}, {"code_challenge": "a" * 42}],
    ids=["challenge of 129 characters", "empty challenge", "challenge of 42 characters"],
)
def test_malformed_code_challenge_is_refused(small_world, changes):
    """RFC 7636 §4.2: an S256 challenge is 43 base64url characters. A longer one overflows
    ``Grant.code_challenge`` (varchar 128): DataError, a 500 on PostgreSQL; an empty one is
    stored, issuing a code bound to no challenge (unredeemable, but written)."""
    http = Client(raise_request_exception=False)
    http.force_login(small_world.user)
    before = db_state()
    response = http.get(
        "/oauth/authorize?" + urlencode(valid_authorize_query(small_world, **changes))
    )
    assert response.status_code < 500, response.status_code
    assert "code=" not in response.get("Location", ""), response["Location"]
    assert_writes_within(before, db_state())


def test_long_nonce_is_not_a_server_error(small_world):
    """A nonce over 255 characters overflows ``Grant.nonce`` (varchar 255) on PostgreSQL."""
    http = Client(raise_request_exception=False)
    http.force_login(small_world.user)
    response = http.get(
        "/oauth/authorize?" + urlencode(valid_authorize_query(small_world, nonce="n" * 256))
    )
    assert response.status_code < 500, response.status_code


@pytest.mark.parametrize("where", ["authorize GET", "authorize POST", "token"])
def test_malformed_resource_uri_is_invalid_target(small_world, where):
    """DOT's ``_parse_and_validate_uri`` calls ``urlsplit`` unguarded: ValueError("Invalid
    IPv6 URL") for ``http://[::1/x``, a 500 from all three places that check ``resource``."""
    http = Client(raise_request_exception=False)
    http.force_login(small_world.user)
    resource = "http://[::1/x"
    if where == "token":
        data = {"grant_type": "client_credentials", "resource": resource}
        machine = basic(small_world.values["machine_id"], small_world.values["machine_secret"])
        response = http.post("/oauth/token", data, HTTP_AUTHORIZATION=machine)
        assert response.status_code == 400, response.status_code
        assert response.json()["error"] == "invalid_target"
        return
    query = valid_authorize_query(small_world, resource=resource)
    if where == "authorize GET":
        response = http.get("/oauth/authorize?" + urlencode(query))
    else:
        response = http.post("/oauth/authorize", {**query, "allow": "Authorize"})
    assert response.status_code < 500, response.status_code
    assert "code=" not in response.get("Location", "")


def test_error_raised_while_issuing_a_token_is_served_as_json(small_world):
    """An OAuth error raised from ``save_bearer_token`` (here RFC 8707 invalid_target) reaches
    ``OAuthLibCore.create_token_response``'s ``except OAuth2Error``, whose headers carry no
    Content-Type: ``TokenView.token_response`` then answers JSON labelled text/html."""
    material = small_world.fresh()
    data = build(CODE_REQUEST, {"resource": "urn:x"}, {}, material.values)
    response = small_world.http.post("/oauth/token", data, **web_authorization_header(small_world))
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["error"] == "invalid_target"


# --- malformed requests on the wire, against the live server -------------------------------


def raw_request(server: str, request: bytes, timeout: float = 10) -> tuple[int, dict, bytes]:
    """Send bytes as they are; return the status, headers and body of the answer."""
    host, port = urlsplit(server).netloc.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)  # the server may answer before reading everything
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def http_post(path: str, body: bytes, headers: list[str], *, length: str | None = None) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Connection: close",
        f"Content-Length: {len(body) if length is None else length}",
        *headers,
    ]
    return "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body


FORM = "Content-Type: application/x-www-form-urlencoded"
AUTH = "Authorization: (the machine client's real HTTP Basic credentials)"
CC = b"grant_type=client_credentials"

# name: (path, body, header lines, expected answer)
#   "clean": no 5xx; a JSON error (or an HTML page when Django or the HTTP server refused
#            the request before an OAuth view ran); nothing written
#   "token": the request is odd but valid: 200 with a token
#   "invalid_request": 400 invalid_request (RFC 6749 §5.2: "repeats a parameter", a body not
#            in UTF-8), nothing written
WIRE_CASES = {
    # A body that is not UTF-8 is not RFC 6749 form data (Appendix B), whatever it names.
    "invalid utf-8 value": (
        "/oauth/token",
        CC + b"&scope=\xff\xfe",
        [FORM, AUTH],
        "invalid_request",
    ),
    "invalid utf-8 parameter name": (
        "/oauth/token",
        b"\xc3\x28=1&" + CC,
        [FORM, AUTH],
        "invalid_request",
    ),
    "raw NUL in body": (
        "/oauth/token",
        b"grant_type=client_\x00credentials",
        [FORM, AUTH],
        "clean",
    ),
    "NUL in client_id": ("/oauth/token", CC + b"&client_id=%00&client_secret=%00", [FORM], "clean"),
    "json body": (
        "/oauth/token",
        b'{"grant_type": "x"}',
        ["Content-Type: application/json", AUTH],
        "clean",
    ),
    "text/plain body": ("/oauth/token", CC, ["Content-Type: text/plain", AUTH], "clean"),
    "no content type": ("/oauth/token", CC, [AUTH], "clean"),
    "broken multipart": (
        "/oauth/token",
        b"--x\r\nbroken",
        ["Content-Type: multipart/form-data; boundary=x", AUTH],
        "clean",
    ),
    "multipart without boundary": (
        "/oauth/token",
        CC,
        ["Content-Type: multipart/form-data", AUTH],
        "clean",
    ),
    # RFC 6749 Appendix B: form data in UTF-8; any other charset is refused, as JSON.
    "unknown charset": (
        "/oauth/token",
        CC,
        [FORM + "; charset=no-such-charset", AUTH],
        "invalid_request",
    ),
    "utf-16 charset": (
        "/oauth/token",
        "grant_type=x".encode("utf-16"),
        [FORM + "; charset=utf-16", AUTH],
        "clean",
    ),
    "repeated grant_type": (
        "/oauth/token",
        b"grant_type=refresh_token&" + CC,
        [FORM, AUTH],
        "invalid_request",
    ),
    "repeated scope": (
        "/oauth/token",
        CC + b"&scope=content:write&scope=content:read",
        [FORM, AUTH],
        "invalid_request",
    ),
    "1200 fields": (
        "/oauth/token",
        b"&".join(b"f%d=1" % i for i in range(1200)),
        [FORM, AUTH],
        "clean",
    ),
    "body of 3 MB": ("/oauth/token", CC + b"&x=" + b"a" * 3_000_000, [FORM, AUTH], "clean"),
    "Content-Length -5": ("/oauth/token", CC, [FORM, AUTH, "Content-Length: -5"], "clean"),
    "Content-Length 1": ("/oauth/token", CC, [FORM, AUTH, "Content-Length: 1"], "clean"),
    "bad percent escape in query": ("/oauth/token?x=%G0", CC, [FORM, AUTH], "clean"),
    "parameters in the query": ("/oauth/token?" + CC.decode(), b"", [FORM, AUTH], "clean"),
    "basic not base64": ("/oauth/token", CC, [FORM, "Authorization: Basic !!!"], "clean"),
    "basic latin-1 bytes": ("/oauth/token", CC, [FORM, "Authorization: Basic \xe9\xe9"], "clean"),
    "basic of invalid utf-8": (
        "/oauth/token",
        CC,
        [FORM, "Authorization: Basic //79Og=="],
        "clean",
    ),
    "100 kB authorization": (
        "/oauth/token",
        CC,
        [FORM, "Authorization: Basic " + "A" * 100_000],
        "clean",
    ),
    "150 headers": ("/oauth/token", CC, [FORM, AUTH] + [f"X-H{i}: 1" for i in range(150)], "clean"),
    "revoke invalid utf-8": (
        "/oauth/revoke",
        b"token=\xff&token_type_hint=\xfe",
        [FORM, AUTH],
        "clean",
    ),
    "revoke json": (
        "/oauth/revoke",
        b'{"token": "x"}',
        ["Content-Type: application/json", AUTH],
        "clean",
    ),
    "revoke NUL": ("/oauth/revoke", b"token=%00&client_id=%00", [FORM], "clean"),
    "revoke bad percent escape in query": (
        "/oauth/revoke?x=%zz",
        b"token=x",
        [FORM, AUTH],
        "clean",
    ),
    "introspect invalid utf-8": ("/oauth/introspect", b"token=\xff", [FORM, AUTH], "clean"),
    "introspect broken multipart": (
        "/oauth/introspect",
        b"--",
        ["Content-Type: multipart/form-data; boundary=-", AUTH],
        "clean",
    ),
    "introspect bad percent escape in query": (
        "/oauth/introspect?x=%zz",
        b"token=x",
        [FORM, AUTH],
        "clean",
    ),
    "authorize POST invalid utf-8": (
        "/oauth/authorize",
        b"client_id=\xff&allow=1",
        [FORM],
        "clean",
    ),
}


def check_wire_answer(expected: str, status: int, headers: dict, body: bytes, before) -> None:
    shown = f"{status} {body[:120]!r}"
    assert status < 500, shown
    if expected == "token":
        assert status == 200 and json.loads(body)["access_token"], shown
        return
    if expected == "invalid_request":
        assert (status, json.loads(body).get("error")) == (400, "invalid_request"), shown
    if status >= 400 and body:
        content_type = headers.get("content-type", "")
        if content_type.startswith("application/json"):
            assert json.loads(body)["error"], shown
        else:
            # Refused by Django or the HTTP server before an OAuth view ran.
            assert content_type.startswith("text/html"), f"{content_type} {shown}"
    assert_writes_within(before, db_state(), context=shown)


def test_malformed_requests_on_the_wire(server):
    """Every case in one live-server test (one database flush); all failing cases are listed."""
    client, secret = new_client()
    auth = "Authorization: " + basic(client.client_id, secret)
    failures = {}
    for name, (path, body, header_lines, expected) in WIRE_CASES.items():
        clear_cache()
        lines = [auth if line == AUTH else line for line in header_lines]
        length = next((line.split(": ")[1] for line in lines if "Content-Length" in line), None)
        lines = [line for line in lines if "Content-Length" not in line]
        before = db_state()
        try:
            answer = raw_request(server, http_post(path, body, lines, length=length))
            check_wire_answer(expected, *answer, before)
        except (AssertionError, ValueError) as error:
            failures[name] = str(error).splitlines()[0][:200]
    assert not failures, "cases that failed:\n" + "\n".join(
        f"- {name}: {why}" for name, why in failures.items()
    )


def test_non_numeric_content_length(server):
    # Django's HttpRequest.body does int(CONTENT_LENGTH) unguarded; the endpoint reads the
    # body first, where the ValueError is answered.
    request = http_post("/oauth/token", CC, [FORM], length="abc")
    status, headers, body = raw_request(server, request)
    assert status == 400, body[:300]
    assert json.loads(body)["error"] == "invalid_request"
    assert headers["cache-control"] == "no-store"


def test_the_wire_helper_gets_a_token_with_a_valid_request(server):
    """Control: the raw-socket helper and the live server do issue a token when they should."""
    client, secret = new_client()
    request = http_post(
        "/oauth/token",
        CC,
        [FORM + "; charset=UTF-8", "Authorization: " + basic(client.client_id, secret)],
    )
    status, headers, body = raw_request(server, request)
    assert status == 200, body
    assert json.loads(body)["access_token"]
    response = requests.post(
        f"{server}/oauth/token",
        data=CC,
        headers={"Content-Type": FORM.split(": ")[1]},
        auth=(client.client_id, secret),
    )
    assert response.status_code == 200
