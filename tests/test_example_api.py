"""The example CMS's content API over real HTTP, with tokens from the live /oauth/token.

Client-credentials tokens come from ``requests``, user tokens from a full
authorization code + PKCE flow driven with ``authlib``. Every refusal is
checked for its exact status, ``WWW-Authenticate`` header and JSON body.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import get_access_token_model
from PIL import Image

from example_project.content.management.commands.load_demo_content import ARTICLES, IMAGE_SIZE
from example_project.content.models import Article
from tests.oauth_helpers import REDIRECT_URI, follow_to_redirect_uri, login, new_client, pkce_pair
from tests.oauth_helpers import web_client as make_web_client
from tests.test_permissions import make_token

AccessToken = get_access_token_model()

REALM = 'Bearer realm="source_oauth"'
NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def client_credentials_token(server, scopes, *, client_scopes=None):
    """A token for a new confidential client, from POST /oauth/token."""
    client, secret = new_client(scopes=client_scopes or scopes.split())
    response = requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "client_credentials", "scope": scopes},
        auth=(client.client_id, secret),
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"], client, secret


def user_token(server, user, password, scopes):
    """A token acting for ``user``: authorization code with PKCE, as a web app gets it."""
    client, secret = make_web_client(scopes=scopes.split())
    session = requests.Session()
    login(session, server, user.username, password)
    verifier, _challenge = pkce_pair()
    oauth = OAuth2Session(
        client.client_id, redirect_uri=REDIRECT_URI, scope=scopes, code_challenge_method="S256"
    )
    url, _state = oauth.create_authorization_url(
        f"{server}/oauth/authorize", code_verifier=verifier
    )
    redirect = follow_to_redirect_uri(session, url)
    oauth = OAuth2Session(client.client_id, secret, redirect_uri=REDIRECT_URI)
    token = oauth.fetch_token(
        f"{server}/oauth/token",
        authorization_response=redirect.headers["Location"],
        code_verifier=verifier,
    )
    assert token["scope"] == scopes
    return token["access_token"]


def api(server, method, path, token=None, **kwargs):
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, f"{server}/api/{path}", headers=headers, **kwargs)


def insufficient(scope):
    detail = f"The access token lacks the scope this request needs: {scope}."
    header = f'{REALM}, error="insufficient_scope", error_description="{detail}", scope="{scope}"'
    body = {
        "detail": detail,
        "error": "insufficient_scope",
        "required_scopes": [scope],
        "missing_scopes": [scope],
    }
    return header, body


def invalid(server, description, error="invalid_token"):
    header = f'{REALM}, error="{error}", error_description="{description}"{metadata(server)}'
    return header, {"detail": description, "error": error}


def metadata(server):
    """RFC 9728: a 401 also says where the API's protected resource metadata is."""
    return f', resource_metadata="{server}/.well-known/oauth-protected-resource"'


def refusal(response):
    return response.status_code, response.headers.get("WWW-Authenticate"), response.json()


def png(size=(40, 30), colour=(200, 30, 30)):
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def article(server):
    return Article.objects.create(title="Hello", body="World")


# --- reading -------------------------------------------------------------------------------


def test_read_token_lists_and_shows_articles(server, article, user):
    Article.objects.create(title="Second", body="", author=user)
    token, _, _ = client_credentials_token(server, "content:read")
    response = api(server, "GET", "articles/", token)
    assert response.status_code == 200
    page = response.json()
    assert (page["count"], page["next"], page["previous"]) == (2, None, None)
    assert [a["title"] for a in page["results"]] == ["Second", "Hello"]
    assert page["results"][0]["author"] == {"id": user.pk, "name": "Alice"}

    detail = api(server, "GET", f"articles/{article.pk}/", token).json()
    assert set(detail) == {"id", "title", "body", "image", "author", "created", "updated"}
    assert (detail["title"], detail["body"], detail["image"], detail["author"]) == (
        "Hello",
        "World",
        None,
        None,
    )


def test_missing_article_is_404(server):
    token, _, _ = client_credentials_token(server, "content:read")
    assert api(server, "GET", "articles/999999/", token).status_code == 404
    assert api(server, "GET", "articles/abc/", token).status_code == 404


def test_read_token_cannot_write(server, article):
    token, _, _ = client_credentials_token(server, "content:read")
    header, body = insufficient("content:write")
    for method, path in [
        ("POST", "articles/"),
        ("PUT", f"articles/{article.pk}/"),
        ("PATCH", f"articles/{article.pk}/"),
        ("DELETE", f"articles/{article.pk}/"),
    ]:
        response = api(server, method, path, token, json={"title": "Changed"})
        assert refusal(response) == (403, header, body), method
    assert Article.objects.get().title == "Hello"


def test_write_token_cannot_read(server, article):
    token, _, _ = client_credentials_token(server, "content:write")
    header, body = insufficient("content:read")
    assert refusal(api(server, "GET", "articles/", token)) == (403, header, body)
    assert refusal(api(server, "GET", f"articles/{article.pk}/", token)) == (403, header, body)


