"""DOT's scopes backend, reading scopes from the ``Scope`` table and the client.

Configured as ``OAUTH2_PROVIDER["SCOPES_BACKEND_CLASS"]``. A client that asks
for no scope gets all of its allowed scopes (RFC 6749 §3.3 lets the server
pick a default; the client's own allowance is the least surprising one).
"""

from __future__ import annotations

from typing import Any

from oauth2_provider.scopes import BaseScopes

from .models import Scope


def client_scope_names(application: Any) -> list[str]:
    """Names of the scopes ``application`` may be granted, from its prefetch if present."""
    return sorted(scope.name for scope in application.allowed_scopes.all())


class ScopesBackend(BaseScopes):
    def get_all_scopes(self) -> dict[str, str]:
        return dict(Scope.objects.values_list("name", "description"))

    def get_available_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        if application is None:
            return sorted(Scope.objects.values_list("name", flat=True))
        return client_scope_names(application)

    def get_default_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        if application is None:
            return []
        return client_scope_names(application)
