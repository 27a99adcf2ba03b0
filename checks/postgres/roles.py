"""Roles: the `postgres.role` collector and the allow-list checks on powerful role attributes.

Role attributes (SUPERUSER, BYPASSRLS, CREATEROLE) are never inherited, but a role that
may SET ROLE to a role holding one can use it at will. So each role carries, beside its
own flags, the roles it can become that hold them (`superuser_via` ...), as the server
decides it (`pg_has_role(..., 'SET')` from PostgreSQL 16, `'MEMBER'` before).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
from pydantic import BaseModel, ConfigDict, Field

from assay.checks.postgres.provider import PostgresConnection
from assay.checks.registry import check, collector
from assay.checks.result import Result, attribute

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


class SuperuserParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allowed: list[str] = Field(
        default=["postgres"], description="Roles that may be (or become) superuser."
    )


@check("postgres.role.superuser", resource=ROLE, params=SuperuserParams, permissions=_PERMISSIONS)
def superuser(resource: dict[str, Any], params: SuperuserParams) -> Result:
    """Pass when the role is not a superuser and cannot SET ROLE to one, or is allow-listed."""
    name = resource["name"]
    is_super = attribute(resource, "superuser")
    via = attribute(resource, "superuser_via") or []
    if not is_super and not via:
        return Result.passed("not a superuser, and cannot become one", superuser=False)
    how = "is a superuser" if is_super else f"can SET ROLE to superuser {', '.join(via)}"
    if name in params.allowed:
        return Result.passed(f"{how}, and is allow-listed", superuser=is_super, superuser_via=via)
    return Result.failed(
        f"role {name} {how} but is not in the allow-list ({', '.join(params.allowed) or 'empty'})",
        superuser=is_super,
        superuser_via=via,
        allowed=params.allowed,
    )


class PrivilegedAttributeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allowed_bypassrls: list[str] = Field(
        default_factory=list, description="Roles that may hold (or SET ROLE to) BYPASSRLS."
    )
    allowed_createrole: list[str] = Field(
        default_factory=list, description="Roles that may hold (or SET ROLE to) CREATEROLE."
    )


@check(
    "postgres.role.privileged_attributes",
    resource=ROLE,
    params=PrivilegedAttributeParams,
    permissions=_PERMISSIONS,
)
def privileged_attributes(resource: dict[str, Any], params: PrivilegedAttributeParams) -> Result:
    """Pass when every BYPASSRLS or CREATEROLE the role holds or can SET ROLE to is allowed.

    Superusers hold every privilege; they are not_applicable here and judged by
    `postgres.role.superuser`.
    """
    name = resource["name"]
    if attribute(resource, "superuser"):
        return Result.not_applicable("a superuser; judged by the superuser allow-list")
    problems: list[str] = []
    observed: dict[str, Any] = {}
    for attr, allowed in (
        ("bypassrls", params.allowed_bypassrls),
        ("createrole", params.allowed_createrole),
    ):
        held = attribute(resource, attr)
        via = attribute(resource, f"{attr}_via") or []
        if not held and not via:
            continue
        observed[attr], observed[f"{attr}_via"] = held, via
        if name in allowed:
            continue
        how = "holds" if held else f"can SET ROLE to {', '.join(via)}, which hold"
        problems.append(f"{how} {attr.upper()}")
    if problems:
        return Result.failed(
            f"role {name} {' and '.join(problems)} without being allow-listed", **observed
        )
    if observed:
        return Result.passed("holds BYPASSRLS/CREATEROLE only as allow-listed", **observed)
    return Result.passed("holds neither BYPASSRLS nor CREATEROLE, nor can become a role that does")
