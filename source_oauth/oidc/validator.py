"""The validator hooks of OpenID Connect that source_oauth answers differently from DOT.

Mixed into ``SourceOAuth2Validator`` ahead of DOT's ``OAuth2Validator``. DOT
builds the ID token (``get_id_token_dictionary``: ``iss``, ``exp``, ``jti`` and
the claims; oauthlib adds ``aud``, ``iat``, ``nonce`` and ``at_hash``) and
stores it (``IDToken``); the hooks here correct what DOT cannot know:

- the authorization code is claimed, hence deleted, by ``validate_code``
  before the ID token is built, so its nonce, scopes and authentication time
  are read from the claimed grant (``request.source_grant``), not the table;
- the signing key comes from ``oidc.keys`` (settings or database, RS256 or
  ES256), its ``kid`` in the header whatever the algorithm;
- ``auth_time`` is when the user signed in to the session that approved
  (DOT would say ``last_login``, which another session may have moved);
- the claims are ``oidc.claims``' (``sub`` is the primary key, never the
  username), and ``azp`` names the client.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import router, transaction
from jwcrypto import jwt
from oauth2_provider.models import get_id_token_model
from oauthlib.oauth2.rfc6749 import errors

from . import claims, keys

IDToken = get_id_token_model()


class SigningUnavailable(errors.OAuth2Error):
    """No key signs ID tokens with the client's algorithm: a 503 JSON error, never a 500."""

    error = "temporarily_unavailable"
    status_code = 503
    description = "ID tokens cannot be signed: no signing key is configured on the server."
    retry_after = 60

    @property
    def headers(self) -> dict[str, str]:
        return {**super().headers, "Retry-After": str(self.retry_after)}


def authentication_context(auth_time: int | None) -> dict[str, Any]:
    """What the authorization code carries for the ID token (in DOT's ``Grant.claims``).

    The ``claims`` request parameter is not supported (``claims_parameter_supported``
    is false), so its column holds the authentication time instead.
    """
    return {"auth_time": auth_time} if auth_time else {}


def grant_auth_time(grant: Any) -> int | None:
    try:
        value = json.loads(grant.claims or "{}").get("auth_time")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


class OpenIDConnectValidatorMixin:
    # --- the authorization request ------------------------------------------------

    def validate_silent_login(self, request: Any) -> bool:
        """``prompt=none``: the authorization view answers ``login_required`` itself.

        It knows the session; oauthlib's request does not (``oidc.authorize``).
        """
        return True

    def validate_silent_authorization(self, request: Any) -> bool:
        """``prompt=none``: the view answers ``consent_required`` when it would ask."""
        return True

    def save_authorization_code(
        self, client_id: str, code: dict[str, Any], request: Any, *args: Any, **kwargs: Any
    ) -> None:
        # The view passes the session's authentication time as a credential (oidc.authorize).
        request.claims = authentication_context(getattr(request, "auth_time", None))
        super().save_authorization_code(client_id, code, request, *args, **kwargs)

    # --- the token request: what the claimed grant said -----------------------------

    def get_authorization_code_scopes(
        self, client_id: str, code: str, redirect_uri: str, request: Any
    ) -> list[str]:
        grant = getattr(request, "source_grant", None)
        if grant is not None:
            return grant.scope.split()
        return super().get_authorization_code_scopes(client_id, code, redirect_uri, request)

    def get_authorization_code_nonce(
        self, client_id: str, code: str, redirect_uri: str, request: Any
    ) -> str | None:
        grant = getattr(request, "source_grant", None)
        if grant is not None:
            return grant.nonce or None
        return super().get_authorization_code_nonce(client_id, code, redirect_uri, request)

    def refresh_id_token(self, request: Any) -> bool:
        """No new ID token on refresh (OpenID Connect Core §12.2 allows it).

        Its ``auth_time`` must be the original sign-in's, which the refresh
        token does not carry; the client keeps the ID token it has.
        """
        return False

    # --- claims -------------------------------------------------------------------

    def get_oidc_claims(self, token: Any, token_handler: Any, request: Any) -> dict[str, Any]:
        """The claims the granted scopes allow, for the ID token and UserInfo alike."""
        return claims.claims_for(request.user, request.scopes or ())

    def get_discovery_claims(self, request: Any) -> list[str]:
        return list(claims.SUPPORTED)

    def get_id_token_dictionary(
        self, token: Any, token_handler: Any, request: Any
    ) -> tuple[dict[str, Any], Any]:
        id_token, expires = super().get_id_token_dictionary(token, token_handler, request)
        grant = getattr(request, "source_grant", None)
        auth_time = grant_auth_time(grant) if grant is not None else None
        if auth_time:
            id_token["auth_time"] = auth_time
        id_token["azp"] = request.client.client_id
        return id_token, expires

    # --- signing and verifying -----------------------------------------------------

    def finalize_id_token(
        self, id_token: dict[str, Any], token: Any, token_handler: Any, request: Any
    ) -> str:
        """Sign the ID token with the client's algorithm and the active key; store its record.

        DOT's own version knows only the settings key and names it (``kid``) for
        RS256 only; relying parties pick the key by ``kid`` once keys rotate.
        """
        claims_, expires = self.get_id_token_dictionary(token, token_handler, request)
        id_token.update(claims_)
        if "nonce" not in id_token and request.nonce:
            id_token["nonce"] = request.nonce
        try:
            key = keys.signing_key(request.client.algorithm or keys.RS256)
        except keys.NoSigningKey as missing:
            raise SigningUnavailable(request=request) from missing
        signed = jwt.JWT(
            header={"typ": "JWT", "alg": key.algorithm, "kid": key.kid},
            claims=json.dumps(id_token, default=str),
        )
        signed.make_signed_token(key.jwk)
        with transaction.atomic(using=router.db_for_write(IDToken)):
            record = self._save_id_token(id_token["jti"], request, expires)
        request.access_token = record
        request.id_token = record
        return signed.serialize()

    def _get_key_for_token(self, token: str) -> Any:
        """The published key named by the token's ``kid`` (DOT asks the client's one key).

        Used to link an access token to its ID token, and to read an
        ``id_token_hint`` at logout, also after the key that signed it rotated.
        """
        return keys.verification_key(token)
