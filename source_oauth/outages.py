"""What source_oauth does when a dependency it needs is down.

Two dependencies can fail under a running server: the shared cache (Redis)
and the database.

- The cache is an accelerator. When it fails, ``cache.breaker`` stops
  using it and every request is served from the database as if the cache
  were empty (see ``cache.shared``); nothing here answers an error for it.
- Without the database, nothing can be decided that the caches cannot
  decide. The OAuth endpoints and the API then answer as RFC 6749 endpoints
  do: JSON ``503 temporarily_unavailable`` with ``Retry-After`` and
  ``Cache-Control: no-store`` (``unavailable_json``,
  ``json_when_database_down``), and the pages a person sees (authorization,
  connected apps, logout) a human "try again" page with 503
  (``unavailable_page``, ``page_when_database_down``), DEBUG on or off, never
  Django's HTML 500.

Either way the log gets one line per dependency per ``LOG_INTERVAL_SECONDS``
and process, with the number of requests affected, not a traceback per
request (``Outage``). A line names the exception's class and the first line
of its message (a connection error: host, port, reason), never a request's
parameters, so no token or secret reaches it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.db.backends.signals import connection_created
from django.db.utils import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

logger = logging.getLogger("source_oauth.outages")

LOG_INTERVAL_SECONDS = 10
RETRY_AFTER_SECONDS = 5
TEMPORARILY_UNAVAILABLE = "temporarily_unavailable"
DESCRIPTION = "The service is temporarily unavailable; retry later."

# What Django raises when the database cannot be reached or dropped the connection
# (refused, restarted, shut down, a dead persistent connection, too many clients).
# Not DatabaseError as a whole: an IntegrityError or a ProgrammingError is a bug, and
# stays a 500 that someone must read.
DATABASE_ERRORS = (OperationalError, InterfaceError)


def describe(error: BaseException) -> str:
    """The class and first line of ``error``'s message: enough to act on, nothing more."""
    message = str(error).strip().splitlines()
    first = message[0][:200] if message else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


class Outage:
    """One dependency's failures in this process, logged once per interval with a count.

    ``failed()`` is called for everything the failure affected (a request, a
    cache lookup: ``unit`` says which); the first failure of an outage is
    logged at once, then at most one line per interval says how many more
    there were. ``recovered()`` logs the end, with the total.
    """

    def __init__(self, name: str, consequence: str, unit: str) -> None:
        self.name = name
        self.consequence = consequence
        self.unit = unit
        self.lock = threading.Lock()
        self.started: float | None = None
        self.logged_at = 0.0
        self.unlogged = 0
        self.total = 0

    def failed(self, error: BaseException | None = None) -> None:
        now = time.monotonic()
        with self.lock:
            if self.started is None:
                self.started, self.logged_at, self.unlogged, self.total = now, 0.0, 0, 0
            self.unlogged += 1
            self.total += 1
            if now - self.logged_at < LOG_INTERVAL_SECONDS:
                return
            count, self.unlogged, self.logged_at = self.unlogged, 0, now
            elapsed = now - self.started
        cause = f" ({describe(error)})" if error is not None else ""
        logger.warning(
            "%s unreachable for %.0f s%s; %s: %d %s since the last line.",
            self.name,
            elapsed,
            cause,
            self.consequence,
            count,
            self.unit,
        )

    def recovered(self) -> None:
        with self.lock:
            if self.started is None:
                return
            elapsed, total = time.monotonic() - self.started, self.total
            self.started = None
        logger.warning(
            "%s reachable again after %.1f s; %d %s in all.", self.name, elapsed, total, self.unit
        )


database = Outage(
    "The database",
    f"answering 503 {TEMPORARILY_UNAVAILABLE} where the caches cannot answer",
    "request(s) answered 503",
)


def is_database_outage(error: BaseException) -> bool:
    return isinstance(error, DATABASE_ERRORS)


def _quiet(response: HttpResponse) -> HttpResponse:
    """A 503 that Django's request logger leaves alone: ``Outage`` has said it, once."""
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    response._has_been_logged = True  # django.utils.log.log_response: one line per 5xx
    return response


def unavailable_json(*, api: bool = False) -> HttpResponse:
    """The JSON 503 of an OAuth endpoint (RFC 6749 §5.2 keys), or of the API (``detail``)."""
    if api:  # the shape of the API's other errors (see ``permissions``)
        body = {"detail": DESCRIPTION, "error": TEMPORARILY_UNAVAILABLE}
    else:
        body = {"error": TEMPORARILY_UNAVAILABLE, "error_description": DESCRIPTION}
    return _quiet(JsonResponse(body, status=503))


def unavailable_page() -> HttpResponse:
    """The 503 page a person sees on the authorization endpoint.

    Rendered without the request: context processors would read the session
    and the user, from the database that just failed.
    """
    html = render_to_string("source_oauth/unavailable.html")
    return _quiet(HttpResponse(html, status=503, content_type="text/html; charset=utf-8"))


def json_when_database_down(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Answer a view's (or any response function's) database outage with the JSON 503."""
    return _answering_outage(view, unavailable_json)


def page_when_database_down(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Answer a page's database outage with the human 503 page."""
    return _answering_outage(view, unavailable_page)


def _answering_outage(
    view: Callable[..., HttpResponse], answer: Callable[[], HttpResponse]
) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(*args, **kwargs)
        except DATABASE_ERRORS as error:
            database.failed(error)
            return answer()

    return wrapper


def _connected(**kwargs: Any) -> None:
    # A new connection after failures: the database is back (once per connection, cheap).
    database.recovered()


connection_created.connect(_connected, dispatch_uid="source_oauth_outages_connected")
