"""Pod security checks on snapshots of factory-built objects: passing and failing per control.

Each case runs the real `k8s.workload` collector over offline objects, then the check,
so the pod template of every workload kind is exercised through the same normalisation.
"""

from __future__ import annotations

from typing import Any

import pytest

from assay.checks import Status
from assay.checks.k8s import factories as k
from assay.checks.k8s.kinds import WORKLOAD_KINDS
from assay.testing import run_check

RESOURCE = "k8s.workload"


def judge(check: str, spec: dict[str, Any], *, kind: str = "Deployment", **params: Any) -> Any:
    [resource] = k.snapshots(k.workload(kind, "app", spec=spec), resource=RESOURCE)
    return run_check(check, resource, **params)


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_every_workload_kind_yields_its_pod_template(kind: str) -> None:
    spec = k.pod_spec(k.container(security_context={"privileged": True}))
    [resource] = k.snapshots(k.workload(kind, "app", spec=spec), resource=RESOURCE)
    assert resource["id"] == f"test/tenant-a/{kind}/app"
    assert resource["name"] == f"{kind}/tenant-a/app"
    assert resource["scope"] == {"provider": "k8s", "context": "test", "namespace": "tenant-a"}
    assert resource["attributes"]["kind"] == kind
    assert resource["attributes"]["pod_spec"]["containers"][0]["securityContext"] == {
        "privileged": True
    }
    result = run_check("k8s.pod.privileged", resource)
    assert result.status is Status.FAIL
    assert "container app" in result.reason


@pytest.mark.parametrize(
    "check",
    [
        "k8s.pod.privileged",
        "k8s.pod.host_namespaces",
        "k8s.pod.run_as_non_root",
        "k8s.pod.no_privilege_escalation",
    ],
)
def test_the_default_factory_pod_passes(check: str) -> None:
    assert judge(check, k.pod_spec()).status is Status.PASS


@pytest.mark.parametrize(
    "check",
    [
        "k8s.pod.privileged",
        "k8s.pod.host_namespaces",
        "k8s.pod.run_as_non_root",
        "k8s.pod.no_privilege_escalation",
    ],
)
def test_system_namespaces_are_not_applicable_not_dropped(check: str) -> None:
    bad = k.pod_spec(k.container(security_context={"privileged": True}), hostNetwork=True)
    [resource] = k.snapshots(
        k.workload("DaemonSet", "cni", "kube-system", spec=bad), resource=RESOURCE
    )
    result = run_check(check, resource)
    assert result.status is Status.NOT_APPLICABLE
    assert "kube-system" in result.reason
    # the exclusion is a param: with none, the same object is judged
    assert run_check(check, resource, system_namespaces=[]).status is Status.FAIL


def test_a_privileged_init_container_fails() -> None:
    spec = k.pod_spec(init=[k.container("setup", security_context={"privileged": True})])
    result = judge("k8s.pod.privileged", spec)
    assert result.status is Status.FAIL
    assert result.observed["privileged"] == ["initContainer setup"]


def test_a_privileged_ephemeral_container_fails() -> None:
    spec = k.pod_spec(ephemeral=[k.container("debugger", security_context={"privileged": True})])
    result = judge("k8s.pod.privileged", spec, kind="Pod")
    assert result.status is Status.FAIL
    assert result.observed["privileged"] == ["ephemeralContainer debugger"]


def test_windows_host_process_counts_as_privileged_from_the_pod_level() -> None:
    spec = k.pod_spec(security_context={"windowsOptions": {"hostProcess": True}})
    result = judge("k8s.pod.privileged", spec)
    assert result.status is Status.FAIL
    assert "HostProcess" in result.reason


def test_privileged_false_passes_and_counts_every_container() -> None:
    spec = k.pod_spec(
        k.container("a", security_context={"privileged": False}),
        k.container("b"),
        init=[k.container("c")],
    )
    result = judge("k8s.pod.privileged", spec)
    assert result.status is Status.PASS
    assert result.observed == {"containers": 3}


@pytest.mark.parametrize("field", ["hostNetwork", "hostPID", "hostIPC"])
def test_each_host_namespace_fails(field: str) -> None:
    result = judge("k8s.pod.host_namespaces", k.pod_spec(**{field: True}))
    assert result.status is Status.FAIL
    assert result.observed["shared"] == [field]


