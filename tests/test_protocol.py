"""Protocol rules found by black-box testing with real clients, each over real HTTP.

One section per rule: consent is the server's decision, RFC 8707 resource
indicators keep their meaning, scopes are a bounded set, every token-endpoint
error is JSON, the metadata says only what the server does, the right error
codes, the default client cannot be deleted, and the product text's own
example requests work verbatim.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
import requests
from django.db.models.deletion import ProtectedError
from oauth2_provider.models import get_access_token_model

from source_oauth.models import ApiClient
from source_oauth.permissions import HasAudience
from tests.oauth_helpers import (
    REDIRECT_URI,
    follow_to_redirect_uri,
    login,
    new_client,
    pkce_pair,
    query_of,
    web_client,
)

GT = ApiClient.GrantType
AccessToken = get_access_token_model()
API = "https://api.example.com/"
OTHER_API = "https://other.example.com/"


def browser(server, user, password):
    session = requests.Session()
    login(session, server, user.username, password)
    return session


def authorize_url(server, client, *, pkce=True, **params):
    """An authorization request's URL, and the PKCE verifier that goes with it (or None)."""
    query = {
        "client_id": client.client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "state": "xyz",
        **params,
    }
    verifier = None
    if pkce:
        verifier, challenge = pkce_pair()
        query.update(code_challenge=challenge, code_challenge_method="S256")
    return f"{server}/oauth/authorize?{urlencode(query, doseq=True)}", verifier


def redeem(server, client, secret, code, verifier, **extra):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    if verifier:
        data["code_verifier"] = verifier
    return requests.post(
        f"{server}/oauth/token", data={**data, **extra}, auth=(client.client_id, secret)
    )


def code_for(server, session, client, *, consent=None, **params):
    url, verifier = authorize_url(server, client, **params)
    response = follow_to_redirect_uri(session, url, consent=consent)
    assert response.status_code == 302, response.text[:500]
    return query_of(response)["code"], verifier


def introspect(server, token, client, secret):
    return requests.post(
        f"{server}/oauth/introspect", data={"token": token}, auth=(client.client_id, secret)
    ).json()


# --- 1. consent is the server's decision -----------------------------------------------


def test_a_third_party_client_cannot_skip_consent_with_approval_prompt(server, user, user_password):
    client, secret = web_client(third_party=True)
    session = browser(server, user, user_password)
    code, verifier = code_for(server, session, client, consent=True, scope="content:read")
    assert redeem(server, client, secret, code, verifier).status_code == 200  # a live token

    url, _verifier = authorize_url(server, client, scope="content:read", approval_prompt="auto")
    response = session.get(url, allow_redirects=False)
    assert response.status_code == 200
    assert 'id="authorizationForm"' in response.text  # asked again, no code
    assert "Location" not in response.headers


# --- 2. RFC 8707 resource indicators ----------------------------------------------------


def test_the_token_carries_the_resource_of_its_grant(server, user, user_password):
    client, secret = web_client()
    introspector, introspector_secret = new_client("Resource server")
    session = browser(server, user, user_password)
    code, verifier = code_for(server, session, client, scope="content:read", resource=API)
    response = redeem(server, client, secret, code, verifier)
    assert response.status_code == 200, response.text
    body = introspect(server, response.json()["access_token"], introspector, introspector_secret)
    assert body["active"] is True
    assert body["aud"] == [API]
    # The refresh token keeps the binding.
    refreshed = requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": response.json()["refresh_token"]},
        auth=(client.client_id, secret),
    )
    assert refreshed.status_code == 200, refreshed.text
    body = introspect(server, refreshed.json()["access_token"], introspector, introspector_secret)
    assert body["aud"] == [API]


