"""Helpers that act like an API consumer: a browser session and an OAuth client."""

from __future__ import annotations

import base64
import hashlib
import secrets
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests

from source_oauth.clients import create_api_client
from source_oauth.models import ApiClient

REDIRECT_URI = "https://app.example.com/callback"


def basic(client_id: str, secret: str) -> str:
    """An ``Authorization`` header value for HTTP Basic client authentication (RFC 6749 §2.3.1)."""
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def new_client(name="Test app", **settings):
    """Create an API client through the same service the admin and commands use."""
    settings.setdefault("grant_types", [ApiClient.GrantType.CLIENT_CREDENTIALS])
    settings.setdefault("scopes", ["content:read"])
    client, credentials = create_api_client(name, **settings)
    return client, credentials.client_secret


def issued_token(base_url: str, scopes=("content:read",)) -> tuple[ApiClient, str, str]:
    """A new confidential client, its secret, and an access token from ``base_url``'s endpoint."""
    api_client, secret = new_client(scopes=list(scopes))
    response = requests.post(
        f"{base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(api_client.client_id, secret),
        timeout=30,
    )
    return api_client, secret, response.json()["access_token"]


def web_client(**settings):
    settings.setdefault(
        "grant_types",
        [ApiClient.GrantType.AUTHORIZATION_CODE, ApiClient.GrantType.REFRESH_TOKEN],
    )
    settings.setdefault("redirect_uris", [REDIRECT_URI])
    settings.setdefault("scopes", ["content:read", "user:profile"])
    return new_client("Web app", **settings)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorization_request(client, **params) -> tuple[str, str]:
    """The path of an authorization request with PKCE (S256), as a client app builds it.

    Returns it with the code verifier. A parameter given as None is left out.
    """
    verifier, challenge = pkce_pair()
    query = {
        "client_id": client.client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "state": "st",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **params,
    }
    return "/oauth/authorize?" + urlencode({k: v for k, v in query.items() if v is not None}), (
        verifier
    )


class _Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}
        self.buttons: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("name"):
            if attrs.get("type") == "submit":
                self.buttons.append((attrs["name"], attrs.get("value", "")))
            else:
                self.fields[attrs["name"]] = attrs.get("value") or ""
        if tag == "button" and attrs.get("name"):
            self.buttons.append((attrs["name"], attrs.get("value", "")))


def form_fields(html: str) -> dict[str, str]:
    parser = _Forms()
    parser.feed(html)
    return parser.fields


def login(session: requests.Session, base_url: str, username: str, password: str) -> None:
    url = f"{base_url}/accounts/login/"
    page = session.get(url)
    fields = form_fields(page.text)
    fields.update(username=username, password=password)
    response = session.post(url, data=fields, headers={"Referer": url}, allow_redirects=False)
    assert response.status_code == 302, response.text


def follow_to_redirect_uri(
    session: requests.Session,
    url: str,
    redirect_uri: str = REDIRECT_URI,
    *,
    consent: bool | None = None,
) -> requests.Response:
    """Follow the authorization flow like a browser until it leaves for ``redirect_uri``.

    ``consent`` answers the consent screen (True: allow, False: deny, None: fail
    if one is shown). Returns the response whose Location is the redirect URI,
    or the last response if the flow stopped on a page.
    """
    response = session.get(url, allow_redirects=False)
    for _ in range(10):
        if response.status_code in (301, 302, 303):
            location = urljoin(response.url, response.headers["Location"])
            if location.startswith(redirect_uri):
                return response
            response = session.get(location, allow_redirects=False)
            continue
        if response.status_code == 200 and 'id="authorizationForm"' in response.text:
            assert consent is not None, "an unexpected consent screen was shown"
            fields = form_fields(response.text)
            fields.pop("csrfmiddlewaretoken", None)
            data = {**fields, "csrfmiddlewaretoken": session.cookies.get("csrftoken")}
            data["allow" if consent else "cancel"] = "Authorize" if consent else "1"
            response = session.post(
                response.url, data=data, headers={"Referer": response.url}, allow_redirects=False
            )
            continue
        return response
    raise AssertionError("too many redirects")


def query_of(response: requests.Response) -> dict[str, str]:
    location = response.headers["Location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
