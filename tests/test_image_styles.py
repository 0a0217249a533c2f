"""Image styles over HTTP: which styles a client sees, signed derivative URLs, query counts.

Everything goes through the example CMS's real article API (``/api/articles/``,
``ArticleSerializer.image`` is a ``StyledImageField``); without a token it acts
as the default API client, which has ``content:read``.
"""

import base64
import io
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image

from example_project.content.models import Article
from source_oauth.images import signing, views
from source_oauth.images.styles import derivative_name, style_version
from source_oauth.models import ApiClient, ImageStyle
from tests.oauth_helpers import new_client

ARTICLES = "/api/articles/"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


def image_file(name="photo.jpg", size=(1600, 1200), fmt="JPEG", data=None):
    if data is None:
        buffer = io.BytesIO()
        Image.new("RGB", size, "teal").save(buffer, fmt)
        data = buffer.getvalue()
    return SimpleUploadedFile(name, data)


def article(title="An article", **image):
    return Article.objects.create(title=title, image=image_file(**image))


def bearer(client, secret, django_client):
    """A client-credentials access token, got from the token endpoint."""
    basic = base64.b64encode(f"{client.client_id}:{secret}".encode()).decode()
    response = django_client.post(
        "/oauth/token", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=f"Basic {basic}"
    )
    assert response.status_code == 200, response.content
    return f"Bearer {response.json()['access_token']}"


def listed(django_client, **headers):
    """The articles of the first page of the API, newest first."""
    response = django_client.get(ARTICLES, **headers)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def styles_of(item):
    return item["image"]["styles"]


