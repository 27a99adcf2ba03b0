"""Tenant isolation: the checks on tables that carry a tenant column.

A table is a tenant table when it has a column named `tenant_column`; every other table
is not_applicable. Three controls judge a tenant table: row-level security is enabled
and forced; its policies bind every command to the tenant setting; and the
application role cannot bypass them.

How policies combine (PostgreSQL's rules, which the policy check follows): for each
command the permissive policies that apply are OR-ed and the restrictive ones AND-ed.
So one permissive `USING (true)` opens every row to the roles it names, whatever the
other policies say; a restrictive policy on the tenant setting closes the table
whatever the permissive ones say; and with no permissive policy, nothing is visible.
A policy without WITH CHECK checks new rows with its USING expression (ALL, UPDATE).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assay.checks.postgres.collect.tables import TABLE
from assay.checks.registry import check
from assay.checks.result import Result, attribute

_PERMISSIONS = ["postgres:CONNECT"]
# A custom setting needs a dot in its name: PostgreSQL rejects `SET tenant_id = ...`.
_SETTING_NAME = r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)+$"
# (command, which expression decides it): USING filters the rows a command sees or
# changes, WITH CHECK the rows it writes.
_SIDES = (
    ("SELECT", "using"),
    ("UPDATE", "using"),
    ("DELETE", "using"),
    ("INSERT", "with_check"),
    ("UPDATE", "with_check"),
)


class TenantParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_column: str = Field(
        default="tenant_id",
        min_length=1,
        max_length=63,
        description="A table with a column of this name holds rows of many tenants.",
    )


class TenantPolicyParams(TenantParams):
    tenant_setting: str = Field(
        default="rls.tenant_id",
        pattern=_SETTING_NAME,
        description="The setting the application sets per tenant, read in policies "
        "with current_setting('rls.tenant_id').",
    )


class AppRoleParams(TenantParams):
    app_role: str = Field(
        default="app",
        min_length=1,
        max_length=63,
        description="The role the application connects as.",
    )


def _not_tenant_table(resource: dict[str, Any], column: str) -> Result | None:
    columns = attribute(resource, "columns") or []
    if any(c["name"] == column for c in columns):
        return None
    return Result.not_applicable(f"no {column} column: not a tenant table", tenant_column=column)


@check(
    "postgres.table.tenant_rls_forced",
    resource=TABLE,
    params=TenantParams,
    permissions=_PERMISSIONS,
)
def tenant_rls_forced(resource: dict[str, Any], params: TenantParams) -> Result:
    """Pass when a tenant table has row-level security enabled and forced."""
    skip = _not_tenant_table(resource, params.tenant_column)
    if skip is not None:
        return skip
    enabled, forced = attribute(resource, "rls_enabled"), attribute(resource, "rls_forced")
    observed = {"rls_enabled": enabled, "rls_forced": forced}
    if not enabled:
        return Result.failed(
            "row-level security is off: every role with SELECT reads every tenant's rows",
            **observed,
        )
    if not forced:
        return Result.failed(
            f"row-level security is enabled but not forced, so the owner "
            f"({attribute(resource, 'owner')}) reads every tenant's rows",
            owner=attribute(resource, "owner"),
            **observed,
        )
    return Result.passed("row-level security is enabled and forced", **observed)


def references_setting(expression: str | None, setting: str) -> bool:
    """Whether a deparsed policy expression reads `setting` with current_setting().

    The server deparses `current_setting('rls.tenant_id')` as
    `current_setting('rls.tenant_id'::text)`; setting names are case-insensitive.
    """
    if not expression:
        return False
    pattern = rf"current_setting\(\s*'{re.escape(setting)}'(::text)?\s*[,)]"
    return re.search(pattern, expression, re.IGNORECASE) is not None


def _expression(policy: dict[str, Any], side: str) -> str | None:
    expression: str | None = policy[side]
    if side == "with_check" and expression is None and policy["command"] != "INSERT":
        expression = policy["using"]  # (ALL, UPDATE) new rows are checked with USING
    return expression


def unbound_commands(policies: list[dict[str, Any]], setting: str) -> list[str]:
    """For each command side not bound to `setting`, "COMMAND (USING|WITH CHECK): why"."""
    problems = []
    for command, side in _SIDES:
        applicable = [
            (p, _expression(p, side)) for p in policies if p["command"] in ("ALL", command)
        ]
        # A policy with no expression for this side adds nothing to it.
        applicable = [(p, e) for p, e in applicable if e is not None]
        if any(not p["permissive"] and references_setting(e, setting) for p, e in applicable):
            continue
        permissive = [(p, e) for p, e in applicable if p["permissive"]]
        loose = [p["name"] for p, e in permissive if not references_setting(e, setting)]
        label = f"{command} ({'USING' if side == 'using' else 'WITH CHECK'})"
        if loose:
            problems.append(f"{label}: permissive {', '.join(loose)} ignores {setting}")
    return problems


@check(
    "postgres.table.tenant_policy",
    resource=TABLE,
    params=TenantPolicyParams,
    permissions=_PERMISSIONS,
)
def tenant_policy(resource: dict[str, Any], params: TenantPolicyParams) -> Result:
    """Pass when a tenant table has a policy reading the tenant setting, and for every command
    (SELECT, INSERT, UPDATE, DELETE; USING and WITH CHECK) the policies that apply either
    include a restrictive one reading the setting or are all permissive ones reading it.

    "Reading" is textual: `current_setting('<tenant_setting>'...)` appears in the
    expression. `observed.problems` names each open command and the policies to blame.
    """
    skip = _not_tenant_table(resource, params.tenant_column)
    if skip is not None:
        return skip
    policies: list[dict[str, Any]] = attribute(resource, "policies") or []
    setting = params.tenant_setting
    names = [p["name"] for p in policies]
    if not any(
        references_setting(p["using"], setting) or references_setting(p["with_check"], setting)
        for p in policies
    ):
        return Result.failed(
            f"no policy reads current_setting('{setting}')"
            + (f" (policies: {', '.join(names)})" if names else " (the table has no policy)"),
            policies=names,
        )
    problems = unbound_commands(policies, setting)
    if problems:
        return Result.failed(
            "policies let rows of other tenants through: " + "; ".join(problems),
            policies=names,
            problems=problems,
        )
    return Result.passed(
        f"every command is bound to current_setting('{setting}') by the policies",
        policies=names,
    )


@check(
    "postgres.table.app_role_bypass",
    resource=TABLE,
    params=AppRoleParams,
    permissions=_PERMISSIONS,
)
def app_role_bypass(resource: dict[str, Any], params: AppRoleParams) -> Result:
    """Pass when the application role can reach a tenant table's rows but cannot bypass its
    row-level security: it is not the owner (nor inherits or can become the owner), not
    a superuser, not BYPASSRLS, and cannot SET ROLE to any of them.

    not_applicable when the role holds no privilege on the table and cannot bypass RLS
    (also what a misspelt `app_role` gives: the reason says so).
    """
    skip = _not_tenant_table(resource, params.tenant_column)
    if skip is not None:
        return skip
    role = params.app_role
    entry = (attribute(resource, "access") or {}).get(role)
    if entry is None:
        return Result.not_applicable(
            f"role {role} holds no privilege on the table and cannot bypass its RLS "
            "(if the application connects as another role, set app_role)",
            app_role=role,
        )
    reasons = entry["bypass_rls"]
    if reasons:
        return Result.failed(
            f"the application role {role} bypasses row-level security here: {'; '.join(reasons)}",
            app_role=role,
            bypass_rls=reasons,
        )
    return Result.passed(
        f"the application role {role} is subject to row-level security",
        app_role=role,
        privileges=entry["privileges"],
    )
