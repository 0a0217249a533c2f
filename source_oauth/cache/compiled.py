"""A one-row lookup whose SQL is compiled once, not on every request.

A protected request whose token is not cached yet (the first request with
every new token) loads the token with its client and user: one SQL
statement. Django compiles a queryset into SQL each time it runs it, and for
three wide models joined, compiling cost more than the rest of the load:
measured in process on PostgreSQL, about 0.6 ms of the 1.4 ms the ORM spent
per lookup, when running the statement cost 0.2 ms. Only the value looked up
changes from one request to the next, so the statement is compiled once per
database, and each lookup runs it with its own value. The row becomes model
instances through ``Model.from_db``, the related ones cached on their fields,
as iterating the queryset would make them; the structure of the row is what
Django's compiler describes for its own iterator (``klass_info``).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

from django.core.exceptions import EmptyResultSet, FieldDoesNotExist
from django.db import connections
from django.db.models import CharField, Model, QuerySet, TextField
from django.db.models.query import ModelIterable
from django.db.models.sql import Query


class CompiledLookup:
    """``queryset.filter(<field>=value)[:1]``, its SQL compiled once per database alias.

    For an exact lookup on a unique text column by a string, on a plain
    queryset (``filter``, ``select_related``, ``only``...). Anything the
    compiled statement could get wrong goes through the ORM every time
    instead, which is slower, never different: another kind of field or
    lookup, a value that is not a ``str`` (the field would prepare it), a
    queryset that loads more than its rows (``prefetch_related``, another
    iterable, ``select_for_update``, a fetch mode other than the default),
    and parameters that do not hold the value as it was given.
    """

    def __init__(self, queryset: QuerySet, field: str) -> None:
        self.queryset = queryset
        self.field = field
        self._statements: dict[str, _Statement | None] = {}
        self._local = threading.local()  # each thread's converters (bound to its connection)

    def first(self, value: Any) -> Model | None:
        """The row whose field is ``value``, as a model instance with its related ones; or None."""
        db = self.queryset.db  # the queryset's own alias, else the router's
        try:
            statement = self._statements[db]
        except KeyError:
            statement = self._statements[db] = self._compile(db)
        if statement is None or type(value) is not str:
            return next(iter(self._where(value, db)), None)
        connection = connections[db]
        return statement.run(db, connection, value, self._converters(statement, db, connection))

    def _where(self, value: Any, db: str) -> QuerySet:
        return self.queryset.using(db).filter(**{self.field: value})[:1]

    def _compile(self, db: str) -> _Statement | None:
        if not _plain(self.queryset) or not _text_field(self.queryset.model, self.field):
            return None
        marker = f"Source_OAuth-{uuid.uuid4().hex}"  # a field that changes it is noticed
        query = self._where(marker, db).query
        compiler = query.get_compiler(db)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:  # .none(), or a filter that matches nothing
            return None
        slots = [index for index, param in enumerate(params) if param == marker]
        if len(slots) != 1 or compiler.annotation_col_map or not compiler.klass_info:
            return None
        expressions = [column[0] for column in compiler.select]
        try:
            part = _Part.of(compiler.klass_info, expressions)
        except _Unsupported:  # a select_related that reuses a parent's columns
            return None
        return _Statement(sql, tuple(params), slots[0], part, query, expressions)

    def _converters(self, statement: _Statement, db: str, connection: Any) -> list[Any]:
        # Backend converters are bound to a connection, which is one per thread: each
        # thread gets its own, kept no longer than the thread.
        known = getattr(self._local, "converters", None)
        if known is None:
            known = self._local.converters = {}
        entry = known.get(db)
        if entry is None or entry[0] is not connection:
            compiler = statement.query.get_compiler(connection=connection)
            converters = list(compiler.get_converters(statement.expressions).items())
            entry = known[db] = (connection, converters)
        return entry[1]


def _text_field(model: type[Model], name: str) -> bool:
    """Whether ``name`` is a text field compared as it is (no lookup such as ``__iexact``)."""
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:  # a lookup, or a relation's path
        return False
    return isinstance(field, (CharField, TextField)) and field.concrete


def _plain(queryset: QuerySet) -> bool:
    """Whether iterating ``queryset`` does no more than build its rows' instances."""
    return (
        queryset._iterable_class is ModelIterable
        and not queryset._prefetch_related_lookups
        and not queryset._known_related_objects
        and not queryset.query.select_for_update
        and getattr(queryset, "_fetch_mode", None) is _DEFAULT_FETCH_MODE  # Django 6.1+
    )


try:  # Django 6.1+: how instances load the relations not selected with them
    from django.db.models.query import DEFAULT_FETCH_MODE as _DEFAULT_FETCH_MODE
except ImportError:
    _DEFAULT_FETCH_MODE = None


class _Unsupported(Exception):
    pass


class _Part(NamedTuple):
    """One model of the row: its columns, and the related models selected with it."""

    model: type[Model]
    columns: slice
    attnames: list[str]
    pk_index: int
    local_setter: Callable[[Model, Model | None], None] | None
    remote_setter: Callable[[Model, Model], None] | None
    related: tuple[_Part, ...]

    @classmethod
    def of(cls, klass_info: dict[str, Any], expressions: list[Any]) -> _Part:
        # The structure the compiler describes for its own iterator (klass_info).
        if klass_info.get("from_parent"):
            raise _Unsupported
        own = klass_info["select_fields"]
        columns = slice(own[0], own[-1] + 1)
        attnames = [expression.target.attname for expression in expressions[columns]]
        model = klass_info["model"]
        return cls(
            model=model,
            columns=columns,
            attnames=attnames,
            pk_index=attnames.index(model._meta.pk.attname),
            local_setter=klass_info.get("local_setter"),
            remote_setter=klass_info.get("remote_setter"),
            related=tuple(
                cls.of(info, expressions) for info in klass_info.get("related_klass_infos", ())
            ),
        )

    def build(self, db: str, row: list[Any]) -> Model | None:
        """The instance, as ``Model.from_db`` makes it, with its related ones cached on it."""
        values = row[self.columns]
        if values[self.pk_index] is None:  # a nullable foreign key that is null
            return None
        instance = self.model.from_db(db, self.attnames, values)
        if _DEFAULT_FETCH_MODE is not None:
            instance._state.fetch_mode = _DEFAULT_FETCH_MODE  # as the queryset's from_db sets it
        for part in self.related:
            related = part.build(db, row)
            part.local_setter(instance, related)
            if related is not None:
                part.remote_setter(related, instance)
        return instance


class _Statement(NamedTuple):
    sql: str
    params: tuple[Any, ...]
    slot: int  # where the value goes in params
    part: _Part
    query: Query  # compiled again only for each thread's converters
    expressions: list[Any]  # the row's columns

    def run(self, db: str, connection: Any, value: str, converters: list[Any]) -> Model | None:
        params = list(self.params)
        params[self.slot] = value
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        row = list(row)
        for position, (functions, expression) in converters:
            converted = row[position]
            for function in functions:
                converted = function(converted, expression, connection)
            row[position] = converted
        return self.part.build(db, row)
