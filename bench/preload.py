"""Fill source_oauth's tables as months in production would (issue 16, ``--rows N``).

Called by ``bench/prepare.py`` after ``migrate`` on PostgreSQL, in the process
that prepares the ``source_oauth`` configuration. ``N`` access tokens, and
in proportion refresh tokens, grants, redeemed-code records and audit
events, spread over ``CLIENTS`` API clients and ``USERS`` users, about 30 %
of each expired (or past retention), so that what a cleanup removes is there.

The rows are built by PostgreSQL itself (``INSERT ... SELECT`` over
``generate_series``): no row crosses the socket, which makes a million
tokens a matter of seconds rather than minutes. They are what the endpoints
would have written: ``token_checksum`` is the SHA-256 of the token (hex),
unique, and the token column is blank when DOT's RFC 9700 storage is on, as
it is for source_oauth; refresh tokens point at their access token; a third
of the access tokens (client_credentials) have no user. Revoked access
tokens (``source_oauth_revokedaccesstoken``) are there too.
"""

from __future__ import annotations

import time
from typing import Any

CLIENTS = 200
USERS = 10_000
EXPIRED = 0.3

# Each table's rows per access token (the rest follows from how the server writes them:
# one refresh token per user token, fewer codes than tokens, audit events rarer still).
SHARES = {
    "refresh_tokens": 0.5,
    "grants": 0.1,
    "redeemed_codes": 0.1,
    "audit_events": 0.1,
    "revoked_access_tokens": 0.05,
}

# $1 seed (text), $2 first client id, $3 first user id, $4 rows, $5 expired share.
ACCESS_TOKENS = """
INSERT INTO oauth2_provider_accesstoken
    (token, token_checksum, expires, scope, application_id, user_id, created, updated, resource)
SELECT CASE WHEN %(redact)s THEN '' ELSE t.token END,
       encode(sha256(convert_to(t.token, 'UTF8')), 'hex'), t.expires,
       'content:read', %(client)s + (i %% %(clients)s),
       CASE WHEN i %% 3 = 0 THEN NULL ELSE %(user)s + (i %% %(users)s) END,
       t.expires - interval '1 hour', t.expires - interval '1 hour', '[]'::jsonb
FROM generate_series(1, %(rows)s) AS i,
LATERAL (SELECT substr(md5(%(seed)s || i::text), 1, 30) AS token,
                CASE WHEN random() < %(expired)s
                     THEN now() - random() * interval '90 days'
                     ELSE now() + interval '1 minute' + random() * interval '1 hour'
                END AS expires) AS t
"""
# Refresh tokens of the user tokens: expired ones (revoked, or created past the refresh life)
# point at expired access tokens.
REFRESH_TOKENS = """
INSERT INTO oauth2_provider_refreshtoken
    (token, token_checksum, access_token_id, application_id, user_id, created, updated,
     revoked, token_family, resource)
SELECT CASE WHEN %(redact)s THEN '' ELSE r.token END,
       encode(sha256(convert_to(r.token, 'UTF8')), 'hex'), a.id, a.application_id,
       a.user_id, r.created, r.created,
       CASE WHEN a.expires < now() AND a.id %% 2 = 0 THEN a.expires END,
       md5(a.token_checksum)::uuid, '[]'::jsonb
FROM oauth2_provider_accesstoken AS a,
LATERAL (SELECT substr(md5(%(seed)s || 'r' || a.id::text), 1, 30) AS token,
                CASE WHEN a.expires < now() THEN a.created - interval '40 days'
                     ELSE a.created END AS created) AS r
WHERE a.user_id IS NOT NULL AND a.id >= %(first)s
LIMIT %(count)s
"""
GRANTS = """
INSERT INTO oauth2_provider_grant
    (code, expires, redirect_uri, scope, application_id, user_id, created, updated,
     code_challenge, code_challenge_method, nonce, claims, resource)
SELECT substr(md5(%(seed)s || 'g' || i::text), 1, 30), g.expires,
       'https://client' || (i %% %(clients)s) || '.example/callback', 'content:read',
       %(client)s + (i %% %(clients)s), %(user)s + (i %% %(users)s),
       g.expires - interval '1 minute', g.expires - interval '1 minute',
       substr(md5('c' || i::text) || md5('d' || i::text), 1, 43), 'S256', '', '', '[]'::jsonb
FROM generate_series(1, %(count)s) AS i,
LATERAL (SELECT CASE WHEN random() < %(expired)s + 0 * i  -- i: once per row, not once
                     THEN now() - random() * interval '90 days'
                     ELSE now() + random() * interval '1 minute' END AS expires) AS g
"""
REDEEMED_CODES = """
INSERT INTO source_oauth_redeemedcode
    (code_checksum, access_token_checksum, refresh_token_checksum, expires, application_id)
SELECT encode(sha256(convert_to(%(seed)s || 'code' || i::text, 'UTF8')), 'hex'),
       encode(sha256(convert_to(%(seed)s || 'at' || i::text, 'UTF8')), 'hex'),
       encode(sha256(convert_to(%(seed)s || 'rt' || i::text, 'UTF8')), 'hex'),
       CASE WHEN random() < %(expired)s THEN now() - random() * interval '30 days'
            ELSE now() + random() * interval '30 days' END,
       %(client)s + (i %% %(clients)s)
FROM generate_series(1, %(count)s) AS i
"""
AUDIT_EVENTS = """
INSERT INTO source_oauth_auditevent
    (created, action, actor, client_id, client_name, client_identifier, detail)
SELECT CASE WHEN random() < %(expired)s
            THEN now() - interval '400 days' - random() * interval '1 year'
            ELSE now() - random() * interval '300 days' END,
       (ARRAY['token_revoked', 'secret_rotated', 'client_changed', 'client_auth_throttled'])
           [1 + i %% 4],
       'user' || (i %% %(users)s), %(client)s + (i %% %(clients)s),
       'Preloaded client ' || (i %% %(clients)s), 'bench-preload-' || (i %% %(clients)s),
       jsonb_build_object('token', 'access', 'checksum_prefix', substr(md5(i::text), 1, 8))
FROM generate_series(1, %(count)s) AS i
"""
# Access tokens revoked before they expired, kept for the refresh token life (30 days).
REVOKED_ACCESS_TOKENS = """
INSERT INTO source_oauth_revokedaccesstoken
    (token_checksum, application_id, user_id, scope, created, expires, revoked)
SELECT encode(sha256(convert_to(%(seed)s || 'revoked' || i::text, 'UTF8')), 'hex'),
       %(client)s + (i %% %(clients)s), %(user)s + (i %% %(users)s), 'content:read',
       v.revoked - interval '10 minutes', v.revoked + interval '50 minutes', v.revoked
FROM generate_series(1, %(count)s) AS i,
LATERAL (SELECT CASE WHEN random() < %(expired)s + 0 * i
                     THEN now() - interval '30 days' - random() * interval '60 days'
                     ELSE now() - random() * interval '30 days' END AS revoked) AS v
"""
TABLES = {
    "access_tokens": "oauth2_provider_accesstoken",
    "refresh_tokens": "oauth2_provider_refreshtoken",
    "grants": "oauth2_provider_grant",
    "redeemed_codes": "source_oauth_redeemedcode",
    "audit_events": "source_oauth_auditevent",
    "revoked_access_tokens": "source_oauth_revokedaccesstoken",
}
# What a cleanup would find expired, per table (the retentions are the cleanup's; these
# are the preload's own cut-offs, for the report).
EXPIRED_WHERE = {
    "access_tokens": "expires < now()",
    "refresh_tokens": "revoked IS NOT NULL OR created < now() - interval '30 days'",
    "grants": "expires < now()",
    "redeemed_codes": "expires < now()",
    "audit_events": "created < now() - interval '365 days'",
    "revoked_access_tokens": "revoked < now() - interval '30 days'",
}


