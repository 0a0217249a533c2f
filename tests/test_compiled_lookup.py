"""The token check's miss: one statement compiled once, its row built as the ORM builds it."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, set_token_value

from source_oauth.cache.compiled import CompiledLookup
from source_oauth.validator import checksum
from tests.oauth_helpers import new_client, web_client

AccessToken = get_access_token_model()


def issue(client, user=None, raw="compiled-lookup-token-0123456789"):
    token = AccessToken(
        application=client,
        user=user,
        scope="content:read",
        expires=timezone.now() + timedelta(hours=1),
    )
    set_token_value(token, raw)
    token.save()
    return token


def fields(instance):
    return {
        field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields
    }


@pytest.fixture
def lookup():
    return CompiledLookup(
        AccessToken.objects.select_related("application", "user"), "token_checksum"
    )


@pytest.mark.parametrize("with_user", [True, False], ids=["user", "client-only"])
def test_the_row_is_what_the_orm_gives_with_its_client_and_user(lookup, catalog, user, with_user):
    client, _ = web_client()
    issued = issue(client, user if with_user else None)
    orm = (
        AccessToken.objects.select_related("application", "user")
        .filter(token_checksum=issued.token_checksum)
        .first()
    )
    lookup.first("some other checksum")  # compiled here: the next lookup runs it as it is
    with CaptureQueriesContext(connection) as queries:
        found = lookup.first(issued.token_checksum)
        application, token_user = found.application, found.user  # loaded with it: no query
    assert len(queries.captured_queries) == 1
    assert fields(found) == fields(orm)  # expiry as an aware datetime, resource as a list
    assert isinstance(found.expires, type(orm.expires)) and found.expires.tzinfo is not None
    assert fields(application) == fields(orm.application)
    assert (token_user and fields(token_user)) == (orm.user and fields(orm.user))
    assert found._state.db == orm._state.db and not found._state.adding
    assert found.is_valid(["content:read"])


def test_one_compilation_serves_every_value(lookup, catalog, user):
    client, _ = new_client()
    first = issue(client, user, raw="compiled-lookup-first-token-000")
    second = issue(client, None, raw="compiled-lookup-second-token-00")
    assert lookup.first(first.token_checksum).pk == first.pk
    statements = dict(lookup._statements)
    assert lookup.first(second.token_checksum).pk == second.pk
    assert lookup.first(checksum("never issued")) is None
    assert lookup._statements == statements and None not in statements.values()


def test_a_value_the_database_gets_transformed_goes_through_the_orm(catalog, user):
    client, _ = new_client()
    issued = issue(client, user)
    # contains: the parameter is '%value%', not the value; compiling it once would be wrong.
    lookup = CompiledLookup(AccessToken.objects.all(), "token_checksum__contains")
    assert lookup.first(issued.token_checksum[5:20]).pk == issued.pk
    assert lookup.first("not in any checksum") is None
    assert list(lookup._statements.values()) == [None]


@pytest.mark.parametrize(
    "queryset, field",
    [
        (lambda: AccessToken.objects.all(), "token_checksum__iexact"),  # a lookup, not equality
        (lambda: AccessToken.objects.all(), "id"),  # not a text field
        (lambda: AccessToken.objects.prefetch_related("user__groups"), "token_checksum"),
        (lambda: AccessToken.objects.select_for_update(), "token_checksum"),
        (lambda: AccessToken.objects.none(), "token_checksum"),
    ],
    ids=["iexact", "integer-field", "prefetch", "for-update", "none"],
)
def test_what_one_statement_cannot_answer_goes_through_the_orm(catalog, user, queryset, field):
    client, _ = new_client()
    issued = issue(client, user)
    value = issued.pk if field == "id" else issued.token_checksum
    lookup = CompiledLookup(queryset(), field)
    expected = next(iter(queryset().filter(**{field: value})[:1]), None)
    found = lookup.first(value)
    assert (found and found.pk) == (expected and expected.pk)
    assert list(lookup._statements.values()) == [None]


def test_a_value_that_is_not_a_string_is_prepared_by_the_orm(lookup, catalog, user):
    client, _ = new_client()
    issue(client, user)
    assert lookup.first(12345) is None  # PostgreSQL would refuse varchar = integer
    assert None not in lookup._statements.values()


def test_each_thread_converts_with_its_own_connection(lookup, catalog, user, transactional_db):
    client, _ = new_client()
    issued = issue(client, user)
    expected = fields(lookup.first(issued.token_checksum))
    found = []

    def other_thread():
        try:
            found.append(fields(lookup.first(issued.token_checksum)))
        finally:
            connection.close()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert found == [expected]
