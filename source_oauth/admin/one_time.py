"""A new client secret on its way from the POST that generated it to the page that shows it.

Not Django's messages: their default storage is a signed, not encrypted,
cookie, so the secret would travel to the browser in ``Set-Cookie`` and back
in every ``Cookie`` header until shown (and into any proxy's logs). Here the
session (server-side) keeps the secret sealed with a one-time pad, and the
redirect carries the pad in its URL (``?one_time=…``): neither alone reveals
the secret, the page that shows it needs both, and it takes the sealed copy
out of the session, so a second look (a reload, the URL from the history)
finds nothing. Even a project whose sessions live in a signed cookie sends
only the sealed copy.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from dataclasses import dataclass

from django.http import HttpRequest

SESSION_KEY = "source_oauth_one_time_secrets"
PARAM = "one_time"


@dataclass(frozen=True)
class Held:
    """A secret taken out of the session: which client it belongs to, and the secret."""

    client_pk: int
    secret: str


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _xor(data: bytes, pad: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, pad, strict=True))


def _slot(pad: bytes) -> str:
    return hashlib.sha256(pad).hexdigest()[:32]


def hold(request: HttpRequest, client_pk: int, secret: str) -> str:
    """Keep ``secret`` for the next page; return the value of ``PARAM`` that unlocks it once."""
    data = secret.encode()
    pad = secrets.token_bytes(len(data))
    held = dict(request.session.get(SESSION_KEY, {}))
    held[_slot(pad)] = {"client": client_pk, "sealed": _encode(_xor(data, pad))}
    request.session[SESSION_KEY] = held
    return _encode(pad)


def take(request: HttpRequest) -> Held | None:
    """The secret the URL's ``PARAM`` unlocks, taken out of the session; None if gone or wrong."""
    key = request.GET.get(PARAM)
    held = request.session.get(SESSION_KEY)
    if not key or not held:
        return None
    try:
        pad = _decode(key)
    except (binascii.Error, ValueError):
        return None
    entry = held.get(_slot(pad))
    if entry is None:
        return None
    request.session[SESSION_KEY] = {slot: e for slot, e in held.items() if e is not entry}
    try:
        secret = _xor(_decode(entry["sealed"]), pad).decode("ascii")
    except (binascii.Error, ValueError):  # a pad of another length: not this secret's
        return None
    return Held(entry["client"], secret)


def asked(request: HttpRequest) -> bool:
    """Whether the URL asks for a one-time secret (which may already have been shown)."""
    return PARAM in request.GET
