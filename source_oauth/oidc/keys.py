"""The keys that sign ID tokens: where they come from, which one signs, which are published.

Two sources, settings first:

1. DOT's ``OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"]`` (the active RS256 key, a PEM)
   and ``["OIDC_RSA_PRIVATE_KEYS_INACTIVE"]`` (published, never used to sign):
   for a host that keeps its keys in a secrets manager and rotates them there.
2. The database (``SigningKey``), generated and rotated by ``manage.py oidc_keys``.
   One key per algorithm is active; a rotated-out key stays published until every
   ID token it signed has expired (``ID_TOKEN_EXPIRE_SECONDS`` after its retirement).

A database key's private half is stored encrypted (Fernet) with a key derived
from ``SECRET_KEY``; ``SECRET_KEY_FALLBACKS`` are tried when decrypting, so
``SECRET_KEY`` rotates the Django way. A stolen database alone therefore signs
nothing, as it holds no usable token or secret either.

Every key's ID (``kid``) is its RFC 7638 thumbprint, as DOT names a settings key.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from jwcrypto import jwk
from jwcrypto.common import JWException
from oauth2_provider.settings import oauth2_settings

from .models import SigningAlgorithm, SigningKey

RS256 = SigningAlgorithm.RS256.value
ES256 = SigningAlgorithm.ES256.value


class NoSigningKey(Exception):
    """No active key signs with the algorithm asked for."""


class SettingsKeyInUse(Exception):
    """The RS256 key comes from settings: it is rotated there, not in the database."""


class KeyExists(Exception):
    """An active key already signs with this algorithm (``rotate`` replaces it)."""


@dataclass(frozen=True)
class Key:
    """A key that signs ID tokens, or verifies those it signed."""

    kid: str
    algorithm: str
    jwk: jwk.JWK

    @property
    def public(self) -> dict[str, Any]:
        """The public key as the JWKS publishes it (RFC 7517 §4)."""
        data = json.loads(self.jwk.export_public())
        data.update(kid=self.kid, alg=self.algorithm, use="sig")
        return data


# --- signing and verifying ---------------------------------------------------------


def signing_key(algorithm: str = RS256) -> Key:
    """The key that signs ID tokens with ``algorithm``: settings first, then the database.

    Costs one query for a database key; the decrypted key is kept per process.
    Raises ``NoSigningKey`` when there is none.
    """
    if algorithm == RS256 and oauth2_settings.OIDC_RSA_PRIVATE_KEY:
        return _settings_key(oauth2_settings.OIDC_RSA_PRIVATE_KEY)
    row = (
        SigningKey.objects.filter(algorithm=algorithm, retired__isnull=True)
        .only("kid", "algorithm", "private_key")
        .order_by("-created", "-id")
        .first()
    )
    if row is None:
        raise NoSigningKey(algorithm)
    return Key(row.kid, row.algorithm, _decrypt(row.private_key))


def published_keys() -> list[Key]:
    """Every key whose public half is in the JWKS: active ones and retired ones still needed.

    One query (the database keys); their public halves are stored, nothing is decrypted.
    """
    found: dict[str, Key] = {}
    if oauth2_settings.OIDC_RSA_PRIVATE_KEY:
        for pem in [
            oauth2_settings.OIDC_RSA_PRIVATE_KEY,
            *oauth2_settings.OIDC_RSA_PRIVATE_KEYS_INACTIVE,
        ]:
            key = _settings_key(pem)
            found.setdefault(key.kid, key)
    for kid, algorithm, public in _published_rows().values_list("kid", "algorithm", "public_jwk"):
        found.setdefault(kid, Key(kid, algorithm, jwk.JWK(**public)))
    return list(found.values())


def verification_key(token: str) -> jwk.JWK | None:
    """The published key named by the ``kid`` of a compact JWS, without trusting anything else.

    None when the token is not a JWS, names no key, or names one no longer published.
    """
    try:
        header = json.loads(_header(token))
    except (ValueError, TypeError, AttributeError):  # not base64url, not UTF-8, not JSON
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    if not isinstance(kid, str):
        return None
    return next((key.jwk for key in published_keys() if key.kid == kid), None)


def available_algorithms() -> list[str]:
    """The algorithms an ID token can be signed with now (one query)."""
    algorithms = set(
        SigningKey.objects.filter(retired__isnull=True).values_list("algorithm", flat=True)
    )
    if oauth2_settings.OIDC_RSA_PRIVATE_KEY:
        algorithms.add(RS256)
    return [a for a in SigningAlgorithm.values if a in algorithms]


# --- managing database keys ---------------------------------------------------------


def generate(algorithm: str = RS256) -> SigningKey:
    """Create the active key for ``algorithm``; ``KeyExists`` if there is one already."""
    _refuse_settings_key(algorithm)
    with transaction.atomic():
        active = _active_rows(algorithm).select_for_update().first()
        if active is not None:
            raise KeyExists(active.kid)
        return save(_new_key(algorithm), algorithm)


def rotate(algorithm: str = RS256) -> tuple[SigningKey, list[SigningKey]]:
    """Make a new key the active one for ``algorithm``; return it and the keys it retired.

    A retired key stops signing at once and stays published until every ID
    token it signed has expired, then ``prune()`` removes it.
    """
    _refuse_settings_key(algorithm)
    now = timezone.now()
    until = now + timedelta(seconds=oauth2_settings.ID_TOKEN_EXPIRE_SECONDS)
    with transaction.atomic():
        retired = list(_active_rows(algorithm).select_for_update())
        new = save(_new_key(algorithm), algorithm)
        for key in retired:
            key.retired, key.published_until = now, until
            key.save(update_fields=["retired", "published_until"])
    prune()
    return new, retired


def prune() -> int:
    """Delete the retired keys that no unexpired ID token can need; return how many."""
    deleted, _ = SigningKey.objects.filter(
        retired__isnull=False, published_until__lte=timezone.now()
    ).delete()
    return deleted


def save(private: jwk.JWK, algorithm: str) -> SigningKey:
    """Store ``private`` as an active database key (encrypted), as ``generate`` does."""
    pem = private.export_to_pem(private_key=True, password=None)
    key = Key(private.thumbprint(), algorithm, private)
    return SigningKey.objects.create(
        kid=key.kid,
        algorithm=algorithm,
        private_key=_fernet().encrypt(pem).decode("ascii"),
        public_jwk=key.public,
    )


def describe() -> list[dict[str, Any]]:
    """Every key this server knows, newest first, for ``oidc_keys list``."""
    now = timezone.now()
    rows: list[dict[str, Any]] = []
    if oauth2_settings.OIDC_RSA_PRIVATE_KEY:
        for index, pem in enumerate(
            [oauth2_settings.OIDC_RSA_PRIVATE_KEY, *oauth2_settings.OIDC_RSA_PRIVATE_KEYS_INACTIVE]
        ):
            key = _settings_key(pem)
            rows.append(
                {
                    "kid": key.kid,
                    "algorithm": RS256,
                    "source": "settings",
                    "state": "active" if index == 0 else "published",
                    "created": None,
                    "retired": None,
                    "published_until": None,
                }
            )
    for row in SigningKey.objects.all():
        if row.retired is None:
            state = "active"
        elif row.published_until and row.published_until > now:
            state = "published"
        else:
            state = "expired"
        rows.append(
            {
                "kid": row.kid,
                "algorithm": row.algorithm,
                "source": "database",
                "state": state,
                "created": row.created,
                "retired": row.retired,
                "published_until": row.published_until,
            }
        )
    return rows


# --- what the system checks ask -----------------------------------------------------


def settings_key_problems() -> list[str]:
    """What is wrong with the keys in DOT's settings (empty when nothing is)."""
    problems = []
    pems = [oauth2_settings.OIDC_RSA_PRIVATE_KEY, *oauth2_settings.OIDC_RSA_PRIVATE_KEYS_INACTIVE]
    names = ["OIDC_RSA_PRIVATE_KEY"] + [
        f"OIDC_RSA_PRIVATE_KEYS_INACTIVE[{i}]" for i in range(len(pems) - 1)
    ]
    for name, pem in zip(names, pems, strict=True):
        if not pem:
            continue
        try:
            key = _settings_key(pem)
        except (JWException, ValueError, TypeError):
            problems.append(f"{name} is not a private key in PEM format.")
            continue
        if key.jwk.get("kty") != "RSA" or not key.jwk.has_private:
            problems.append(f"{name} is not an RSA private key.")
    return problems