def test_a_token_request_may_narrow_but_never_widen_the_resources(server, user, user_password):
    client, secret = web_client()
    introspector, introspector_secret = new_client("Resource server")
    session = browser(server, user, user_password)

    code, verifier = code_for(server, session, client, scope="content:read", resource=API)
    widened = redeem(server, client, secret, code, verifier, resource=OTHER_API)
    assert widened.status_code == 400
    assert widened.json()["error"] == "invalid_target"
    assert widened.headers["Cache-Control"] == "no-store"
    assert not AccessToken.objects.filter(application=client).exists()

    code, verifier = code_for(
        server, session, client, scope="content:read", resource=[API, OTHER_API]
    )
    narrowed = redeem(server, client, secret, code, verifier, resource=API)
    assert narrowed.status_code == 200, narrowed.text
    body = introspect(server, narrowed.json()["access_token"], introspector, introspector_secret)
    assert body["aud"] == [API]


def test_client_credentials_may_name_resources(server):
    client, secret = new_client()
    response = requests.post(
        f"{server}/oauth/token",
        data=[("grant_type", "client_credentials"), ("resource", API), ("resource", OTHER_API)],
        auth=(client.client_id, secret),
    )
    assert response.status_code == 200, response.text
    body = introspect(server, response.json()["access_token"], client, secret)
    assert body["aud"] == [API, OTHER_API]


def test_a_token_for_another_resource_does_not_read_the_api(server):
    client, secret = new_client()
    token = requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "client_credentials", "resource": API},
        auth=(client.client_id, secret),
    ).json()["access_token"]
    response = requests.get(f"{server}/api/articles/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


@pytest.fixture
def audience_api(settings, server):
    """A view that requires tokens issued for its own resource identifier."""
    settings.ROOT_URLCONF = "tests.audience_urls"
    return f"{server}/protected/"


def test_a_view_can_require_an_audience(server, audience_api):
    client, secret = new_client()

    def token(**extra):
        return requests.post(
            f"{server}/oauth/token",
            data={"grant_type": "client_credentials", **extra},
            auth=(client.client_id, secret),
        ).json()["access_token"]

    def get(access_token):
        return requests.get(audience_api, headers={"Authorization": f"Bearer {access_token}"})

    assert get(token(resource=audience_api)).status_code == 200
    unrestricted = get(token())
    assert unrestricted.status_code == 401
    assert unrestricted.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in unrestricted.headers["WWW-Authenticate"]
    # A token for a broader resource passes DOT's prefix check but not the exact audience.
    assert get(token(resource=server + "/")).status_code == 401
    assert requests.get(audience_api).status_code == 401


def test_has_audience_needs_an_audience():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        HasAudience.of("")


# --- 3. scopes are a bounded set -----------------------------------------------------------


def test_repeated_scopes_are_issued_once(server, user, user_password):
    client, secret = new_client(scopes=["content:read", "content:write"])
    response = requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "client_credentials", "scope": "content:read content:read"},
        auth=(client.client_id, secret),
    )
    assert response.json()["scope"] == "content:read"
    assert AccessToken.objects.get(application=client).scope == "content:read"

    web, web_secret = web_client(third_party=True)
    session = browser(server, user, user_password)
    url, verifier = authorize_url(server, web, scope="content:read content:read user:profile")
    consent = session.get(url)
    assert consent.text.count("Read the site&#x27;s content") == 1
    response = follow_to_redirect_uri(session, url, consent=True)
    tokens = redeem(server, web, web_secret, query_of(response)["code"], verifier).json()
    assert tokens["scope"] == "content:read user:profile"
    refreshed = requests.post(
        f"{server}/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "scope": "content:read content:read",
        },
        auth=(web.client_id, web_secret),
    )
    assert refreshed.json()["scope"] == "content:read"


