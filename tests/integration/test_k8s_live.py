"""Against a real cluster, when one is given: ASSAY_LIVE_KUBECONFIG (and ASSAY_LIVE_CONTEXT,
else the kubeconfig's current context). Read-only: it lists, never writes. Skipped otherwise."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from assay.checks import MissingEvidence, Result, registry
from assay.checks.k8s import K8sTarget, connect, identity
from assay.checks.k8s.collect.cluster import FLAGS
from assay.controls import catalog_root

KUBECONFIG = os.environ.get("ASSAY_LIVE_KUBECONFIG")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not KUBECONFIG, reason="set ASSAY_LIVE_KUBECONFIG to run against a cluster"),
]
TYPES = ("k8s.workload", "k8s.namespace", "k8s.role", "k8s.rbac_binding", "k8s.cluster")


@pytest.fixture(scope="module")
def collected() -> dict[str, list[dict[str, Any]]]:
    options = K8sTarget(kubeconfig=KUBECONFIG, context=os.environ.get("ASSAY_LIVE_CONTEXT"))
    conn = connect(options, 60.0)
    assert identity(conn)["server_version"]
    return {t: list(registry.collectors()[t].func(conn)) for t in TYPES}


def test_snapshots_are_json_without_payloads_or_env_values(
    collected: dict[str, list[dict[str, Any]]],
) -> None:
    assert collected["k8s.namespace"], "a cluster has namespaces"
    for resources in collected.values():
        text = json.dumps(resources)
        assert json.loads(text) == resources
        assert "last-applied-configuration" not in text
        for r in resources:
            assert not {"data", "stringData", "binaryData"} & set(r["attributes"])
            for c in (r["attributes"].get("pod_spec") or {}).get("containers", []):
                assert all("value" not in e for e in c.get("env", []))
    assert "float" not in {type(v).__name__ for v in _leaves(collected)}


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, list):
        return [x for v in value for x in _leaves(v)]
    return [value]


def test_every_k8s_control_decides_or_explains(
    collected: dict[str, list[dict[str, Any]]],
) -> None:
    for path in sorted(Path(str(catalog_root()), "k8s").glob("*.yaml")):
        control = yaml.safe_load(path.read_text())
        spec = registry.get_check(control["check"])
        params = spec.params.model_validate(control.get("params", {}))
        for resource in collected[control["resource"]]:
            try:
                result = spec.func(resource, params)
            except MissingEvidence as exc:
                assert "could not" in str(exc)
                continue
            assert isinstance(result, Result), (control["id"], resource["id"])
            assert result.reason


def test_pods_of_an_untouched_deployment_fold_into_it(
    collected: dict[str, list[dict[str, Any]]],
) -> None:
    """A real API server's defaults, admission and scheduler leave a pod its template's:
    CoreDNS, which nearly every distribution runs as a Deployment, folds whole."""
    workloads = {r["name"]: r for r in collected["k8s.workload"]}
    coredns = workloads.get("Deployment/kube-system/coredns")
    if coredns is None:
        pytest.skip("this cluster runs no Deployment kube-system/coredns")
    assert coredns["attributes"]["pods"]["differing"] == [], [
        workloads[f"Pod/kube-system/{p}"]["attributes"]["template"]
        for p in coredns["attributes"]["pods"]["differing"]
    ]
    assert coredns["attributes"]["pods"]["matching"] >= 1
    for r in collected["k8s.workload"]:
        template = r["attributes"].get("template")
        assert template is None or template["differences"], r["id"]


def test_the_api_server_answers_a_request_without_credentials(
    collected: dict[str, list[dict[str, Any]]],
) -> None:
    """401 (anonymous authentication off), or 200/403 (taken as system:anonymous): any
    other answer would mean the request did not reach the API server as sent."""
    [cluster] = collected["k8s.cluster"]
    attrs = cluster["attributes"]
    assert attrs["server"]["version"]
    assert attrs["anonymous_request"]["status"] in (200, 401, 403), attrs["anonymous_request"]
    # kubeadm, kind and minikube run the API server as a static pod; kubeadm sets none of
    # the judged flags by default, so only the kept ones may appear
    for pod in attrs["apiserver"]:
        assert pod["pod"].startswith("kube-system/"), pod
        assert set(pod["flags"]) <= set(FLAGS), pod
