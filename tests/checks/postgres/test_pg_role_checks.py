"""The allow-list checks on `postgres.role` snapshots."""

from __future__ import annotations

from typing import Any

import pytest

from assay.checks import Status
from assay.testing import make_resource, run_check


def make_role(name: str, **flags: Any) -> dict[str, Any]:
    attributes = {
        "superuser": False,
        "bypassrls": False,
        "createrole": False,
        "createdb": False,
        "replication": False,
        "can_login": True,
        "inherit": True,
        "connection_limit": -1,
        "valid_until": None,
        "member_of": [],
        "superuser_via": [],
        "bypassrls_via": [],
        "createrole_via": [],
        **flags,
    }
    return make_resource(
        "postgres.role", attributes, id=f"postgres://db:5432/role/{name}", name=name
    )


@pytest.mark.parametrize(
    ("role", "status", "reason"),
    [
        (make_role("app"), Status.PASS, "not a superuser, and cannot become one"),
        (make_role("postgres", superuser=True), Status.PASS, "is a superuser, and is allow-listed"),
        (
            make_role("ops", superuser=True),
            Status.FAIL,
            "role ops is a superuser but is not in the allow-list (postgres)",
        ),
        (
            make_role("app", member_of=["admins"], superuser_via=["admins"]),
            Status.FAIL,
            "role app can SET ROLE to superuser admins but is not in the allow-list",
        ),
    ],
)
def test_superuser_allow_list(role: dict[str, Any], status: Status, reason: str) -> None:
    result = run_check("postgres.role.superuser", role)
    assert result.status is status
    assert result.reason.startswith(reason)


def test_an_empty_superuser_allow_list_fails_every_superuser() -> None:
    result = run_check("postgres.role.superuser", make_role("postgres", superuser=True), allowed=[])
    assert result.status is Status.FAIL
    assert "(empty)" in result.reason


def test_superusers_are_left_to_the_superuser_control() -> None:
    result = run_check(
        "postgres.role.privileged_attributes",
        make_role("postgres", superuser=True, bypassrls=True, createrole=True),
    )
    assert result.status is Status.NOT_APPLICABLE


@pytest.mark.parametrize(
    ("flags", "params", "status", "reason"),
    [
        ({}, {}, Status.PASS, "holds neither BYPASSRLS nor CREATEROLE"),
        ({"bypassrls": True}, {}, Status.FAIL, "role r holds BYPASSRLS without being allow-listed"),
        (
            {"createrole": True, "bypassrls": True},
            {},
            Status.FAIL,
            "role r holds BYPASSRLS and holds CREATEROLE without",
        ),
        ({"bypassrls": True}, {"allowed_bypassrls": ["r"]}, Status.PASS, "as allow-listed"),
        (
            {"bypassrls": True, "createrole": True},
            {"allowed_bypassrls": ["r"]},
            Status.FAIL,
            "role r holds CREATEROLE without",
        ),
        (
            {"bypassrls_via": ["reporting"]},
            {},
            Status.FAIL,
            "role r can SET ROLE to reporting, which hold BYPASSRLS",
        ),
        ({"createrole_via": ["admins"]}, {"allowed_createrole": ["r"]}, Status.PASS, "allow"),
    ],
)
def test_bypassrls_and_createrole_allow_lists(
    flags: dict[str, Any], params: dict[str, Any], status: Status, reason: str
) -> None:
    result = run_check("postgres.role.privileged_attributes", make_role("r", **flags), **params)
    assert result.status is status
    assert reason in result.reason