def test_an_absurd_scope_parameter_is_invalid_scope(server, user, user_password):
    client, secret = new_client()
    response = requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "client_credentials", "scope": " ".join(["content:read"] * 20_000)},
        auth=(client.client_id, secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert not AccessToken.objects.exists()

    web, _secret = web_client()
    url, _verifier = authorize_url(server, web, scope=" ".join(["content:read"] * 2_000))
    response = follow_to_redirect_uri(browser(server, user, user_password), url)
    assert query_of(response)["error"] == "invalid_scope"


# --- 4. every token-endpoint error is JSON -----------------------------------------------

UNREADABLE_BODIES = {
    "latin-1 form": ("application/x-www-form-urlencoded; charset=latin-1", b"grant_type=x"),
    "utf-16 form": (
        "application/x-www-form-urlencoded; charset=utf-16",
        "grant_type=client_credentials".encode("utf-16"),
    ),
    "multipart without boundary": ("multipart/form-data", b"--x\r\n"),
    "multipart with a bad boundary": (
        "multipart/form-data; boundary=\x01\x02",
        b"--\x01\x02\r\nContent-Disposition: form-data; name=a\r\n\r\nb\r\n--\x01\x02--",
    ),
    "json": ("application/json", b'{"grant_type": "client_credentials"}'),
    "raw bytes that are not UTF-8": (
        "application/x-www-form-urlencoded",
        b"grant_type=client_credentials&scope=content:read\xff",
    ),
    "percent-encoded bytes that are not UTF-8": (
        "application/x-www-form-urlencoded",
        b"grant_type=client_credentials%FF&scope=content%3Aread",
    ),
}


@pytest.mark.parametrize("debug", [False, True], ids=["debug-off", "debug-on"])
@pytest.mark.parametrize("endpoint", ["token", "revoke", "introspect"])
@pytest.mark.parametrize("case", list(UNREADABLE_BODIES))
def test_unreadable_bodies_are_invalid_request_json(server, settings, debug, endpoint, case):
    settings.DEBUG = debug
    client, secret = new_client()
    content_type, body = UNREADABLE_BODIES[case]
    response = requests.post(
        f"{server}/oauth/{endpoint}",
        data=body,
        headers={"Content-Type": content_type},
        auth=(client.client_id, secret),
    )
    assert response.status_code == 400, response.text[:300]
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json()["error"] == "invalid_request"
    assert not AccessToken.objects.exists()


@pytest.mark.parametrize("endpoint", ["token", "revoke", "introspect"])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_other_methods_are_json_405(server, endpoint, method):
    for path in (f"/oauth/{endpoint}", f"/oauth/{endpoint}/"):
        response = requests.request(method, f"{server}{path}", allow_redirects=False)
        assert response.status_code == 405, (path, response.status_code)
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers["Cache-Control"] == "no-store"
        assert "POST" in response.headers["Allow"]
        assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("endpoint", ["token", "revoke", "introspect"])
def test_two_client_authentications_in_one_request_are_refused(server, endpoint):
    client, secret = new_client()
    response = requests.post(
        f"{server}/oauth/{endpoint}",
        data={"grant_type": "client_credentials", "token": "x", "client_secret": secret},
        auth=(client.client_id, secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert not AccessToken.objects.exists()
    # Basic alone, with client_id also in the body, is one authentication: served.
    response = requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client.client_id},
        auth=(client.client_id, secret),
    )
    assert response.status_code == 200


# --- 6. the right error codes ---------------------------------------------------------------


def test_a_missing_grant_type_is_invalid_request(server):
    client, secret = new_client()
    response = requests.post(
        f"{server}/oauth/token", data={"scope": "content:read"}, auth=(client.client_id, secret)
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    "response_type", ["code token", "code id_token", "token", "id_token", "code id_token token"]
)
def test_other_response_types_are_unsupported(server, user, user_password, response_type):
    client, _secret = web_client()
    url, _verifier = authorize_url(server, client, response_type=response_type)
    response = follow_to_redirect_uri(browser(server, user, user_password), url)
    assert response.status_code == 302
    params = query_of(response)
    assert params["error"] == "unsupported_response_type"
    assert params["state"] == "xyz"


def test_errors_name_the_issuer(server, user, user_password):
    # RFC 9207: a denial names the issuer too, or a client that checks iss (as RFC 9700
    # asks) would take it for a mix-up.
    client, _secret = web_client(third_party=True)
    url, _verifier = authorize_url(server, client, scope="content:read")
    response = follow_to_redirect_uri(browser(server, user, user_password), url, consent=False)
    params = query_of(response)
    assert params["error"] == "access_denied"
    assert params["iss"] == server


# --- 8. the default API client cannot be deleted -----------------------------------------


def test_the_default_client_cannot_be_deleted_from_code(server):
    default = ApiClient.objects.get(is_default=True)
    with pytest.raises(ProtectedError, match="default API client cannot be deleted"):
        default.delete()
    with pytest.raises(ProtectedError):
        ApiClient.objects.all().delete()
    with pytest.raises(ProtectedError):
        ApiClient.objects.filter(is_default=True).delete()
    other, _secret = new_client()
    ApiClient.objects.filter(is_default=False).delete()
    assert list(ApiClient.objects.values_list("is_default", flat=True)) == [True]
    # It still stands for requests that carry no token.
    assert requests.get(f"{server}/api/articles/").status_code == 200


# --- 9. the product text's example requests, verbatim ---------------------------------------


def test_the_seed_examples_work_verbatim(server, user, user_password):
    """The three example requests of "Access and authentication", exactly as written.

    The authorization code example carries no PKCE: a confidential client with
    "Require PKCE" turned off, authenticating with its secret in the body.
    """
    client, secret = new_client(
        "Next.js site",
        grant_types=[GT.AUTHORIZATION_CODE, GT.REFRESH_TOKEN, GT.CLIENT_CREDENTIALS],
        scopes=["content:read", "content:write", "user:profile"],
        redirect_uris=[REDIRECT_URI],
        require_pkce=False,
    )
    session = browser(server, user, user_password)
    # Step 1: Redirect user to authorization URL
    url = (
        f"{server}/oauth/authorize? client_id={client.client_id}& redirect_uri={REDIRECT_URI}"
        "& response_type=code& scope=content:read user:profile"
    ).replace(" ", "")  # the product text wraps the URL for reading
    url = url.replace("scope=content:readuser:profile", "scope=content:read%20user:profile")
    response = follow_to_redirect_uri(session, url)
    code = query_of(response)["code"]
    # Step 2: Exchange code for token (server-to-server)
    tokens = requests.post(
        f"{server}/oauth/token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        data=(
            f"grant_type=authorization_code&code={code}&client_id={client.client_id}"
            f"&client_secret={secret}&redirect_uri={REDIRECT_URI}"
        ),
    )
    assert tokens.status_code == 200, tokens.text
    assert tokens.json()["scope"] == "content:read user:profile"

    # Client credentials
    response = requests.post(
        f"{server}/oauth/token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        data=(
            f"grant_type=client_credentials&client_id={client.client_id}"
            f"&client_secret={secret}&scope=content:read content:write"
        ),
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "content:read content:write"

    # Refresh token
    response = requests.post(
        f"{server}/oauth/token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        data=(
            f"grant_type=refresh_token&refresh_token={tokens.json()['refresh_token']}"
            f"&client_id={client.client_id}&client_secret={secret}"
        ),
    )
    assert response.status_code == 200, response.text
    assert response.json()["access_token"] != tokens.json()["access_token"]


