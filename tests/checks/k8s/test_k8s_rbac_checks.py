"""RBAC checks: cluster-admin and Secrets access per binding, wildcards per role."""

from __future__ import annotations

from typing import Any

import pytest

from assay.checks import Status
from assay.checks.k8s import factories as k
from assay.checks.k8s.collect.rbac import collect_bindings
from assay.checks.k8s.offline import OfflineObjects
from assay.testing import run_check

READ_SECRETS = k.rule(["get", "list"], ["secrets"])


def bindings(*objects: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in k.snapshots(*objects, resource="k8s.rbac_binding")}


def roles(*objects: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in k.snapshots(*objects, resource="k8s.role")}


def test_binding_snapshots_resolve_the_role_they_grant() -> None:
    found = bindings(
        k.role("reader", [READ_SECRETS], "tenant-a"),
        k.binding(
            "read",
            "reader",
            [k.service_account_subject("api", "tenant-a"), k.user("bob")],
            "tenant-a",
            role_kind="Role",
        ),
    )
    attrs = found["RoleBinding/tenant-a/read"]["attributes"]
    assert attrs["role_ref"] == {"kind": "Role", "name": "reader"}
    assert attrs["subjects"] == ["ServiceAccount:tenant-a/api", "User:bob"]
    assert attrs["role"] == {"found": True, "rules": [READ_SECRETS], "source": "input"}


def test_a_role_binding_finds_the_role_of_its_own_namespace_only() -> None:
    found = bindings(
        k.role("reader", [READ_SECRETS], "tenant-b"),
        k.binding("read", "reader", [k.user("bob")], "tenant-a", role_kind="Role"),
    )
    role = found["RoleBinding/tenant-a/read"]["attributes"]["role"]
    assert role == {"found": False, "rules": None, "source": "input"}
    result = run_check("k8s.rbac.secrets_read", found["RoleBinding/tenant-a/read"])
    assert result.status is Status.ERROR
    assert "Role reader is not in the input" in result.reason


def test_a_missing_role_in_a_live_cluster_grants_nothing() -> None:
    class Live(OfflineObjects):
        @property
        def offline(self) -> bool:
            return False

    conn = Live([("b", k.binding("read", "gone", [k.user("bob")]))], context="live")
    [resource] = collect_bindings(conn)
    assert resource["attributes"]["role"] == {"found": False, "rules": [], "source": "cluster"}
    assert run_check("k8s.rbac.secrets_read", resource).status is Status.PASS


def test_cluster_admin_for_an_unlisted_user_fails() -> None:
    found = bindings(
        k.binding("masters", "cluster-admin", [k.group("system:masters")]),
        k.binding("oncall", "cluster-admin", [k.group("system:masters"), k.user("ann")]),
    )
    assert run_check("k8s.rbac.cluster_admin", found["ClusterRoleBinding/masters"]).status is (
        Status.PASS
    )
    result = run_check("k8s.rbac.cluster_admin", found["ClusterRoleBinding/oncall"])
    assert result.status is Status.FAIL
    assert result.observed["not_allowed"] == ["User:ann"]
    allowed = run_check(
        "k8s.rbac.cluster_admin",
        found["ClusterRoleBinding/oncall"],
        allowed_subjects=["Group:system:masters", "User:a*"],
    )
    assert allowed.status is Status.PASS


def test_a_role_granting_everything_is_cluster_admin_whatever_its_name() -> None:
    everything = k.rule(["get"], ["pods"]), k.rule(["*"], ["*"], ["*"])
    found = bindings(
        k.role("god-mode", list(everything)),
        k.binding("ops", "god-mode", [k.user("ann")]),
    )
    result = run_check("k8s.rbac.cluster_admin", found["ClusterRoleBinding/ops"])
    assert result.status is Status.FAIL
    assert "rules[1]" in result.reason


def test_cluster_admin_in_kube_system_is_judged_with_the_control_params() -> None:
    found = bindings(k.binding("sneaky", "cluster-admin", [k.user("ann")], "kube-system"))
    resource = found["RoleBinding/kube-system/sneaky"]
    # the check's own default excludes system namespaces; the control ships []
    assert run_check("k8s.rbac.cluster_admin", resource).status is Status.NOT_APPLICABLE
    result = run_check("k8s.rbac.cluster_admin", resource, system_namespaces=[])
    assert result.status is Status.FAIL
    assert "in namespace kube-system" in result.reason


