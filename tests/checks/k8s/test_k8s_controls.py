"""The Kubernetes control files, and what each decides on the shipped example manifests."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from assay.checks import Status, registry
from assay.checks.k8s import K8sTarget, connect
from assay.controls import catalog_root
from assay.demo.kubernetes import k8s_demo_target
from assay.engine.models import Control
from assay.testing import run_check

P, F, N = Status.PASS, Status.FAIL, Status.NOT_APPLICABLE
ACME_API = "Deployment/tenant-acme/api"
ACME_REPORT = "CronJob/tenant-acme/nightly-report"
GLOBEX_WEB = "Deployment/tenant-globex/web"
GLOBEX_DB = "StatefulSet/tenant-globex/db"
GLOBEX_MIGRATE = "Job/tenant-globex/migrate"
KUBE_PROXY = "DaemonSet/kube-system/kube-proxy"
KUBE_APISERVER = "Pod/kube-system/kube-apiserver-control-plane"


def workloads() -> dict[str, Status]:
    """Every example workload passing, kube-system's not applicable: the cases override it."""
    return {
        ACME_API: P,
        ACME_REPORT: P,
        GLOBEX_WEB: P,
        GLOBEX_DB: P,
        GLOBEX_MIGRATE: P,
        KUBE_PROXY: N,
        KUBE_APISERVER: N,
    }


GLOBEX_DEFAULT_VIEWER = "RoleBinding/tenant-globex/default-namespace-viewer"


def bindings() -> dict[str, Status]:
    """Every example binding passing: the cases override it."""
    return {
        "ClusterRoleBinding/cluster-admin": P,
        "ClusterRoleBinding/oncall-admin": P,
        "RoleBinding/tenant-acme/api-config-reader": P,
        "RoleBinding/tenant-globex/web-app-operator": P,
        GLOBEX_DEFAULT_VIEWER: P,
    }


TENANTS = {"Namespace/kube-system": N, "Namespace/tenant-acme": P, "Namespace/tenant-globex": F}

# What each control decides on examples/k8s: the demo shows exactly this.
EXPECTED: dict[str, dict[str, Status]] = {
    "k8s-pod-privileged": {**workloads(), GLOBEX_MIGRATE: F},
    "k8s-pod-host-namespaces": workloads(),
    "k8s-pod-run-as-non-root": {**workloads(), GLOBEX_WEB: F, GLOBEX_DB: F},
    "k8s-pod-no-privilege-escalation": {**workloads(), GLOBEX_WEB: F, GLOBEX_MIGRATE: F},
    "k8s-pod-image-provenance": {**workloads(), GLOBEX_WEB: F},
    "k8s-pod-secret-env-literals": {**workloads(), GLOBEX_WEB: F},
    "k8s-pod-service-account-token": {**workloads(), GLOBEX_WEB: F},
    "k8s-tenant-resource-quota": TENANTS,
    "k8s-tenant-default-deny": TENANTS,
    "k8s-rbac-cluster-admin": {**bindings(), "ClusterRoleBinding/oncall-admin": F},
    "k8s-rbac-secrets-read": {
        **bindings(),
        "ClusterRoleBinding/oncall-admin": F,
        "RoleBinding/tenant-globex/web-app-operator": F,
    },
    "k8s-rbac-default-service-account": {**bindings(), GLOBEX_DEFAULT_VIEWER: F},
    "k8s-namespace-pod-security": {**TENANTS, "Namespace/tenant-acme": P},
    # The example control plane: an audit log, no encryption, no anonymous requests.
    "k8s-cluster-audit-logging": {"Cluster/demo": P},
    "k8s-cluster-secrets-encryption": {"Cluster/demo": F},
    "k8s-cluster-anonymous-auth": {"Cluster/demo": P},
    "k8s-rbac-no-wildcards": {
        "ClusterRole/app-operator": F,
        "ClusterRole/namespace-viewer": P,
        "Role/tenant-acme/config-reader": P,
    },
}


def load(control_id: str) -> Control:
    raw = yaml.safe_load(catalog_root().joinpath("k8s", f"{control_id}.yaml").read_text())
    return Control.model_validate(raw)


def test_the_catalog_ships_the_k8s_controls() -> None:
    names = {p.name for p in catalog_root().joinpath("k8s").iterdir()}
    assert names == {f"{cid}.yaml" for cid in EXPECTED}


@pytest.mark.parametrize("control_id", sorted(EXPECTED))
def test_control_binds_to_a_registered_check(control_id: str) -> None:
    control = load(control_id)
    assert control.id == control_id
    assert control.frameworks["soc2"]
    assert control.check is not None
    spec = registry.get_check(control.check)
    assert spec.resource == control.resource
    assert spec.func.__module__.startswith("assay.checks.k8s.")
    spec.params.model_validate(control.params)
    assert set(control.references) <= {"kube_bench", "kubescape", "prowler", "cis_kubernetes"}


@pytest.fixture(scope="module")
def demo() -> dict[str, list[dict[str, Any]]]:
    target = k8s_demo_target()
    assert target["provider"] == "k8s"
    options = K8sTarget.model_validate(
        {k: v for k, v in target.items() if k not in ("name", "provider")}
    )
    conn = connect(options, 5.0)
    types = {load(cid).resource for cid in EXPECTED}
    return {t: list(registry.collectors()[t].func(conn)) for t in types}


@pytest.mark.parametrize("control_id", sorted(EXPECTED))
def test_each_control_on_the_example_manifests(
    control_id: str, demo: dict[str, list[dict[str, Any]]]
) -> None:
    control = load(control_id)
    assert control.check is not None
    found = {
        r["name"]: run_check(control.check, r, **control.params).status
        for r in demo[control.resource]
    }
    assert found == EXPECTED[control_id]


def test_example_ids_name_the_demo_cluster(demo: dict[str, list[dict[str, Any]]]) -> None:
    ids = {r["id"] for resources in demo.values() for r in resources}
    assert "demo/tenant-globex/Deployment/web" in ids
    assert "demo/-/ClusterRoleBinding/oncall-admin" in ids
