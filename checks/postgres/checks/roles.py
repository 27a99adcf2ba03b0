"""Role checks over `postgres.role`: allow-lists for superusers and for BYPASSRLS/CREATEROLE.

A role counts as holding an attribute when it has it or can SET ROLE to a role that has
it (`superuser_via` ...: see `collect.roles`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assay.checks.postgres.collect.roles import ROLE
from assay.checks.registry import check
from assay.checks.result import Result, attribute

_PERMISSIONS = ["postgres:CONNECT"]


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
