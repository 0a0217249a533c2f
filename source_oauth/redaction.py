"""Keep codes and tokens out of logs written by oauthlib and DOT.

oauthlib logs, at DEBUG, the grants and token dicts it builds and even the
raw refresh token it validates. A DEBUG log shipped to a log service would
then hold live credentials. This filter, attached to those libraries'
loggers when the app is ready, drops oauthlib's DEBUG records (nothing in
them helps an operator that the HTTP status does not) and, in what remains,
replaces the values of credential keys with ``[redacted]``.
"""

from __future__ import annotations

import logging
from typing import Any

SENSITIVE_KEYS = frozenset(
    {"code", "access_token", "refresh_token", "client_secret", "code_verifier", "id_token", "token"}
)
LIBRARIES = ("oauthlib", "oauth2_provider")


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: "[redacted]" if key in SENSITIVE_KEYS else _redact(item)
            for key, item in value.items()
        }
    return value


class RedactCredentials(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO and record.name.startswith("oauthlib"):
            return False
        if isinstance(record.args, dict):
            record.args = _redact(record.args)
        elif isinstance(record.args, tuple):
            record.args = tuple(_redact(arg) for arg in record.args)
        return True


def install() -> None:
    """Attach the filter to every logger of oauthlib and DOT (filters are not inherited)."""
    redactor = RedactCredentials()
    names = [
        name for name in list(logging.root.manager.loggerDict) if name.split(".", 1)[0] in LIBRARIES
    ]
    for name in [*LIBRARIES, *names]:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactCredentials) for f in logger.filters):
            logger.addFilter(redactor)
