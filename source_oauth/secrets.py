"""Client secrets: generated, hashed at rest, compared in constant time.

A client secret is never typed by a person: it is ``CLIENT_SECRET_BYTES`` of
``secrets.token_urlsafe`` randomness (256 bits by default). Key stretching
(PBKDF2, Argon2) exists to slow down guessing of *low-entropy* passwords; a
256-bit random value cannot be guessed however fast the hash, so one SHA-256
is as safe as a million PBKDF2 rounds and costs a microsecond instead of a
quarter of a CPU second per token request. User passwords are untouched:
they keep Django's ``PASSWORD_HASHERS``.

A client adopted from django-oauth-toolkit (``adopt_oauth_toolkit``) may
still hold DOT's hash of its secret: an encoded Django password hash such as
``pbkdf2_sha256$...``. That "legacy hash" keeps authenticating, through
Django's hashers, until the client first presents its secret; the model then
stores this module's hash instead (``ApiClient.check_client_secret``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.contrib.auth.hashers import check_password, identify_hasher

from .conf import conf

PREFIX = "sha256$"


def generate_secret() -> str:
    """Return a new random client secret."""
    return secrets.token_urlsafe(conf.CLIENT_SECRET_BYTES)


def is_hashed(value: str) -> bool:
    """Tell whether ``value`` is this module's hash of a secret."""
    return value.startswith(PREFIX) and len(value) == len(PREFIX) + 64


def legacy_algorithm(value: str) -> str | None:
    """The Django hasher that made ``value`` (DOT's hash of a secret), or None.

    None for this module's hashes, plain values, and hashes whose hasher is
    not in ``PASSWORD_HASHERS`` (which nothing here could check).
    """
    if not value or is_hashed(value):
        return None
    try:
        return identify_hasher(value).algorithm
    except ValueError:
        return None


def is_stored_hash(value: str) -> bool:
    """Tell whether ``value`` is a hash as stored (ours or DOT's), not a plain secret."""
    return is_hashed(value) or legacy_algorithm(value) is not None


def hash_secret(secret: str) -> str:
    """Return the value stored for ``secret``."""
    return PREFIX + hashlib.sha256(secret.encode()).hexdigest()


def check_secret(secret: str, stored: str) -> bool:
    """Compare a presented secret with a stored hash in constant time.

    ``stored`` is this module's hash, or a legacy hash left by DOT, checked by
    the Django hasher that made it (see ``needs_upgrade``).
    """
    if not stored or not secret:
        # Still hash, so an empty stored secret costs the same as a real one.
        hmac.compare_digest(hash_secret(secret or ""), PREFIX + "0" * 64)
        return False
    if legacy_algorithm(stored) is not None:
        try:
            return check_password(secret, stored)
        except ValueError:  # the hasher's library (argon2-cffi, bcrypt) is not installed
            return False
    return hmac.compare_digest(hash_secret(secret), stored)


def needs_upgrade(stored: str) -> bool:
    """Tell whether ``stored`` is a legacy hash, to be replaced by ours once its secret is known."""
    return legacy_algorithm(stored) is not None


def mask(stored: str) -> str:
    """A short, harmless hint of a stored hash for display (never the secret)."""
    if not stored:
        return ""
    algorithm = legacy_algorithm(stored)
    if algorithm is not None:
        return f"{algorithm}…"  # DOT's hash, replaced by ours at the secret's next use
    return f"{stored[len(PREFIX) : len(PREFIX) + 8]}…"
