"""System checks of OpenID Connect: the signing keys, and the issuer in production.

- ``source_oauth.E007``: a key in DOT's settings is not an RSA private key in PEM;
- ``source_oauth.E008``: a database key cannot be decrypted (``SECRET_KEY`` changed
  without the old one in ``SECRET_KEY_FALLBACKS``);
- ``source_oauth.W008``: OpenID Connect is on but no key signs ID tokens with an
  algorithm that is needed (RS256 always, ES256 when a client asks for it);
- ``source_oauth.W009`` (``check --deploy``): the issuer is derived from each request.

Keys may live in the database, so these checks read it when they can: before
``migrate`` (or where no database is reachable) they say nothing about it.
"""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, Tags, Warning, register
from oauth2_provider.settings import oauth2_settings

from . import keys

GENERATE_HINT = (
    "Run `python manage.py oidc_keys generate` (with --algorithm ES256 for ES256), or set "
    'OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"] to an RSA private key in PEM; or turn '
    'OpenID Connect off with OAUTH2_PROVIDER["OIDC_ENABLED"] = False.'
)


@register(Tags.security)
def check_signing_keys(app_configs: Any = None, **kwargs: Any) -> list[Error | Warning]:
    if not oauth2_settings.OIDC_ENABLED:
        return []
    messages: list[Error | Warning] = [
        Error(
            problem,
            hint="Give an RSA private key in PEM (e.g. `openssl genrsa 2048`), or remove the "
            "setting and keep the keys in the database (`manage.py oidc_keys generate`).",
            id="source_oauth.E007",
        )
        for problem in keys.settings_key_problems()
    ]
    try:
        undecryptable = keys.undecryptable_keys()
        available = keys.active_database_algorithms()
        needed = _algorithms_of_clients() | {keys.RS256}
    except Exception:  # no database to ask: not migrated yet, or none reachable from here
        return messages
    if undecryptable:
        messages.append(
            Error(
                f"The signing keys {', '.join(undecryptable)} in the database cannot be "
                "decrypted with SECRET_KEY: ID tokens cannot be signed with them.",
                hint="Put the SECRET_KEY they were stored with in SECRET_KEY_FALLBACKS, then "
                "run `python manage.py oidc_keys rotate` to store a new key.",
                id="source_oauth.E008",
            )
        )
    if oauth2_settings.OIDC_RSA_PRIVATE_KEY:
        available.add(keys.RS256)
    missing = sorted(needed - available)
    if missing:
        messages.append(
            Warning(
                f"OpenID Connect is on, but no key signs ID tokens with {', '.join(missing)}: "
                "a client asking for the openid scope gets 503 temporarily_unavailable.",
                hint=GENERATE_HINT,
                id="source_oauth.W008",
            )
        )
    return messages


@register(Tags.security, deploy=True)
def check_issuer(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    if not oauth2_settings.OIDC_ENABLED or oauth2_settings.OIDC_ISS_ENDPOINT:
        return []
    return [
        Warning(
            "The OpenID Connect issuer is derived from each request's scheme and host: behind "
            "a proxy that does not pass them on, ID tokens name an issuer the relying parties "
            "do not expect.",
            hint='Set OAUTH2_PROVIDER["OIDC_ISS_ENDPOINT"] to the public URL of the site, '
            'e.g. "https://cms.example.com".',
            id="source_oauth.W009",
        )
    ]


def _algorithms_of_clients() -> set[str]:
    from ..models import ApiClient

    return set(ApiClient.objects.values_list("algorithm", flat=True).distinct()) - {""}