def test_host_namespaces_set_false_pass() -> None:
    spec = k.pod_spec(hostNetwork=False, hostPID=False, hostIPC=False)
    assert judge("k8s.pod.host_namespaces", spec).status is Status.PASS


def test_container_run_as_user_0_overrides_pod_run_as_non_root() -> None:
    spec = k.pod_spec(
        k.container(security_context={"runAsUser": 0, "allowPrivilegeEscalation": False}),
        security_context={"runAsNonRoot": True},
    )
    result = judge("k8s.pod.run_as_non_root", spec)
    assert result.status is Status.FAIL
    assert "runAsUser: 0 from its own securityContext despite runAsNonRoot: true" in result.reason


def test_pod_level_run_as_non_root_covers_containers_that_set_nothing() -> None:
    spec = k.pod_spec(
        k.container(security_context={"allowPrivilegeEscalation": False}),
        init=[k.container("init", security_context=None)],
        security_context={"runAsNonRoot": True},
    )
    assert judge("k8s.pod.run_as_non_root", spec).status is Status.PASS


def test_pod_level_root_uid_fails_unless_the_container_overrides_it() -> None:
    root_pod = {"runAsUser": 0}
    inherits = k.pod_spec(k.container(security_context={}), security_context=root_pod)
    result = judge("k8s.pod.run_as_non_root", inherits)
    assert result.status is Status.FAIL
    assert "the pod's securityContext" in result.reason
    overrides = k.pod_spec(
        k.container(security_context={"runAsUser": 1000}), security_context=root_pod
    )
    assert judge("k8s.pod.run_as_non_root", overrides).status is Status.PASS


def test_container_run_as_non_root_false_overrides_the_pod_true() -> None:
    spec = k.pod_spec(
        k.container(security_context={"runAsNonRoot": False}),
        security_context={"runAsNonRoot": True},
    )
    assert judge("k8s.pod.run_as_non_root", spec).status is Status.FAIL


def test_nothing_set_leaves_the_image_user_and_fails() -> None:
    spec = k.pod_spec(k.container(security_context=None))
    result = judge("k8s.pod.run_as_non_root", spec)
    assert result.status is Status.FAIL
    assert "the image decides" in result.reason


def test_ephemeral_container_inherits_pod_root_and_fails() -> None:
    spec = k.pod_spec(
        k.container(security_context={"runAsUser": 1000}),
        ephemeral=[k.container("debug", security_context=None)],
    )
    result = judge("k8s.pod.run_as_non_root", spec, kind="Pod")
    assert result.status is Status.FAIL
    assert result.observed["root"][0].startswith("ephemeralContainer debug")


def test_missing_allow_privilege_escalation_is_not_false() -> None:
    spec = k.pod_spec(k.container(security_context={"runAsNonRoot": True}))
    result = judge("k8s.pod.no_privilege_escalation", spec)
    assert result.status is Status.FAIL
    assert "not set; defaults to true" in result.reason


def test_allow_privilege_escalation_true_in_an_init_container_fails() -> None:
    spec = k.pod_spec(
        init=[k.container("init", security_context={"allowPrivilegeEscalation": True})]
    )
    result = judge("k8s.pod.no_privilege_escalation", spec)
    assert result.status is Status.FAIL
    assert result.observed["escalation"] == ["initContainer init (allowPrivilegeEscalation: true)"]


def test_a_pod_spec_without_containers_is_an_error_not_a_pass() -> None:
    cronjob = k.obj("CronJob", "broken", "tenant-a", spec={"schedule": "* * * * *"})
    [resource] = k.snapshots(cronjob, resource=RESOURCE)
    assert resource["attributes"]["pod_spec"] == {}
    for check in ("k8s.pod.privileged", "k8s.pod.run_as_non_root"):
        result = run_check(check, resource)
        assert result.status is Status.ERROR
        assert "no containers" in result.reason


def test_pods_keep_their_controller() -> None:
    pod = k.workload("Pod", "api-7d9f-abcde")
    pod["metadata"]["ownerReferences"] = [
        {"kind": "ReplicaSet", "name": "api-7d9f", "controller": True, "uid": "1"}
    ]
    [resource] = k.snapshots(pod, resource=RESOURCE)
    assert resource["attributes"]["controlled_by"] == "ReplicaSet/api-7d9f"
