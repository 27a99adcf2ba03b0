"""Tenant-isolation checks over hand-built `postgres.table` snapshots."""

from __future__ import annotations

from typing import Any

import pytest

from assay.checks import Status
from assay.checks.postgres.checks.tenancy import references_setting, unbound_commands
from assay.testing import make_resource, run_check

SETTING = "rls.tenant_id"
BOUND = "(tenant_id = (current_setting('rls.tenant_id'::text))::integer)"


def policy(
    name: str,
    using: str | None = BOUND,
    with_check: str | None = None,
    command: str = "ALL",
    permissive: bool = True,
) -> dict[str, Any]:
    return {
        "name": name,
        "command": command,
        "permissive": permissive,
        "roles": ["public"],
        "using": using,
        "with_check": with_check,
    }


def make_table(
    columns: tuple[str, ...] = ("id", "tenant_id", "total"),
    policies: tuple[dict[str, Any], ...] = (),
    **attributes: Any,
) -> dict[str, Any]:
    return make_resource(
        "postgres.table",
        {
            "schema": "public",
            "table": "orders",
            "kind": "table",
            "partition": False,
            "owner": "app_owner",
            "rls_enabled": True,
            "rls_forced": True,
            "columns": [{"name": c, "type": "integer"} for c in columns],
            "policies": list(policies),
            "access": {},
            **attributes,
        },
        id="postgres://db:5432/app/table/public.orders",
        name="public.orders",
    )


@pytest.mark.parametrize(
    "name",
    [
        "postgres.table.tenant_rls_forced",
        "postgres.table.tenant_policy",
        "postgres.table.app_role_bypass",
    ],
)
def test_tables_without_the_tenant_column_are_not_applicable(name: str) -> None:
    result = run_check(name, make_table(columns=("id", "name"), rls_enabled=False))
    assert result.status is Status.NOT_APPLICABLE
    assert result.reason == "no tenant_id column: not a tenant table"


def test_the_tenant_column_is_a_param() -> None:
    table = make_table(columns=("id", "org_id"), rls_enabled=False)
    assert run_check("postgres.table.tenant_rls_forced", table).status is Status.NOT_APPLICABLE
    result = run_check("postgres.table.tenant_rls_forced", table, tenant_column="org_id")
    assert result.status is Status.FAIL


@pytest.mark.parametrize(
    ("enabled", "forced", "status", "reason"),
    [
        (True, True, Status.PASS, "row-level security is enabled and forced"),
        (False, False, Status.FAIL, "row-level security is off"),
        (False, True, Status.FAIL, "row-level security is off"),
        (True, False, Status.FAIL, "enabled but not forced, so the owner (app_owner) reads"),
    ],
)
def test_rls_enabled_and_forced(enabled: bool, forced: bool, status: Status, reason: str) -> None:
    result = run_check(
        "postgres.table.tenant_rls_forced", make_table(rls_enabled=enabled, rls_forced=forced)
    )
    assert result.status is status
    assert reason in result.reason


@pytest.mark.parametrize(
    ("expression", "found"),
    [
        (BOUND, True),
        ("(tenant_id = (current_setting('rls.tenant_id'::text, true))::integer)", True),
        ("(tenant_id = (current_setting('RLS.Tenant_Id'::text))::integer)", True),
        ("(tenant_id = (current_setting('rls.tenant_id_v2'::text))::integer)", False),
        ("(tenant_id = (current_setting('app.tenant'::text))::integer)", False),
        ("(tenant_id = 1)", False),
        ("true", False),
        (None, False),
    ],
)
def test_references_setting(expression: str | None, found: bool) -> None:
    assert references_setting(expression, SETTING) is found


