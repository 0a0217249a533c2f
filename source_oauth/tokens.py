"""Access and refresh token values: oauthlib's format, from one read of the system's randomness.

oauthlib's default generator (``oauthlib.common.generate_token``) draws each
of a token's 30 characters with its own ``SystemRandom().choice``: about 30
reads of ``os.urandom`` per token, the costliest Python step of issuing one
after the INSERT. ``generate_token`` gives the same thing, 30 characters
drawn uniformly and independently from oauthlib's 62 letters and digits
(about 178 bits), from one read: a random byte below 248 (4 × 62) picks a
character with ``byte % 62``, every character equally likely; the few bytes
at or above 248 are dropped, and another read tops up in the rare case
that too many were.

DOT uses it when ``OAUTH2_PROVIDER`` names it::

    "ACCESS_TOKEN_GENERATOR": "source_oauth.tokens.generate_token",
    "REFRESH_TOKEN_GENERATOR": "source_oauth.tokens.generate_token",
"""

from __future__ import annotations

import os
from typing import Any

from oauthlib.common import UNICODE_ASCII_CHARACTER_SET

CHARACTERS = UNICODE_ASCII_CHARACTER_SET
LENGTH = 30
# The largest multiple of len(CHARACTERS) a byte can reach: below it, byte % 62 is uniform.
_LIMIT = 256 - 256 % len(CHARACTERS)


def generate_token(request: Any = None, refresh_token: bool = False) -> str:
    """A new token value: ``LENGTH`` characters of ``CHARACTERS``, uniformly random.

    The signature is oauthlib's token generator's (``BearerToken`` passes the
    oauthlib request, and ``refresh_token=True`` for a refresh token); neither
    changes the value.
    """
    size = len(CHARACTERS)
    token = ""
    while len(token) < LENGTH:
        # 8 spare bytes: a second read is needed for about 2 tokens in a million.
        token += "".join(
            CHARACTERS[byte % size] for byte in os.urandom(LENGTH + 8) if byte < _LIMIT
        )
    return token[:LENGTH]
