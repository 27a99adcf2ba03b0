"""Roles: the `postgres.role` collector, and which roles each role can become.

Role attributes (SUPERUSER, BYPASSRLS, CREATEROLE) are never inherited, but a role that
may SET ROLE to a role holding one can use it at will. So each role carries, beside its
own flags, the roles it can become that hold them (`superuser_via` ...), as the server
decides it (`pg_has_role(..., 'SET')` from PostgreSQL 16, `'MEMBER'` before). The
`postgres.table` collector asks the same question (`escalations`). Checks: `checks.roles`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg

from assay.checks.postgres.provider import PostgresConnection
from assay.checks.registry import collector

ROLE = "postgres.role"
_PERMISSIONS = ["postgres:CONNECT"]
# Predefined roles (pg_monitor, pg_read_all_data...) are never superusers and cannot log in.
USER_ROLES = "rolname !~ '^pg_'"
_ATTRIBUTES = ("superuser", "bypassrls", "createrole")


def set_role_mode(server_version_num: int) -> str:
    """The pg_has_role mode that means "may SET ROLE to" on this server version."""
    return "SET" if server_version_num >= 160000 else "MEMBER"


def escalations(
    pg: psycopg.Connection[tuple[Any, ...]], server_version_num: int
) -> dict[str, list[tuple[str, bool, bool, bool]]]:
    """Non-superuser role -> [(other role, superuser, bypassrls, createrole)] it may SET ROLE to,
    for the other roles holding at least one of those attributes."""
    rows = pg.execute(
        f"""
        SELECT r.rolname, s.rolname, s.rolsuper, s.rolbypassrls, s.rolcreaterole
        FROM pg_roles r
        JOIN pg_roles s ON s.oid <> r.oid AND (s.rolsuper OR s.rolbypassrls OR s.rolcreaterole)
        WHERE NOT r.rolsuper AND r.{USER_ROLES} AND pg_has_role(r.oid, s.oid, %s)
        ORDER BY 1, 2
        """,
        (set_role_mode(server_version_num),),
    )
    found: dict[str, list[tuple[str, bool, bool, bool]]] = {}
    for name, other, is_super, bypassrls, createrole in rows:
        found.setdefault(name, []).append((other, is_super, bypassrls, createrole))
    return found


@collector(ROLE, permissions=_PERMISSIONS)
def collect_roles(conn: PostgresConnection) -> Iterator[dict[str, Any]]:
    """Every role of the server except the predefined `pg_*` ones.

    Attributes: `superuser`, `bypassrls`, `createrole`, `createdb`, `replication`,
    `can_login`, `inherit` (bools), `connection_limit` (int, -1 for none), `valid_until`
    (RFC 3339, "infinity", or None), `member_of` (direct memberships), and
    `superuser_via` / `bypassrls_via` / `createrole_via`: the other roles holding that
    attribute this role can SET ROLE to (empty for superusers, who need none).
    """
    with conn.session() as pg:
        roles = pg.execute(
            f"""
            SELECT r.rolname, r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb,
                   r.rolreplication, r.rolcanlogin, r.rolinherit, r.rolconnlimit,
                   CASE WHEN isfinite(r.rolvaliduntil)
                        THEN to_char(r.rolvaliduntil AT TIME ZONE 'UTC',
                                     'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                        ELSE r.rolvaliduntil::text END,
                   ARRAY(SELECT g.rolname FROM pg_auth_members m
                         JOIN pg_roles g ON g.oid = m.roleid
                         WHERE m.member = r.oid ORDER BY 1)
            FROM pg_roles r WHERE r.{USER_ROLES} ORDER BY r.rolname
            """
        ).fetchall()
        reachable = escalations(pg, conn.server_version_num)
    via: dict[str, dict[str, list[str]]] = {}
    for name, targets in reachable.items():
        for other, *flags in targets:
            for attr, held in zip(_ATTRIBUTES, flags, strict=True):
                if held:
                    via.setdefault(name, {}).setdefault(attr, []).append(other)
    for row in roles:
        name = row[0]
        reach = via.get(name, {})
        yield {
            "type": ROLE,
            "id": conn.resource_id("role", name),
            "name": name,
            "scope": conn.scope(database=False),
            "attributes": {
                "superuser": row[1],
                "bypassrls": row[2],
                "createrole": row[3],
                "createdb": row[4],
                "replication": row[5],
                "can_login": row[6],
                "inherit": row[7],
                "connection_limit": row[8],
                "valid_until": row[9],
                "member_of": row[10],
                **{f"{attr}_via": reach.get(attr, []) for attr in _ATTRIBUTES},
            },
        }
