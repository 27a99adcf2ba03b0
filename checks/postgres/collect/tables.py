"""The `postgres.table` collector: every user table with its columns, RLS state, policies and
who can reach its rows, so each tenant-isolation check (`checks.tenancy`) is a pure function
of one table.

Who bypasses row-level security is decided here, from the server's own answers
(`has_table_privilege`, `pg_has_role`), because it depends on roles, ownership and
membership together: superusers and BYPASSRLS roles always bypass it; the owner bypasses
it unless FORCE ROW LEVEL SECURITY is set, and can always switch that off; a role that
inherits the owner's privileges counts as the owner; and a role that may SET ROLE to any
of these can do what they do.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg

from assay.checks.postgres.collect.roles import USER_ROLES, escalations, set_role_mode
from assay.checks.postgres.provider import PostgresConnection
from assay.checks.registry import collector

TABLE = "postgres.table"
Session = psycopg.Connection[tuple[Any, ...]]
PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
_KINDS = {"r": "table", "p": "partitioned table"}


@collector(TABLE, permissions=["postgres:CONNECT"])
def collect_tables(conn: PostgresConnection) -> Iterator[dict[str, Any]]:
    """Every ordinary and partitioned table outside the system schemas (and outside
    `schemas`, when the target names some), skipping tables that belong to extensions.

    Attributes: `schema`, `table`, `kind` ("table" / "partitioned table"), `partition`
    (bool), `owner`, `rls_enabled`, `rls_forced`, `columns` ([{name, type}] in table
    order), `policies` ([{name, command, permissive, roles, using, with_check}], the
    expressions as the server deparses them), and `access`: {role: {privileges,
    bypass_rls}} for each role that holds a row privilege (SELECT, INSERT, UPDATE,
    DELETE; column grants count) or can bypass RLS on the table; `bypass_rls` lists why
    (e.g. "superuser", "owns the table", "can SET ROLE to owner app_owner").
    """
    with conn.session() as pg:
        tables = pg.execute(
            """
            SELECT c.oid, n.nspname, c.relname, c.relkind, c.relispartition,
                   pg_get_userbyid(c.relowner), c.relrowsecurity, c.relforcerowsecurity
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p')
              AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
              AND (%(schemas)s::text[] IS NULL OR n.nspname = ANY(%(schemas)s::text[]))
              AND NOT EXISTS (SELECT 1 FROM pg_depend d
                              WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                AND d.deptype = 'e')
            ORDER BY n.nspname, c.relname
            """,
            {"schemas": conn.schemas},
        ).fetchall()
        oids = [row[0] for row in tables]
        columns = _columns(pg, oids)
        policies = _policies(pg, oids)
        access = _access(pg, oids, conn.server_version_num)
    for oid, schema, name, kind, partition, owner, enabled, forced in tables:
        qualified = f"{schema}.{name}"
        yield {
            "type": TABLE,
            "id": conn.resource_id(conn.database, "table", qualified),
            "name": qualified,
            "scope": conn.scope(),
            "attributes": {
                "schema": schema,
                "table": name,
                "kind": _KINDS[kind],
                "partition": partition,
                "owner": owner,
                "rls_enabled": enabled,
                "rls_forced": forced,
                "columns": columns.get(oid, []),
                "policies": policies.get(oid, []),
                "access": access.get(oid, {}),
            },
        }


def _columns(pg: Session, oids: list[int]) -> dict[int, list[dict[str, str]]]:
    found: dict[int, list[dict[str, str]]] = {}
    for oid, name, kind in pg.execute(
        """
        SELECT attrelid, attname, format_type(atttypid, atttypmod) FROM pg_attribute
        WHERE attrelid = ANY(%s) AND attnum > 0 AND NOT attisdropped
        ORDER BY attrelid, attnum
        """,
        (oids,),
    ):
        found.setdefault(oid, []).append({"name": name, "type": kind})
    return found


_COMMANDS = {"*": "ALL", "r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE"}


def _policies(pg: Session, oids: list[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    for oid, name, command, permissive, roles, using, with_check in pg.execute(
        """
        SELECT p.polrelid, p.polname, p.polcmd, p.polpermissive,
               CASE WHEN p.polroles = '{0}' THEN ARRAY['public']::name[]
                    ELSE ARRAY(SELECT rolname FROM pg_roles WHERE oid = ANY(p.polroles)
                               ORDER BY 1) END,
               pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)
        FROM pg_policy p WHERE p.polrelid = ANY(%s) ORDER BY p.polrelid, p.polname
        """,
        (oids,),
    ):
        found.setdefault(oid, []).append(
            {
                "name": name,
                "command": _COMMANDS[command],
                "permissive": permissive,
                "roles": roles,
                "using": using,
                "with_check": with_check,
            }
        )
    return found


def _access(pg: Session, oids: list[int], version: int) -> dict[int, dict[str, dict[str, Any]]]:
    privilege_tests = ", ".join(
        f"has_table_privilege(r.oid, c.oid, '{p}')"
        + (f" OR has_any_column_privilege(r.oid, c.oid, '{p}')" if p != "DELETE" else "")
        for p in PRIVILEGES
    )
    rows = pg.execute(
        f"""
        SELECT c.oid, r.rolname, r.rolsuper, r.rolbypassrls, pg_get_userbyid(c.relowner),
               r.oid = c.relowner, pg_has_role(r.oid, c.relowner, 'USAGE'),
               pg_has_role(r.oid, c.relowner, %s), {privilege_tests}
        FROM pg_class c CROSS JOIN pg_roles r
        WHERE c.oid = ANY(%s) AND r.{USER_ROLES}
        ORDER BY c.oid, r.rolname
        """,
        (set_role_mode(version), oids),
    ).fetchall()
    can_become = escalations(pg, version)
    # Which roles hold a privilege on which table: a BYPASSRLS role reached by SET ROLE
    # only bypasses RLS on tables it can read.
    holders = {(row[0], row[1]) for row in rows if any(row[8:])}
    found: dict[int, dict[str, dict[str, Any]]] = {}
    for oid, role, is_super, bypassrls, owner, owns, inherits, may_set, *granted in rows:
        privileges = [p for p, held in zip(PRIVILEGES, granted, strict=True) if held]
        reasons: list[str] = []
        if is_super:
            reasons.append("superuser")
        else:
            if bypassrls and privileges:
                reasons.append("BYPASSRLS")
            if owns:
                reasons.append("owns the table")
            elif inherits:
                reasons.append(f"inherits the privileges of owner {owner}")
            elif may_set:
                reasons.append(f"can SET ROLE to owner {owner}")
            for other, other_super, other_bypass, _ in can_become.get(role, []):
                if other_super:
                    reasons.append(f"can SET ROLE to superuser {other}")
                elif other_bypass and (oid, other) in holders:
                    reasons.append(f"can SET ROLE to BYPASSRLS role {other}")
        if privileges or reasons:
            found.setdefault(oid, {})[role] = {"privileges": privileges, "bypass_rls": reasons}
    return found
