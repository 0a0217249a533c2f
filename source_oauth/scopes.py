"""DOT's scopes backend, reading scopes from the ``Scope`` table and the client.

Configured as ``OAUTH2_PROVIDER["SCOPES_BACKEND_CLASS"]``. A client that asks
for no scope gets all of its allowed scopes (RFC 6749 §3.3 lets the server
pick a default; the client's own allowance is the least surprising one).
"""

from __future__ import annotations

import time
from typing import Any

from django.db.models.signals import post_delete, post_save
from oauth2_provider.scopes import BaseScopes

from .cache import shared
from .models import Scope

CACHE_KEY = "source_oauth:scopes"
# In the shared cache; a change of any scope drops it at once.
SHARED_SECONDS = 3600


# This process's copy, for LOCAL_SECONDS: (monotonic deadline, scopes).
_local: tuple[float, dict[str, str]] | None = None
LOCAL_SECONDS = 30


def all_scopes() -> dict[str, str]:
    """Every scope name with its description, without a query when possible.

    DOT asks for this on every bearer-protected request (``AccessToken.scopes``),
    so it must cost neither a query nor a cache round trip there: this process
    keeps a copy for ``LOCAL_SECONDS``, behind the shared cache. A changed
    description reaches other servers within that time; which scopes a token
    carries never depends on it. Without the shared cache, it is one query
    per process and ``LOCAL_SECONDS``.
    """
    global _local
    now = time.monotonic()
    if _local is not None and _local[0] > now:
        return _local[1]
    scopes = shared.fetch(
        CACHE_KEY, lambda: dict(Scope.objects.values_list("name", "description")), SHARED_SECONDS
    )
    _local = (now + LOCAL_SECONDS, scopes)
    return scopes


def _forget_scopes(**kwargs: Any) -> None:
    global _local
    _local = None
    shared.forget([CACHE_KEY], tombstones=False)


post_save.connect(_forget_scopes, sender=Scope, dispatch_uid="source_oauth_scopes_saved")
post_delete.connect(_forget_scopes, sender=Scope, dispatch_uid="source_oauth_scopes_deleted")


class ScopesBackend(BaseScopes):
    def get_all_scopes(self) -> dict[str, str]:
        return all_scopes()

    def get_available_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        if application is None:
            return sorted(all_scopes())
        return application.allowed_scope_names

    def get_default_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        if application is None:
            return []
        return application.allowed_scope_names
