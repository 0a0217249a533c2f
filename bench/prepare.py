"""Set up one benchmark configuration in its own fresh database, in process.

Run by ``bench/run.py`` as ``python -m bench.prepare CONFIG WORKDIR`` with
``DJANGO_SETTINGS_MODULE``, ``DATABASE_URL`` (and ``REDIS_URL``) set. It

1. migrates the (empty) database;
2. creates the API client the load test authenticates as (source_oauth: with
   ``manage.py create_api_client ... --json``; stock DOT: an ``Application``,
   its secret PBKDF2-hashed or, for ``stock-unhashed``, stored as is);
3. stores the access tokens of the "cold" protected GET (each used once, so
   none is in any token cache) and writes them, one a line, to files: one
   file per use (``cold=N warmup=N profile=N`` on the command line);
4. counts the SQL statements of each benchmarked request, run once with
   Django's test client under ``CaptureQueriesContext`` after a warm-up
   request, and keeps their SQL;
5. clears the cache, so the servers start with nothing cached;

and prints one JSON object: the client's credentials, the paths, the counts.
"""

from __future__ import annotations

import base64
import io
import json
import secrets
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import django

# The tables a --rows preload fills (and users): a sequential scan of one is a cost
# that grows with it.
BIG_TABLES = (
    "oauth2_provider_accesstoken",
    "oauth2_provider_refreshtoken",
    "oauth2_provider_grant",
    "source_oauth_redeemedcode",
    "source_oauth_auditevent",
    "source_oauth_revokedaccesstoken",
    "auth_user",
)
BIG = 10_000  # rows (pg_class.reltuples): below that, a sequential scan is the planner's choice
EXPLAINED = ("SELECT", "UPDATE", "DELETE", "INSERT", "WITH")


def explain(connection: Any, queries: dict[str, dict[str, Any]]) -> dict[str, list[dict]]:
    """PostgreSQL's plan of each SQL statement each scenario ran, with its sequential scans.

    The statements are the ones ``CaptureQueriesContext`` recorded, parameters
    bound; plain ``EXPLAIN`` (no ``ANALYZE``) runs none of them, so a DELETE
    deletes nothing. A "Seq Scan" on one of ``BIG_TABLES`` that holds ``BIG``
    rows or more is flagged: that request's cost grows with the table. On a
    smaller one the planner rightly prefers reading it whole; it is listed
    apart, with the table's size.
    """
    plans: dict[str, list[dict]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reltuples::bigint FROM pg_class WHERE relname = ANY(%s)",
            [list(BIG_TABLES)],
        )
        sizes = dict(cursor.fetchall())
        big = [t for t in BIG_TABLES if sizes.get(t, 0) >= BIG]
        for scenario, measured in queries.items():
            for sql in measured["sql"]:
                if not sql.lstrip().upper().startswith(EXPLAINED):
                    continue
                try:
                    cursor.execute("EXPLAIN " + sql)
                    plan = [row[0] for row in cursor.fetchall()]
                except Exception as error:  # noqa: BLE001 - reported, not fatal
                    plan = [f"(EXPLAIN failed: {error})"]
                scanned = {
                    t for line in plan for t in BIG_TABLES if f"Seq Scan on {t} " in line + " "
                }
                plans.setdefault(scenario, []).append(
                    {
                        "sql": sql,
                        "plan": plan,
                        "seq_scans": sorted(scanned & set(big)),
                        "small_seq_scans": {t: sizes.get(t, 0) for t in sorted(scanned - set(big))},
                    }
                )
    return plans


