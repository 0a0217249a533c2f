"""OpenID Connect: signing in with the CMS, on top of DOT's OpenID Connect support.

DOT and oauthlib speak the protocol (the ``openid`` scope, ID tokens, the
UserInfo, discovery, JWKS and logout endpoints); this package holds what the
product adds to them:

- ``claims``: the standard claims of a Django user per scope, and the host's hook;
- ``keys``: signing keys from settings or the database, rotation, the JWKS;
- ``models``: the database signing key;
- ``validator``: the validator hooks DOT leaves to us (signing, nonce, auth_time);
- ``authorize``: ``prompt``, ``max_age`` and ``id_token_hint`` at the authorization endpoint;
- ``views`` and ``urls``: discovery, JWKS, UserInfo and RP-initiated logout;
- ``checks``: ``manage.py check`` messages about keys and the issuer.

Nothing is imported here, so ``source_oauth.models`` can import ``oidc.models``.
"""