# --- writing -------------------------------------------------------------------------------


def test_write_token_creates_updates_and_deletes(server):
    token, _, _ = client_credentials_token(server, "content:read content:write")
    created = api(server, "POST", "articles/", token, json={"title": "New", "body": "Text"})
    assert created.status_code == 201
    article = created.json()
    assert (article["title"], article["author"], article["image"]) == ("New", None, None)
    path = f"articles/{article['id']}/"

    patched = api(server, "PATCH", path, token, json={"body": "Changed"})
    assert (patched.status_code, patched.json()["body"]) == (200, "Changed")
    put = api(server, "PUT", path, token, json={"title": "Renamed", "body": ""})
    assert (put.status_code, put.json()["title"]) == (200, "Renamed")

    deleted = api(server, "DELETE", path, token)
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert api(server, "GET", path, token).status_code == 404


def test_upload_an_image(server, media):
    token, _, _ = client_credentials_token(server, "content:read content:write")
    response = api(
        server,
        "POST",
        "articles/",
        token,
        data={"title": "With a picture"},
        files={"image": ("red.png", png(), "image/png")},
    )
    assert response.status_code == 201, response.text
    # Rendered as the design says; which styles appear is test_image_styles.py's matter.
    image = response.json()["image"]
    assert image["url"].startswith(f"{server}/media/articles/red")
    assert image["url"].endswith(".png")
    assert (image["width"], image["height"]) == (40, 30)
    stored = Article.objects.get().image
    with Image.open(stored.path) as image:
        assert image.size == (40, 30)


@pytest.mark.parametrize(
    ("data", "files", "errors"),
    [
        ({}, None, {"title": ["This field is required."]}),
        (
            {"title": "x" * 201},
            None,
            {"title": ["Ensure this field has no more than 200 characters."]},
        ),
        (
            {"title": "Bad"},
            {"image": ("fake.png", b"not an image", "image/png")},
            {
                "image": [
                    "Upload a valid image. The file you uploaded was either not an image or "
                    "a corrupted image."
                ]
            },
        ),
    ],
)
def test_bad_input_is_400_and_writes_nothing(server, data, files, errors):
    token, _, _ = client_credentials_token(server, "content:write")
    response = api(server, "POST", "articles/", token, data=data, files=files)
    assert (response.status_code, response.json()) == (400, errors)
    assert not Article.objects.exists()


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        (
            "POST",
            "articles/",
            {"data": b"{not json", "headers": {"Content-Type": "application/json"}},
            400,
        ),
        ("POST", "articles/", {"json": ["a", "list"]}, 400),
        ("POST", "articles/", {"json": {"title": {"nested": 1}}}, 400),
        ("POST", "articles/", {"json": {"title": "x", "image": "not a file"}}, 400),
        (
            "POST",
            "articles/",
            {"data": b"\xff\xfe", "headers": {"Content-Type": "text/plain"}},
            415,
        ),
        (
            "POST",
            "articles/",
            {"data": b"\xff\xfe", "headers": {"Content-Type": "application/json"}},
            400,
        ),
        ("PATCH", "articles/1/", {"json": {"title": ""}}, 400),
        ("GET", "articles/?page=abc", {}, 404),
        ("GET", "articles/?page=0", {}, 404),
        ("GET", "articles/?page_size=-5", {}, 200),
        ("GET", "articles/?page_size=99999", {}, 200),
        ("GET", "articles/%00/", {}, 404),
    ],
)
def test_malformed_requests_are_answered_never_500(server, method, path, kwargs, status):
    Article.objects.create(pk=1, title="One")
    token, _, _ = client_credentials_token(server, "content:read content:write")
    response = api(server, method, path, token, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")


def test_a_user_token_writes_as_its_user(server, user, user_password):
    token = user_token(server, user, user_password, "content:read content:write")
    response = api(server, "POST", "articles/", token, json={"title": "Mine"})
    assert response.status_code == 201
    assert response.json()["author"] == {"id": user.pk, "name": "Alice"}
    assert Article.objects.get().author == user


# --- /api/me/ ------------------------------------------------------------------------------


def test_me_returns_the_users_profile(server, user, user_password):
    token = user_token(server, user, user_password, "content:read user:profile")
    response = api(server, "GET", "me/", token)
    assert response.status_code == 200
    assert response.json() == {
        "id": user.pk,
        "username": "alice",
        "first_name": "Alice",
        "last_name": "",
        "email": "alice@example.com",
    }


def test_me_refuses_an_app_only_token_even_with_user_profile(server):
    token, _, _ = client_credentials_token(server, "user:profile")
    response = api(server, "GET", "me/", token)
    assert refusal(response) == (
        403,
        None,
        {
            "detail": "This request needs an access token issued to a user; a client "
            "credentials token acts for no user.",
            "error": "user_required",
        },
    )


def test_me_needs_user_profile(server, user, user_password):
    token = user_token(server, user, user_password, "content:read")
    assert refusal(api(server, "GET", "me/", token)) == (403, *insufficient("user:profile"))


def test_me_is_read_only(server, user, user_password):
    token = user_token(server, user, user_password, "user:profile")
    assert api(server, "POST", "me/", token, json={}).status_code == 405


# --- no token, bad tokens ------------------------------------------------------------------


def test_without_a_token_the_default_client_reads_but_cannot_write(server, article):
    # The default API client stands for requests without a token; it has content:read.
    assert api(server, "GET", "articles/").status_code == 200
    assert refusal(api(server, "POST", "articles/", json={"title": "x"})) == (
        401,
        REALM + metadata(server),
        NOT_PROVIDED,
    )
    assert refusal(api(server, "GET", "me/")) == (401, REALM + metadata(server), NOT_PROVIDED)


def test_unknown_token_is_401(server):
    assert refusal(api(server, "GET", "articles/", "not-a-token")) == (
        401,
        *invalid(server, "The access token is invalid."),
    )


def test_expired_token_is_401(server):
    token, client, _ = client_credentials_token(server, "content:read")
    AccessToken.objects.filter(application=client).update(
        expires=timezone.now() - timedelta(seconds=1)
    )
    assert refusal(api(server, "GET", "articles/", token)) == (
        401,
        *invalid(server, "The access token has expired."),
    )


def test_revoked_token_is_401(server):
    token, client, secret = client_credentials_token(server, "content:read")
    assert api(server, "GET", "articles/", token).status_code == 200  # now in the token cache
    revoke = requests.post(
        f"{server}/oauth/revoke", data={"token": token}, auth=(client.client_id, secret)
    )
    assert revoke.status_code == 200
    assert refusal(api(server, "GET", "articles/", token)) == (
        401,
        *invalid(server, "The access token is invalid."),
    )


def test_token_in_the_query_string_is_401(server):
    token, _, _ = client_credentials_token(server, "content:read")
    response = api(server, "GET", "articles/", params={"access_token": token})
    description = (
        "Access tokens are not accepted in the query string; send them in an "
        "Authorization: Bearer header."
    )
    assert refusal(response) == (401, *invalid(server, description, "invalid_request"))


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer a b", "Bearer \u00e9\u00e8", "Bearer " + "x" * 5000, "Bearer %00"],
)
def test_malformed_authorization_is_401_never_500(server, authorization):
    response = api(server, "GET", "articles/", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith(f'{REALM}, error="invalid_token"')


# --- cost ----------------------------------------------------------------------------------


def test_a_warm_protected_request_costs_only_the_articles_query(client, catalog):
    api_client, _ = new_client(scopes=["content:read"])
    token = make_token(api_client, "content:read")
    article = Article.objects.create(title="Hello")
    url = f"/api/articles/{article.pk}/"
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert client.get(url, **headers).status_code == 200  # token cache now warm
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, **headers).status_code == 200
    assert len(queries) == 1, [q["sql"] for q in queries]