def test_pkce_stays_required_where_it_is_on(server, user, user_password):
    client, _secret = web_client()  # confidential, PKCE on by default
    assert client.require_pkce
    url, _verifier = authorize_url(server, client, pkce=False, scope="content:read")
    response = follow_to_redirect_uri(browser(server, user, user_password), url)
    assert query_of(response)["error"] == "invalid_request"


def test_a_client_without_pkce_cannot_be_downgraded(server, user, user_password):
    """RFC 9700 §2.1.1: a code issued without a challenge is never redeemed with a verifier."""
    client, secret = web_client(require_pkce=False)
    session = browser(server, user, user_password)
    code, _verifier = code_for(server, session, client, pkce=False, scope="content:read")
    verifier, _challenge = pkce_pair()
    response = redeem(server, client, secret, code, verifier)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")
    # With PKCE it still works, and then the verifier is required.
    code, verifier = code_for(server, session, client, scope="content:read")
    assert redeem(server, client, secret, code, None).json()["error"] == "invalid_grant"
    code, verifier = code_for(server, session, client, scope="content:read")
    assert redeem(server, client, secret, code, verifier).status_code == 200


def test_a_public_client_always_requires_pkce(db):
    client = ApiClient(
        name="SPA",
        confidential=False,
        require_pkce=False,
        grant_types=[GT.AUTHORIZATION_CODE],
        redirect_uris=REDIRECT_URI,
    )
    client.full_clean()
    assert client.require_pkce and client.pkce_required