def local(url):
    """The path and query of an absolute URL the API issued, for the test client."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def stored_derivatives(media):
    return sorted(
        p.relative_to(media).as_posix() for p in (media / "styles").rglob("*") if p.is_file()
    )


# --- what a client sees -------------------------------------------------------------


def test_image_is_rendered_as_in_the_design(catalog, client):
    item = article(size=(1600, 1200))
    body = listed(client)
    image = body[0]["image"]
    assert set(image) == {"url", "width", "height", "styles"}
    assert image["url"] == f"http://testserver/media/{item.image.name}"
    assert (image["width"], image["height"]) == (1600, 1200)
    assert image["styles"]["thumbnail"]["width"] == 100
    assert image["styles"]["thumbnail"]["height"] == 100
    assert (image["styles"]["medium"]["width"], image["styles"]["medium"]["height"]) == (640, 480)
    assert (image["styles"]["large"]["width"], image["styles"]["large"]["height"]) == (1280, 960)
    for style in image["styles"].values():
        assert set(style) == {"url", "width", "height"}
        assert style["url"].startswith("http://testserver/image-styles/")


def test_detail_and_upload_answer_the_same_shape(catalog, client):
    writer, secret = new_client(
        "Writer", scopes=["content:read", "content:write"], image_styles=["thumbnail"]
    )
    authorization = bearer(writer, secret, client)
    response = client.post(
        ARTICLES,
        {"title": "Uploaded", "image": image_file("upload.png", size=(300, 200), fmt="PNG")},
        HTTP_AUTHORIZATION=authorization,
    )
    assert response.status_code == 201, response.content
    image = response.json()["image"]
    assert (image["width"], image["height"]) == (300, 200)
    assert set(image["styles"]) == {"thumbnail"}
    detail = client.get(f"{ARTICLES}{response.json()['id']}/", HTTP_AUTHORIZATION=authorization)
    assert detail.json()["image"] == image


def test_no_token_gets_the_default_clients_styles(catalog, client):
    article()
    default = ApiClient.objects.get(is_default=True)
    default.image_styles.set(ImageStyle.objects.filter(name="medium"))
    assert set(styles_of(listed(client)[0])) == {"medium"}


def test_article_without_image_has_none(catalog, client):
    Article.objects.create(title="Text only")
    assert listed(client)[0]["image"] is None


def test_each_client_sees_exactly_its_styles_over_http(server):
    article()
    mobile, mobile_secret = new_client("Mobile", image_styles=["thumbnail"])
    web, web_secret = new_client("Web", image_styles=["medium", "large"])
    bare, bare_secret = new_client("Bare")

    def styles_for(client_id, secret):
        token = requests.post(
            f"{server}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, secret),
        ).json()["access_token"]
        response = requests.get(f"{server}{ARTICLES}", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        return styles_of(response.json()["results"][0])

    mobile_styles = styles_for(mobile.client_id, mobile_secret)
    web_styles = styles_for(web.client_id, web_secret)
    assert set(mobile_styles) == {"thumbnail"}
    assert set(web_styles) == {"medium", "large"}
    assert styles_for(bare.client_id, bare_secret) == {}
    anonymous = requests.get(f"{server}{ARTICLES}").json()["results"]
    assert set(styles_of(anonymous[0])) == {"thumbnail", "medium", "large"}

    # A URL issued to one client works for whoever holds it (an <img> carries no token)...
    derivative = requests.get(mobile_styles["thumbnail"]["url"], allow_redirects=False)
    assert derivative.status_code == 302
    # ...but it cannot be turned into another style.
    forged = mobile_styles["thumbnail"]["url"].replace("/thumbnail/", "/large/")
    assert requests.get(forged, allow_redirects=False).status_code == 403


def test_a_style_saved_around_validation_is_not_offered(catalog, client):
    article()
    broken = ImageStyle.objects.create(name="broken", label="Broken", operation="crop", width=10)
    ApiClient.objects.get(is_default=True).image_styles.add(broken)
    assert set(styles_of(listed(client)[0])) == {"thumbnail", "medium", "large"}


# --- derivatives --------------------------------------------------------------------


def test_signed_url_renders_the_advertised_size_and_format(catalog, client, media):
    webp = ImageStyle.objects.create(
        name="card", label="Card", width=300, height=200, operation="scale_and_crop", format="webp"
    )
    ApiClient.objects.get(is_default=True).image_styles.add(webp)
    article(size=(1600, 1200))
    styles = styles_of(listed(client)[0])

    for name, expected_format in [
        ("thumbnail", "JPEG"),
        ("medium", "JPEG"),
        ("large", "JPEG"),
        ("card", "WEBP"),
    ]:
        response = client.get(local(styles[name]["url"]))
        assert response.status_code == 302
        assert "max-age" in response["Cache-Control"]
        location = urlsplit(response["Location"]).path
        assert location.startswith(f"/media/styles/{name}/")
        with Image.open(media / location.removeprefix("/media/")) as drawn:
            assert drawn.format == expected_format
            assert drawn.size == (styles[name]["width"], styles[name]["height"])
    assert [name for name in stored_derivatives(media) if name.endswith(".webp")] == [
        f"styles/card/{urlsplit(styles['card']['url']).path.split('/')[3]}/articles/photo.jpg.webp"
    ]


def test_derivative_is_rendered_once_and_then_reused(catalog, client, media, monkeypatch):
    article()
    url = local(styles_of(listed(client)[0])["thumbnail"]["url"])
    renders = []
    real_render = views.render
    monkeypatch.setattr(
        views, "render", lambda *a, **kw: renders.append(1) or real_render(*a, **kw)
    )

    first = client.get(url)
    stored = stored_derivatives(media)
    modified = (media / stored[0]).stat().st_mtime_ns
    second = client.get(url)
    head = client.head(url)

    assert first.status_code == second.status_code == head.status_code == 302
    assert first["Location"] == second["Location"] == head["Location"]
    assert len(renders) == 1
    assert stored == stored_derivatives(media) and len(stored) == 1
    assert (media / stored[0]).stat().st_mtime_ns == modified


def test_concurrent_first_renderings_keep_one_copy(catalog, media):
    # Two requests that both found no derivative both render; the second save must not
    # leave a copy under another name.
    item = article()
    style = ImageStyle.objects.get(name="medium")
    name = derivative_name(style, style_version(style), item.image.name)
    for _ in range(2):
        views._render_and_store(views.image_storage(), style, item.image.name, name)
    assert stored_derivatives(media) == [name]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda parts: {**parts, "signature": parts["signature"][:-2] + "xx"},
        lambda parts: {**parts, "signature": "unsigned"},
        lambda parts: {**parts, "style": "large"},  # a style the URL was not issued for
        lambda parts: {**parts, "source": "articles/other.jpg"},
        lambda parts: {**parts, "version": "0" * 12},
    ],
    ids=["altered-signature", "unsigned", "foreign-style", "other-image", "other-version"],
)
def test_tampered_url_is_refused_and_generates_nothing(catalog, client, media, tamper):
    article()
    Article.objects.create(title="Other", image=image_file("other.jpg"))
    items = {item["title"]: item for item in listed(client)}
    url = styles_of(items["An article"])["thumbnail"]["url"]
    _, _, style, version, signature, source = urlsplit(url).path.split("/", 5)
    parts = tamper({"style": style, "version": version, "signature": signature, "source": source})
    response = client.get("/image-styles/{style}/{version}/{signature}/{source}".format(**parts))
    assert response.status_code == 403
    assert response.json()["error"] == "invalid_signature"
    assert not (media / "styles").exists()


def test_refused_url_costs_no_query(catalog, client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/image-styles/thumbnail/0123456789ab/forged/articles/a.jpg")
    assert response.status_code == 403


def test_changing_a_style_retires_its_urls_and_derivatives(catalog, client, media):
    article()
    old = styles_of(listed(client)[0])["medium"]
    assert client.get(local(old["url"])).status_code == 302

    style = ImageStyle.objects.get(name="medium")
    style.width = 320
    style.save()
    new = styles_of(listed(client)[0])["medium"]

    assert new["url"] != old["url"] and new["width"] == 320
    assert client.get(local(old["url"])).status_code == 404
    response = client.get(local(new["url"]))
    assert response.status_code == 302
    with Image.open(media / urlsplit(response["Location"]).path.removeprefix("/media/")) as drawn:
        assert drawn.size == (320, 240)
    assert len(stored_derivatives(media)) == 2  # the old one is no longer pointed at


def test_deleted_style_url_is_not_found(catalog, client):
    article()
    url = local(styles_of(listed(client)[0])["large"]["url"])
    ImageStyle.objects.filter(name="large").delete()
    assert client.get(url).status_code == 404


def test_missing_source_is_not_found(catalog, client, media):
    item = article()
    url = local(styles_of(listed(client)[0])["thumbnail"]["url"])
    default_storage.delete(item.image.name)
    response = client.get(url)
    assert response.status_code == 404
    assert not (media / "styles").exists()


def test_corrupt_image_is_a_clear_error_and_nothing_is_stored(catalog, client, media):
    item = article()
    (media / item.image.name).write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG any more")
    url = local(styles_of(listed(client)[0])["thumbnail"]["url"])
    response = client.get(url)
    assert response.status_code == 422
    assert response.json()["error"] == "image_unreadable"
    assert not (media / "styles").exists()


def test_oversized_image_is_a_clear_error_and_nothing_is_stored(catalog, client, media, settings):
    article(size=(3000, 2000))
    settings.SOURCE_OAUTH = {"IMAGE_MAX_PIXELS": 5_000_000}
    url = local(styles_of(listed(client)[0])["medium"]["url"])
    response = client.get(url)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "image_too_large"
    assert "3000×2000" in body["error_description"]
    assert not (media / "styles").exists()


def test_signed_path_traversal_is_not_followed(catalog, client, media):
    # Even a signature for a traversing name (it would take a leaked key) reads nothing.
    style = ImageStyle.objects.get(name="thumbnail")
    version = style_version(style)
    source = "articles/../../../etc/passwd"
    signature = signing.sign("thumbnail", version, source)
    response = client.get(f"/image-styles/thumbnail/{version}/{signature}/{source}")
    assert response.status_code == 404
    assert not (media / "styles").exists()


def test_only_get_and_head(catalog, client):
    article()
    url = local(styles_of(listed(client)[0])["thumbnail"]["url"])
    assert client.post(url).status_code == 405


# --- query counts -------------------------------------------------------------------


def count_list_queries(django_client, authorization, how_many):
    Article.objects.all().delete()
    for number in range(how_many):
        article(f"Article {number}", name=f"a{number}.jpg", size=(800 + number, 600))
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    django_client.get(ARTICLES, **headers)  # warm the token cache
    with CaptureQueriesContext(connection) as queries:
        response = django_client.get(ARTICLES, **headers)
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == how_many
    assert all(len(item["image"]["styles"]) == 2 for item in results)
    return [query["sql"] for query in queries.captured_queries]


@pytest.mark.parametrize("with_token", [True, False], ids=["token", "no-token"])
def test_a_page_of_articles_costs_constant_queries(catalog, client, with_token, monkeypatch):
    api_client, secret = new_client("Counted", image_styles=["thumbnail", "large"])
    ApiClient.objects.get(is_default=True).image_styles.set(
        ImageStyle.objects.filter(name__in=["medium", "large"])
    )
    authorization = bearer(api_client, secret, client) if with_token else None
    # No file is opened to learn a size: the model stores it.
    monkeypatch.setattr(FileSystemStorage, "open", lambda *a, **kw: pytest.fail("file opened"))

    two = count_list_queries(client, authorization, 2)
    six = count_list_queries(client, authorization, 6)

    # The page's count, the articles with their authors, the caller's styles: for any N.
    assert len(two) == len(six) == 3, six
    assert sum("source_oauth_imagestyle" in sql for sql in six) == 1


def test_size_falls_back_to_the_file_and_survives_a_missing_one():
    from types import SimpleNamespace

    from source_oauth.images.fields import image_size

    class Missing:
        field = instance = None

        @property
        def width(self):
            raise FileNotFoundError("gone")

    # A model without width_field/height_field: the file tells the size.
    assert image_size(SimpleNamespace(field=None, instance=None, width=8, height=6)) == (8, 6)
    assert image_size(Missing()) == (None, None)


def test_migration_records_the_size_of_existing_images(db, media):
    from importlib import import_module
    from types import SimpleNamespace

    from django.apps import apps

    migration = import_module("example_project.content.migrations.0002_article_image_size")
    kept = article(size=(320, 240))
    gone = article("Gone", name="gone.jpg")
    Article.objects.update(image_width=None, image_height=None)
    default_storage.delete(gone.image.name)

    migration.record_image_sizes(apps, SimpleNamespace(connection=connection))

    sizes = dict(Article.objects.values_list("pk", "image_width"))
    assert sizes == {kept.pk: 320, gone.pk: None}