@pytest.mark.parametrize(
    ("policies", "problems"),
    [
        ((policy("tenant"),), []),
        # INSERT, and UPDATE's new rows, are checked with USING when WITH CHECK is absent.
        (
            (policy("tenant", with_check="true"),),
            [
                "INSERT (WITH CHECK): permissive tenant ignores rls.tenant_id",
                "UPDATE (WITH CHECK): permissive tenant ignores rls.tenant_id",
            ],
        ),
        # Permissive policies are OR-ed: one open policy opens every command it covers.
        (
            (policy("tenant"), policy("open", using="true")),
            [
                "SELECT (USING): permissive open ignores rls.tenant_id",
                "UPDATE (USING): permissive open ignores rls.tenant_id",
                "DELETE (USING): permissive open ignores rls.tenant_id",
                "INSERT (WITH CHECK): permissive open ignores rls.tenant_id",
                "UPDATE (WITH CHECK): permissive open ignores rls.tenant_id",
            ],
        ),
        (
            (policy("tenant"), policy("read_all", using="true", command="SELECT")),
            [
                "SELECT (USING): permissive read_all ignores rls.tenant_id",
            ],
        ),
        # A restrictive policy on the tenant is AND-ed: it closes what permissive ones open.
        ((policy("open", using="true"), policy("tenant", permissive=False)), []),
        # A restrictive policy that ignores the tenant adds nothing.
        (
            (
                policy("open", using="true"),
                policy("active", using="(NOT deleted)", permissive=False),
            ),
            [
                "SELECT (USING): permissive open ignores rls.tenant_id",
                "UPDATE (USING): permissive open ignores rls.tenant_id",
                "DELETE (USING): permissive open ignores rls.tenant_id",
                "INSERT (WITH CHECK): permissive open ignores rls.tenant_id",
                "UPDATE (WITH CHECK): permissive open ignores rls.tenant_id",
            ],
        ),
        # Per-command policies: INSERT has only WITH CHECK.
        (
            (
                policy("sel", command="SELECT"),
                policy("ins", using=None, with_check=BOUND, command="INSERT"),
            ),
            [],
        ),
        # No permissive policy for a command means no rows for it: nothing leaks.
        ((policy("sel", command="SELECT"),), []),
    ],
)
def test_unbound_commands(policies: tuple[dict[str, Any], ...], problems: list[str]) -> None:
    assert unbound_commands(list(policies), SETTING) == problems


def test_a_tenant_table_without_a_tenant_policy_fails() -> None:
    no_policy = run_check("postgres.table.tenant_policy", make_table())
    assert no_policy.status is Status.FAIL
    assert (
        no_policy.reason
        == "no policy reads current_setting('rls.tenant_id') (the table has no policy)"
    )
    wrong = run_check("postgres.table.tenant_policy", make_table(policies=(policy("all", "true"),)))
    assert wrong.status is Status.FAIL
    assert wrong.reason == "no policy reads current_setting('rls.tenant_id') (policies: all)"


def test_a_tenant_policy_beside_an_open_one_fails_naming_it() -> None:
    table = make_table(policies=(policy("tenant"), policy("open", using="true")))
    result = run_check("postgres.table.tenant_policy", table)
    assert result.status is Status.FAIL
    assert result.reason.startswith("policies let rows of other tenants through: SELECT (USING)")
    assert result.observed["policies"] == ["tenant", "open"]


def test_a_tenant_policy_passes() -> None:
    result = run_check("postgres.table.tenant_policy", make_table(policies=(policy("tenant"),)))
    assert result.status is Status.PASS


def test_the_tenant_setting_is_a_param_and_must_be_a_custom_setting_name() -> None:
    table = make_table(policies=(policy("tenant"),))
    other = run_check("postgres.table.tenant_policy", table, tenant_setting="app.tenant")
    assert other.status is Status.FAIL
    with pytest.raises(ValueError, match="tenant_setting"):
        run_check("postgres.table.tenant_policy", table, tenant_setting="tenant_id")


def access(**roles: list[str]) -> dict[str, Any]:
    return {role: {"privileges": ["SELECT"], "bypass_rls": why} for role, why in roles.items()}


@pytest.mark.parametrize(
    ("entries", "status", "reason"),
    [
        (access(app=[]), Status.PASS, "the application role app is subject to row-level security"),
        (
            access(app=["owns the table"]),
            Status.FAIL,
            "bypasses row-level security here: owns the table",
        ),
        (
            access(app=["BYPASSRLS", "can SET ROLE to superuser admins"]),
            Status.FAIL,
            "here: BYPASSRLS; can SET ROLE to superuser admins",
        ),
        (access(postgres=["superuser"]), Status.NOT_APPLICABLE, "role app holds no privilege"),
    ],
)
def test_app_role_bypass(entries: dict[str, Any], status: Status, reason: str) -> None:
    result = run_check("postgres.table.app_role_bypass", make_table(access=entries))
    assert result.status is status
    assert reason in result.reason


def test_the_app_role_is_a_param() -> None:
    table = make_table(access=access(web=["owns the table"]))
    assert run_check("postgres.table.app_role_bypass", table).status is Status.NOT_APPLICABLE
    result = run_check("postgres.table.app_role_bypass", table, app_role="web")
    assert result.status is Status.FAIL
    assert result.observed == {"app_role": "web", "bypass_rls": ["owns the table"]}
