"""Tenant isolation: quotas and default-deny NetworkPolicies, judged per namespace snapshot."""

from __future__ import annotations

from typing import Any

import pytest

from assay.checks import Status
from assay.checks.k8s import factories as k
from assay.checks.k8s.checks.namespaces import denies_by_default
from assay.testing import run_check

TENANT = "tenant-a"


def namespaces(*objects: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in k.snapshots(*objects, resource="k8s.namespace")}


def tenant(*objects: dict[str, Any]) -> dict[str, Any]:
    return namespaces(k.namespace(TENANT), *objects)[f"Namespace/{TENANT}"]


def test_namespace_snapshots_carry_their_quotas_and_policies() -> None:
    found = namespaces(
        k.namespace(TENANT),
        k.namespace("tenant-b"),
        k.resource_quota("compute", TENANT, {"pods": "10"}),
        k.network_policy("default-deny", TENANT),
    )
    a = found[f"Namespace/{TENANT}"]
    assert a["id"] == f"test/-/Namespace/{TENANT}"
    assert a["scope"]["namespace"] == TENANT
    assert a["attributes"]["namespace"] == TENANT
    assert a["attributes"]["declared"] is True
    assert a["attributes"]["resource_quotas"] == [{"name": "compute", "hard": {"pods": "10"}}]
    assert [p["name"] for p in a["attributes"]["network_policies"]] == ["default-deny"]
    b = found["Namespace/tenant-b"]["attributes"]
    assert b["resource_quotas"] == [] and b["network_policies"] == []


def test_offline_namespaces_used_but_not_declared_are_judged_too() -> None:
    found = namespaces(k.workload("Deployment", "api", "tenant-z"))
    inferred = found["Namespace/tenant-z"]
    assert inferred["attributes"]["declared"] is False
    result = run_check("k8s.namespace.resource_quota", inferred)
    assert result.status is Status.FAIL


def test_a_quota_that_caps_something_passes() -> None:
    result = run_check("k8s.namespace.resource_quota", tenant(k.resource_quota("q", TENANT)))
    assert result.status is Status.PASS
    assert result.observed["capped"] == ["limits.memory", "requests.cpu"]


def test_no_quota_or_an_empty_one_fails() -> None:
    assert run_check("k8s.namespace.resource_quota", tenant()).status is Status.FAIL
    empty = tenant(k.resource_quota("q", TENANT, {}))
    assert run_check("k8s.namespace.resource_quota", empty).status is Status.FAIL


def test_required_resources_must_all_be_capped() -> None:
    resource = tenant(k.resource_quota("q", TENANT, {"requests.cpu": "1"}))
    result = run_check(
        "k8s.namespace.resource_quota", resource, required_resources=["requests.cpu", "pods"]
    )
    assert result.status is Status.FAIL
    assert result.observed["missing"] == ["pods"]


def test_non_tenant_and_system_namespaces_are_not_applicable() -> None:
    found = namespaces(k.namespace("shared-tools"), k.namespace("kube-system"))
    for name, why in (("shared-tools", "not a tenant namespace"), ("kube-system", "system")):
        for check in ("k8s.namespace.resource_quota", "k8s.namespace.default_deny"):
            result = run_check(check, found[f"Namespace/{name}"])
            assert result.status is Status.NOT_APPLICABLE
            assert why in result.reason
    result = run_check(
        "k8s.namespace.resource_quota",
        found["Namespace/shared-tools"],
        tenant_namespaces=["shared-*"],
    )
    assert result.status is Status.FAIL


def test_a_default_deny_policy_passes() -> None:
    result = run_check("k8s.namespace.default_deny", tenant(k.network_policy("deny", TENANT)))
    assert result.status is Status.PASS
    assert result.observed["denying"] == {"Ingress": ["deny"]}


@pytest.mark.parametrize(
    "policy",
    [
        k.network_policy("allow-all", TENANT, ingress=[{}]),
        k.network_policy("some-pods", TENANT, pod_selector={"matchLabels": {"app": "db"}}),
        k.network_policy("egress-only", TENANT, policy_types=["Egress"]),
    ],
    ids=["allows-everything", "selects-some-pods", "egress-only"],
)
def test_policies_that_do_not_deny_all_ingress_fail(policy: dict[str, Any]) -> None:
    result = run_check("k8s.namespace.default_deny", tenant(policy))
    assert result.status is Status.FAIL
    assert "Ingress" in result.reason


def test_no_policy_fails() -> None:
    result = run_check("k8s.namespace.default_deny", tenant())
    assert result.status is Status.FAIL
    assert "policies: none" in result.reason


def test_egress_can_be_required_too() -> None:
    ingress_only = tenant(k.network_policy("deny", TENANT))
    params = {"directions": ["Ingress", "Egress"]}
    assert run_check("k8s.namespace.default_deny", ingress_only, **params).status is Status.FAIL
    both = tenant(k.network_policy("deny", TENANT, policy_types=["Ingress", "Egress"]))
    assert run_check("k8s.namespace.default_deny", both, **params).status is Status.PASS


@pytest.mark.parametrize(
    ("spec", "denied"),
    [
        ({"podSelector": {}}, ["Ingress"]),  # policyTypes unset: Ingress
        ({"podSelector": {}, "egress": [{"to": []}]}, ["Ingress"]),  # + Egress, allowed
        ({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}, ["Ingress", "Egress"]),
        ({"podSelector": {"matchLabels": {}}, "policyTypes": ["Egress"]}, ["Egress"]),
        ({"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}, []),
    ],
)
def test_denies_by_default(spec: dict[str, Any], denied: list[str]) -> None:
    assert denies_by_default(spec) == denied