# --- demo content --------------------------------------------------------------------------


@pytest.mark.django_db
def test_load_demo_content_draws_real_images_and_is_idempotent(media, django_user_model):
    django_user_model.objects.create_user("admin")
    call_command("load_demo_content", stdout=io.StringIO())
    articles = list(Article.objects.order_by("id"))
    assert [a.title for a in articles] == [title for title, _, _ in ARTICLES]
    for article in articles:
        assert article.author.username == "admin"
        with Image.open(article.image.path) as image:
            assert (image.format, image.size) == ("JPEG", IMAGE_SIZE)
            assert len(image.getcolors(maxcolors=1 << 20) or []) > 100  # a picture, not a fill

    names = [a.image.name for a in articles]
    out = io.StringIO()
    call_command("load_demo_content", stdout=out)
    assert out.getvalue().strip() == (
        f"Demo content: {len(ARTICLES)} articles (0 created, 0 images drawn)."
    )
    assert [a.image.name for a in Article.objects.order_by("id")] == names
    assert len(list((media / "articles").iterdir())) == len(ARTICLES)

    # A lost file is drawn again; the article is not duplicated.
    articles[0].image.storage.delete(articles[0].image.name)
    out = io.StringIO()
    call_command("load_demo_content", stdout=out)
    assert "(0 created, 1 images drawn)" in out.getvalue()
    assert Article.objects.count() == len(ARTICLES)


@pytest.mark.django_db
def test_demo_setup_loads_the_demo_content(catalog):
    out = io.StringIO()
    call_command("demo_setup", stdout=out)
    assert Article.objects.count() == len(ARTICLES)
    assert Article.objects.filter(author__username="admin").count() == len(ARTICLES)
    assert "/api/articles/" in out.getvalue()
    assert get_user_model().objects.get(username="admin").is_superuser
