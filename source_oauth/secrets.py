"""Client secrets: generated, hashed at rest, compared in constant time.

A client secret is never typed by a person: it is ``CLIENT_SECRET_BYTES`` of
``secrets.token_urlsafe`` randomness (256 bits by default). Key stretching
(PBKDF2, Argon2) exists to slow down guessing of *low-entropy* passwords; a
256-bit random value cannot be guessed however fast the hash, so one SHA-256
is as safe as a million PBKDF2 rounds and costs a microsecond instead of a
quarter of a CPU second per token request. User passwords are untouched:
they keep Django's ``PASSWORD_HASHERS``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from .conf import conf

PREFIX = "sha256$"


def generate_secret() -> str:
    """Return a new random client secret."""
    return secrets.token_urlsafe(conf.CLIENT_SECRET_BYTES)


def is_hashed(value: str) -> bool:
    """Tell whether ``value`` is already a stored hash rather than a plain secret."""
    return value.startswith(PREFIX) and len(value) == len(PREFIX) + 64


def hash_secret(secret: str) -> str:
    """Return the value stored for ``secret``."""
    return PREFIX + hashlib.sha256(secret.encode()).hexdigest()


def check_secret(secret: str, stored: str) -> bool:
    """Compare a presented secret with a stored hash in constant time."""
    if not stored or not secret:
        # Still hash, so an empty stored secret costs the same as a real one.
        hmac.compare_digest(hash_secret(secret or ""), PREFIX + "0" * 64)
        return False
    return hmac.compare_digest(hash_secret(secret), stored)


def mask(stored: str) -> str:
    """A short, harmless hint of a stored hash for display (never the secret)."""
    if not stored:
        return ""
    return f"{stored[len(PREFIX) : len(PREFIX) + 8]}…"