def undecryptable_keys() -> list[str]:
    """The key IDs of published database keys that SECRET_KEY cannot decrypt."""
    return [
        kid
        for kid, private_key in _published_rows().values_list("kid", "private_key")
        if not _decrypts(private_key)
    ]


def active_database_algorithms() -> set[str]:
    return set(SigningKey.objects.filter(retired__isnull=True).values_list("algorithm", flat=True))


# --- private helpers ---------------------------------------------------------------


def _header(token: str) -> str:
    protected = token.split(".", 1)[0]
    return base64.urlsafe_b64decode(protected + "=" * (-len(protected) % 4)).decode("utf-8")


def _published_rows() -> Any:
    now = timezone.now()
    return SigningKey.objects.filter(retired__isnull=True) | SigningKey.objects.filter(
        published_until__gt=now
    )


def _active_rows(algorithm: str) -> Any:
    return SigningKey.objects.filter(algorithm=algorithm, retired__isnull=True)


def _refuse_settings_key(algorithm: str) -> None:
    if algorithm == RS256 and oauth2_settings.OIDC_RSA_PRIVATE_KEY:
        raise SettingsKeyInUse(algorithm)


def _new_key(algorithm: str) -> jwk.JWK:
    if algorithm == RS256:
        return jwk.JWK.generate(kty="RSA", size=2048)
    if algorithm == ES256:
        return jwk.JWK.generate(kty="EC", crv="P-256")
    raise ValueError(f"Unsupported signing algorithm: {algorithm!r}")


@functools.lru_cache(maxsize=16)
def _settings_key(pem: str) -> Key:
    private = jwk.JWK.from_pem(pem.encode("utf-8"))
    return Key(private.thumbprint(), RS256, private)


def _secrets() -> Iterable[str]:
    yield settings.SECRET_KEY
    yield from getattr(settings, "SECRET_KEY_FALLBACKS", [])


def _fernet() -> MultiFernet:
    """Encrypts with ``SECRET_KEY``, decrypts with it or any of its fallbacks."""
    keys = []
    for secret in _secrets():
        digest = salted_hmac(
            "source_oauth.oidc.keys", "signing key encryption", secret=secret, algorithm="sha256"
        ).digest()
        keys.append(Fernet(base64.urlsafe_b64encode(digest)))
    return MultiFernet(keys)


@functools.lru_cache(maxsize=16)
def _decrypt_with(ciphertext: str, secrets: tuple[str, ...]) -> jwk.JWK:
    pem = _fernet().decrypt(ciphertext.encode("ascii"))
    return jwk.JWK.from_pem(pem)


def _decrypt(ciphertext: str) -> jwk.JWK:
    # Keyed by the secrets too, so a changed SECRET_KEY is never served from the cache.
    return _decrypt_with(ciphertext, tuple(_secrets()))


def _decrypts(ciphertext: str) -> bool:
    try:
        _decrypt(ciphertext)
    except (InvalidToken, ValueError):
        return False
    return True