def preload(rows: int, seed: str = "bench") -> dict[str, Any]:
    """Insert ``rows`` access tokens and the rest in proportion; return counts and seconds.

    Runs in Django's connection (PostgreSQL only), one transaction, then
    ``VACUUM ANALYZE`` so that the planner knows the tables' size, as it would
    on a server that has been running for months.
    """
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from oauth2_provider.settings import oauth2_settings

    from source_oauth.models import ApiClient

    if connection.vendor != "postgresql":
        raise RuntimeError("--rows preloads PostgreSQL only")
    started = time.monotonic()
    user_model = get_user_model()
    with transaction.atomic():
        users = user_model.objects.bulk_create(
            [
                user_model(username=f"bench-user-{i}", email=f"user{i}@example.com", password="!")
                for i in range(USERS)
            ],
            batch_size=2000,
        )
        clients = ApiClient.objects.bulk_create(
            [
                ApiClient(
                    name=f"Preloaded client {i}",
                    client_id=f"bench-preload-{i}",
                    client_secret="!",
                    redirect_uris=f"https://client{i}.example/callback",
                    grant_types="authorization_code refresh_token",
                )
                for i in range(CLIENTS)
            ],
            batch_size=200,
        )
        params = {
            "seed": seed,
            "client": min(c.pk for c in clients),
            "clients": CLIENTS,
            "user": min(u.pk for u in users),
            "users": USERS,
            "rows": rows,
            "expired": EXPIRED,
            # RFC 9700 storage (DOT's COMPLIANT_BCP_RFC9700_TOKEN_STORAGE): checksum only.
            "redact": bool(oauth2_settings.COMPLIANT_BCP_RFC9700_TOKEN_STORAGE),
        }
        with connection.cursor() as cursor:
            cursor.execute("SELECT coalesce(max(id), 0) + 1 FROM oauth2_provider_accesstoken")
            first = cursor.fetchone()[0]
            cursor.execute(ACCESS_TOKENS, params)
            counts = {"access_tokens": cursor.rowcount}
            for name, sql in (
                ("refresh_tokens", REFRESH_TOKENS),
                ("grants", GRANTS),
                ("redeemed_codes", REDEEMED_CODES),
                ("audit_events", AUDIT_EVENTS),
                ("revoked_access_tokens", REVOKED_ACCESS_TOKENS),
            ):
                count = int(rows * SHARES[name])
                cursor.execute(sql, {**params, "count": count, "first": first})
                counts[name] = cursor.rowcount
    inserted = time.monotonic() - started
    expired = {}
    with connection.cursor() as cursor:
        for name, table in TABLES.items():
            cursor.execute(f"VACUUM ANALYZE {table}")
            cursor.execute(f"SELECT count(*) FROM {table} WHERE {EXPIRED_WHERE[name]}")
            expired[name] = cursor.fetchone()[0]
    return {
        "rows": counts,
        "expired": expired,
        "clients": CLIENTS,
        "users": USERS,
        "insert_seconds": round(inserted, 1),
        "seconds": round(time.monotonic() - started, 1),
    }
