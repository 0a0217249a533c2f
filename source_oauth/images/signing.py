"""Signatures of derivative URLs: only a URL the API issued renders anything.

The signed value is ``<style>/<version>/<source name>``, so a signature is
good for one style of one image at one version of the style: swapping the
style, the image or the version in a URL breaks it. Django's ``Signer``
(HMAC-SHA256 with ``SECRET_KEY``) verifies, honouring ``SECRET_KEY_FALLBACKS``
so URLs survive a key rotation. Signatures do not expire: derivative URLs
are meant to be cached, and a style change retires them through the version.
"""

from __future__ import annotations

from django.core import signing

SALT = "source_oauth.images.derivative"


def _signer() -> signing.Signer:
    # Built per call: Signer reads SECRET_KEY when constructed, so override_settings works.
    return signing.Signer(salt=SALT)


def _value(style_name: str, version: str, source_name: str) -> str:
    return f"{style_name}/{version}/{source_name}"


def sign(style_name: str, version: str, source_name: str) -> str:
    """The URL-safe signature of one style, at one version, of one source image."""
    return _signer().signature(_value(style_name, version, source_name))


def is_valid(style_name: str, version: str, source_name: str, signature: str) -> bool:
    """Whether ``signature`` was issued for exactly this style, version and image."""
    signer = _signer()
    signed = f"{_value(style_name, version, source_name)}{signer.sep}{signature}"
    try:
        signer.unsign(signed)
    except signing.BadSignature:
        return False
    return True
