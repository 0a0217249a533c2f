"""The one settings object of source_oauth.

Every setting lives in the ``SOURCE_OAUTH`` dict of the host project and is
read from ``django.conf.settings`` on every access, so ``override_settings``
works without any reload machinery. django-oauth-toolkit's own settings are
read through ``oauth2_provider.settings.oauth2_settings``, never copied here.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "REALM": "source_oauth",
    "CLIENT_SECRET_BYTES": 32,
    "SECRET_ROTATION_OVERLAP_SECONDS": 0,
}


class Settings:
    """Typed, documented access to ``settings.SOURCE_OAUTH``."""

    def _get(self, name: str) -> Any:
        return getattr(settings, "SOURCE_OAUTH", {}).get(name, DEFAULTS[name])

    @property
    def REALM(self) -> str:
        """Realm named in ``WWW-Authenticate`` challenges."""
        return self._get("REALM")

    @property
    def CLIENT_SECRET_BYTES(self) -> int:
        """Random bytes in a generated client secret (32 bytes = 256 bits)."""
        return self._get("CLIENT_SECRET_BYTES")

    @property
    def SECRET_ROTATION_OVERLAP_SECONDS(self) -> int:
        """How long a rotated-out client secret keeps working (0: it stops at once)."""
        return self._get("SECRET_ROTATION_OVERLAP_SECONDS")


conf = Settings()
