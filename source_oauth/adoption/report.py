"""The command's account of an adoption plan: what it would do, or what it did."""

from __future__ import annotations

from .plan import Plan


def describe(plan: Plan, *, done: bool) -> list[str]:
    """Lines for a person: every client, scope and table adoption touches, never a secret."""
    if plan.status == "adopted":
        return [
            "Nothing to do: source_oauth's migrations are already recorded in database "
            f'"{plan.using}".'
        ]
    if plan.status == "no_dot":
        return [
            "Nothing to adopt: django-oauth-toolkit's tables are not migrated in database "
            f'"{plan.using}". Run `manage.py migrate`.'
        ]

    def did(past: str, conditional: str) -> str:
        return past if done else conditional

    migrations = ", ".join(migration.name for migration in plan.migrations)
    lines = [
        f"{did('Applied', 'Would apply')} source_oauth's migrations: {migrations}",
        f"{did('Created', 'Would create')} {len(plan.scopes)} scope(s) from "
        'OAUTH2_PROVIDER["SCOPES"]:',
        *(f"  {name}: {description}" for name, description in plan.scopes.items()),
        f"{did('Copied', 'Would copy')} {len(plan.clients)} DOT application(s) into API "
        "clients (same id and client ID), each allowed every scope above:",
    ]
    for client in plan.clients:
        kind = "confidential" if client.values["confidential"] else "public"
        party = "3rd party" if client.values["third_party"] else "first party"
        grants = ", ".join(client.grant_types) or "none"
        line = f"  {client.label}: {kind}, {party}, grant types {grants}"
        if "authorization_code" in client.grant_types:
            line += ", PKCE required" if client.require_pkce else ", PKCE optional"
        lines.append(line)
        lines.append(f"    secret: {client.secret}")
    moved = ", ".join(f"{table} ({count})" for table, count in plan.tokens.items())
    lines.append(f"{did('Repointed', 'Would repoint')} to source_oauth_apiclient: {moved}")
    plain = sum(plan.plain_tokens.values())
    if plain:
        lines.append(
            f"{did('Reduced', 'Would reduce')} {plain} token(s) stored in plain text to their "
            "SHA-256 checksums, as source_oauth stores tokens"
        )
    lines.extend(f"Warning: {warning}" for warning in plan.warnings)
    lines.append("Done. Now run `manage.py migrate`." if done else "Dry run: nothing was changed.")
    return lines