def test_every_rule_counts_for_secrets_read() -> None:
    rules = [k.rule(["get"], ["configmaps"]), k.rule(["watch"], ["*"])]
    found = bindings(k.role("sneaky", rules), k.binding("b", "sneaky", [k.user("bob")]))
    result = run_check("k8s.rbac.secrets_read", found["ClusterRoleBinding/b"])
    assert result.status is Status.FAIL
    assert result.observed["grants"] == [{"rule": 1, "verbs": ["watch"], "resource_names": []}]


@pytest.mark.parametrize(
    ("rule", "reads"),
    [
        (k.rule(["get"], ["secrets"]), True),
        (k.rule(["*"], ["secrets"]), True),
        (k.rule(["list"], ["*"], ["*"]), True),
        (k.rule(["get"], ["secrets"], resource_names=["tls"]), True),
        (k.rule(["create", "delete"], ["secrets"]), False),
        (k.rule(["get"], ["secrets"], ["apps"]), False),
        (k.rule(["get"], ["configmaps"]), False),
    ],
)
def test_which_rules_read_secrets(rule: dict[str, Any], reads: bool) -> None:
    found = bindings(k.role("r", [rule]), k.binding("b", "r", [k.user("bob")]))
    result = run_check("k8s.rbac.secrets_read", found["ClusterRoleBinding/b"])
    assert result.status is (Status.FAIL if reads else Status.PASS)


def test_built_in_roles_are_known_when_the_input_lacks_them() -> None:
    found = bindings(
        k.binding("editors", "edit", [k.group("devs")], "tenant-a"),
        k.binding("viewers", "view", [k.group("devs")], "tenant-a"),
    )
    edit = found["RoleBinding/tenant-a/editors"]
    assert edit["attributes"]["role"]["source"] == "built-in"
    result = run_check("k8s.rbac.secrets_read", edit)
    assert result.status is Status.FAIL
    assert "in namespace tenant-a" in result.reason
    assert run_check("k8s.rbac.secrets_read", found["RoleBinding/tenant-a/viewers"]).status is (
        Status.PASS
    )


def test_allow_listed_and_system_service_accounts_may_read_secrets() -> None:
    found = bindings(
        k.role("r", [READ_SECRETS]),
        k.binding("b", "r", [k.service_account_subject("cm", "kube-system")]),
    )
    assert run_check("k8s.rbac.secrets_read", found["ClusterRoleBinding/b"]).status is (Status.PASS)


def test_a_wildcard_in_any_rule_fails() -> None:
    rules = [
        k.rule(["get"], ["pods"]),
        k.rule(["get"], ["deployments"], ["apps"]),
        k.rule(["*"], ["configmaps"]),
    ]
    found = roles(k.role("ops", rules), k.role("scale", [k.rule(["update"], ["*/scale"])]))
    result = run_check("k8s.rbac.no_wildcards", found["ClusterRole/ops"])
    assert result.status is Status.FAIL
    assert result.observed["wildcards"] == ["rules[2].verbs *"]
    assert run_check("k8s.rbac.no_wildcards", found["ClusterRole/scale"]).status is Status.FAIL


def test_wildcard_api_groups_fail_only_when_asked() -> None:
    found = roles(k.role("r", [k.rule(["get"], ["pods"], ["*"])], "tenant-a"))
    resource = found["Role/tenant-a/r"]
    assert run_check("k8s.rbac.no_wildcards", resource).status is Status.PASS
    result = run_check("k8s.rbac.no_wildcards", resource, fields=["verbs", "apiGroups"])
    assert result.status is Status.FAIL


def test_kubernetes_own_roles_and_system_namespaces_are_not_applicable() -> None:
    found = roles(
        k.role("cluster-admin", [k.rule(["*"], ["*"], ["*"])]),
        k.role("system:controller:foo", [k.rule(["*"], ["*"])]),
        k.role("leader", [k.rule(["*"], ["leases"])], "kube-system"),
    )
    for name in (
        "ClusterRole/cluster-admin",
        "ClusterRole/system:controller:foo",
        "Role/kube-system/leader",
    ):
        assert run_check("k8s.rbac.no_wildcards", found[name]).status is Status.NOT_APPLICABLE
