"""The "API" section of the Django admin: API clients, their tokens, scopes, image styles.

DOT registers the admin of its own models (the swapped-in ``ApiClient``,
grants, ID tokens) from the ``*_ADMIN_CLASS`` entries of ``OAUTH2_PROVIDER``;
the classes here subclass DOT's and are named there by
``source_oauth.dot_settings`` (as ``source_oauth.admin.ApiClientAdmin`` and so
on), so nothing is registered twice. Access and refresh tokens are listed
through proxy models of this app, so they sit in the "API" section beside the
clients they belong to; DOT's own section is withdrawn.

Two rules hold on every page: a client secret is shown in plain text only on
the one page that follows its generation, and neither a secret's hash nor a
token (nor its full checksum) is ever rendered.

- ``clients``: the API clients screen;
- ``one_time``: a new secret, from the save that made it to the page that shows it once;
- ``tokens``: access tokens (revoked ones too) and refresh tokens;
- ``catalog``: scopes and image styles;
- ``consents``: remembered approvals of third-party clients;
- ``lifetimes``: the API client list's token lifetime columns;
- ``audit``: the audit trail.
"""

from .audit import AuditEventAdmin
from .catalog import ImageStyleAdmin, ScopeAdmin
from .clients import ApiClientAdmin
from .consents import ConsentRecordAdmin
from .tokens import (
    AccessTokenAdmin,
    GrantAdmin,
    IDTokenAdmin,
    RefreshTokenAdmin,
    RevokedAccessTokenAdmin,
    withdraw_dot_token_admins,
)

__all__ = [
    "AccessTokenAdmin",
    "ApiClientAdmin",
    "AuditEventAdmin",
    "ConsentRecordAdmin",
    "GrantAdmin",
    "IDTokenAdmin",
    "ImageStyleAdmin",
    "RefreshTokenAdmin",
    "RevokedAccessTokenAdmin",
    "ScopeAdmin",
    "withdraw_dot_token_admins",
]