def store_refresh_tokens(count: int, path: Path, expires: Any) -> dict[str, Any]:
    """A confidential client with refresh_token, and ``count`` live token pairs of one user.

    The refresh tokens (one a line in ``path``, each used once by the soak's
    refresh load) are stored as the token endpoint stores them: an access
    token each, a family each. One more, ``spare``, is for counting SQL.
    """
    import uuid

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from oauth2_provider.models import (
        get_access_token_model,
        get_application_model,
        get_refresh_token_model,
        set_token_value,
    )

    out = io.StringIO()
    call_command(
        "create_api_client",
        "Benchmark refresh",
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "refresh_token",
        "--scope",
        "content:read",
        "--redirect-uri",
        "https://bench.example/callback",
        "--json",
        stdout=out,
    )
    credentials = json.loads(out.getvalue())
    application = get_application_model().objects.get(client_id=credentials["client_id"])
    user = get_user_model().objects.create_user("bench-refresh", password=None)
    access_model, refresh_model = get_access_token_model(), get_refresh_token_model()
    accesses, values = [], []
    for _ in range(count + 1):
        access = access_model(user=user, application=application, expires=expires)
        access.scope = "content:read"
        set_token_value(access, secrets.token_urlsafe(30))
        accesses.append(access)
    access_model.objects.bulk_create(accesses, batch_size=2000)
    refreshes = []
    for access in accesses:
        value = secrets.token_urlsafe(30)
        refresh = refresh_model(
            user=user, application=application, access_token=access, token_family=uuid.uuid4()
        )
        set_token_value(refresh, value)
        refreshes.append(refresh)
        values.append(value)
    refresh_model.objects.bulk_create(refreshes, batch_size=2000)
    path.write_text("\n".join(values[1:]) + "\n")
    return {**credentials, "file": str(path), "spare": values[0]}


def main(config: str, workdir: Path, counts: dict[str, int], rows: int = 0) -> dict[str, Any]:
    django.setup()

    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone
    from oauth2_provider.models import (
        get_access_token_model,
        get_application_model,
        set_token_value,
    )

    call_command("migrate", verbosity=0, interactive=False)

    from django.conf import settings

    if getattr(settings, "SOURCE_OAUTH", None) is not None:
        # Counting SQL, this process keeps no copy of its own (cache.process): the
        # counts are the same, and cache.clear() below then clears every cache.
        settings.SOURCE_OAUTH = {**settings.SOURCE_OAUTH, "PROCESS_CACHE_REDIS_URL": None}

    Application = get_application_model()
    AccessToken = get_access_token_model()

    if config == "source_oauth":
        out = io.StringIO()
        call_command(
            "create_api_client",
            "Benchmark",
            "--grant-type",
            "client_credentials",
            "--scope",
            "content:read",
            "--json",
            stdout=out,
        )
        credentials = json.loads(out.getvalue())
        client_id, client_secret = credentials["client_id"], credentials["client_secret"]
        scope, token_path = "content:read", "/oauth/token"
        introspect_path, revoke_path = "/oauth/introspect", "/oauth/revoke"
    else:
        from oauth2_provider.generators import generate_client_secret

        client_secret = generate_client_secret()
        app = Application.objects.create(
            name="Benchmark",
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
            client_secret=client_secret,
            hash_client_secret=(config == "stock-hashed"),
        )
        client_id = app.client_id
        scope, token_path = "read", "/o/token/"
        introspect_path, revoke_path = "/o/introspect/", "/o/revoke_token/"
    application = Application.objects.get(client_id=client_id)
    stored_secret = application.client_secret

    preloaded = None
    if rows:
        from bench.preload import preload

        preloaded = preload(rows)

    # Tokens for the cold protected GET, stored as the token endpoint stores them.
    expires = timezone.now() + timedelta(days=1)

    def store_tokens(count: int, path: Path) -> None:
        values = []
        objs = []
        for _ in range(count):
            value = secrets.token_urlsafe(30)
            token = AccessToken(application=application, expires=expires, scope=scope)
            set_token_value(token, value)
            objs.append(token)
            values.append(value)
        AccessToken.objects.bulk_create(objs, batch_size=2000)
        path.write_text("\n".join(values) + "\n")

    token_files = {}
    refresh_count = counts.pop("refresh", 0)
    refresh_client = None
    if refresh_count:
        refresh_client = store_refresh_tokens(
            refresh_count, workdir / f"{config}-refresh-tokens.txt", expires
        )
        token_files["refresh"] = refresh_client.pop("file")
    for use, count in counts.items():
        token_files[use] = str(workdir / f"{config}-{use}-tokens.txt")
        store_tokens(count, Path(token_files[use]))

    # --- SQL statements per request --------------------------------------------
    http = Client()
    basic = "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()

    def token_request():
        return http.post(
            token_path,
            {"grant_type": "client_credentials", "scope": scope},
            HTTP_AUTHORIZATION=basic,
        )

    def get(path: str, token: str | None = None):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        return http.get(path, **headers)

    def measure(make_request) -> dict[str, Any]:
        with CaptureQueriesContext(connection) as captured:
            response = make_request()
        return {
            "status": response.status_code,
            "count": len(captured.captured_queries),
            "sql": [query["sql"] for query in captured.captured_queries],
        }

    token_request()  # warm-up: whatever loads once per process
    cache.clear()  # as the servers start: nothing cached, the client included
    token_request()  # first use: fills a client cache, if any
    queries = {"token": measure(token_request)}
    cache.clear()
    queries["token, client not cached"] = measure(token_request)
    bearer = json.loads(token_request().content)["access_token"]
    get("/bench/items/", bearer)  # first use: fills a token cache, if any
    queries["warm"] = measure(lambda: get("/bench/items/", bearer))

    def fresh_token() -> str:
        value = secrets.token_urlsafe(30)
        token = AccessToken(application=application, expires=expires, scope=scope)
        set_token_value(token, value)
        token.save()
        return value

    first, second = fresh_token(), fresh_token()
    cache.clear()  # whatever was cached when the tokens were saved is gone
    get("/bench/items/", first)  # warm-up: caches everything but ``second``
    queries["cold"] = measure(lambda: get("/bench/items/", second))
    get("/bench/public/")
    queries["public"] = measure(lambda: get("/bench/public/"))
    queries["unknown token"] = measure(lambda: get("/bench/items/", "not-a-token"))

    def post_token(path: str, token: str):
        return http.post(path, {"token": token}, HTTP_AUTHORIZATION=basic)

    third, fourth = fresh_token(), fresh_token()
    cache.clear()
    post_token(introspect_path, first)  # warm-up: whatever loads once per process
    queries["introspect"] = measure(lambda: post_token(introspect_path, third))
    post_token(revoke_path, first)
    queries["revoke"] = measure(lambda: post_token(revoke_path, fourth))
    if refresh_client:
        refresh_basic = (
            "Basic "
            + base64.b64encode(
                f"{refresh_client['client_id']}:{refresh_client['client_secret']}".encode()
            ).decode()
        )
        spare = refresh_client.pop("spare")
        queries["refresh"] = measure(
            lambda: http.post(
                token_path,
                {"grant_type": "refresh_token", "refresh_token": spare},
                HTTP_AUTHORIZATION=refresh_basic,
            )
        )
    plans = explain(connection, queries) if connection.vendor == "postgresql" else {}

    cache.clear()
    connection.close()
    return {
        "config": config,
        "client_id": client_id,
        "client_secret": client_secret,
        "stored_secret_prefix": stored_secret.split("$", 1)[0] if "$" in stored_secret else "plain",
        "scope": scope,
        "token_path": token_path,
        "introspect_path": introspect_path,
        "revoke_path": revoke_path,
        "preloaded": preloaded,
        "plans": plans,
        "token_files": token_files,
        "queries": queries,
        "refresh_client": refresh_client,
    }


if __name__ == "__main__":
    # python -m bench.prepare CONFIG WORKDIR cold=N warmup=N [profile=N introspect=N revoke=N]
    #                        [rows=N]
    counts = {use: int(n) for use, _, n in (arg.partition("=") for arg in sys.argv[3:])}
    rows = counts.pop("rows", 0)  # rows=N: the --rows preload of issue 16 (PostgreSQL)
    result = main(sys.argv[1], Path(sys.argv[2]), counts, rows)
    print(json.dumps(result))
