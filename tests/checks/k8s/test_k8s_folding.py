"""Pods fold into the controller whose template they run; a pod that differs is judged on
its own and says how. Offline: a `kubectl get -o yaml` dump, and factory-built objects."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from assay.checks import Status
from assay.checks.k8s import factories as k
from assay.checks.k8s.collect.templates import differences, view
from assay.engine.cli.main import cli
from assay.testing import run_check

DUMP = Path(__file__).parent / "dump_pods_folding_into_controllers.yaml"
RESOURCE = "k8s.workload"
SECRET = "folding-synthetic-password-83k"


def by_name(*objects: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in k.snapshots(*objects, resource=RESOURCE)}


def pod_of(owner: dict[str, Any], name: str, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Pod running `owner`'s template (or `spec`), owned by `owner`."""
    template = owner["spec"].get("template") or owner["spec"]["jobTemplate"]["spec"]["template"]
    pod = k.workload("Pod", name, spec=copy.deepcopy(spec or template["spec"]))
    return k.owned(pod, owner)


def replica_set(deployment: dict[str, Any], name: str, replicas: int = 1) -> dict[str, Any]:
    rs = k.workload("ReplicaSet", name, spec=copy.deepcopy(deployment["spec"]["template"]["spec"]))
    rs["spec"]["replicas"] = replicas
    return k.owned(rs, deployment)


# The dump: what a cluster returns, server defaults on every pod -----------------------


def test_the_dump_folds_pods_and_intermediate_controllers_into_their_tops(tmp_path: Path) -> None:
    found = by_name(*yaml.safe_load(DUMP.read_text())["items"])
    assert sorted(found) == [
        "CronJob/shop/report",
        "Deployment/shop/api",
        "Pod/shop/api-7d9f8b6c5d-q9t5v",
        "Pod/shop/worker-6b8d9c7f4-h4j2k",
        "StatefulSet/shop/db",
    ]
    pods = {name: r["attributes"]["pods"] for name, r in found.items()}
    assert pods["Deployment/shop/api"] == {"matching": 3, "differing": ["api-7d9f8b6c5d-q9t5v"]}
    # claim volumes, hostname and subdomain are the StatefulSet's doing
    assert pods["StatefulSet/shop/db"] == {"matching": 2, "differing": []}
    # Pod -> Job -> CronJob: the Job folds too
    assert pods["CronJob/shop/report"] == {"matching": 1, "differing": []}
    # its ReplicaSet is not in the dump: judged alone, as it runs, saying nothing of a template
    worker = found["Pod/shop/worker-6b8d9c7f4-h4j2k"]["attributes"]
    assert worker["template"] is None
    assert worker["controlled_by"] == "ReplicaSet/worker-6b8d9c7f4"


def test_the_injected_privileged_sidecar_fails_on_its_own_naming_the_sidecar() -> None:
    found = by_name(*yaml.safe_load(DUMP.read_text())["items"])
    pod = found["Pod/shop/api-7d9f8b6c5d-q9t5v"]
    assert pod["attributes"]["template"] == {
        "controller": "Deployment/api",
        "differences": [
            'container "istio-proxy" added (privileged)',
            'initContainer "istio-init" added',
            'volume "istio-envoy" added (emptyDir)',
            'volume "istio-token" added (projected)',
        ],
    }
    result = run_check("k8s.pod.privileged", pod)
    assert result.status is Status.FAIL
    assert result.reason == (
        "privileged containers (1 of 3): container istio-proxy; differs from Deployment/api's "
        'template: container "istio-proxy" added (privileged), initContainer "istio-init" added, '
        'volume "istio-envoy" added (emptyDir) and 1 more'
    )
    assert result.observed["differs_from"] == "Deployment/api"
    assert len(result.observed["template_differences"]) == 4
    # the Deployment itself passes, and names the pod judged apart
    deployment = run_check("k8s.pod.privileged", found["Deployment/shop/api"])
    assert deployment.status is Status.PASS
    assert deployment.reason == (
        "no privileged container (1 checked); 3 pods match this template; "
        "1 pod differs and is judged alone: api-7d9f8b6c5d-q9t5v"
    )
    assert deployment.observed == {
        "containers": 1,
        "pods": 3,
        "pods_judged_alone": ["api-7d9f8b6c5d-q9t5v"],
    }


def test_a_run_over_the_dump_gives_one_result_per_control_for_three_replicas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ASSAY_LEDGER", raising=False)
    (tmp_path / "assay.yaml").write_text(
        yaml.safe_dump(
            {
                "controls": {"ids": list(k.POD_CONTROLS)},
                "targets": [{"name": "shop", "provider": "k8s", "dump": str(DUMP)}],
            }
        )
    )
    res = CliRunner().invoke(cli, ["run", "-f", "json", "-o", "r.json"], catch_exceptions=False)
    assert res.exit_code == 1, res.output
    results = json.loads((tmp_path / "r.json").read_text())["results"]
    api = [r for r in results if "/api" in r["resource"]["name"]]
    by_resource: dict[str, list[str]] = {}
    for r in api:
        by_resource.setdefault(r["resource"]["name"], []).append(r["control"])
    assert {name: sorted(c) for name, c in by_resource.items()} == {
        "Deployment/shop/api": sorted(k.POD_CONTROLS),
        "Pod/shop/api-7d9f8b6c5d-q9t5v": sorted(k.POD_CONTROLS),
    }
    assert all(
        r["observed"]["pods"] == 3 for r in api if r["resource"]["name"] == "Deployment/shop/api"
    )
    sidecar = next(
        r
        for r in api
        if r["control"] == "k8s-pod-privileged" and r["resource"]["name"].startswith("Pod/")
    )
    assert sidecar["status"] == "fail"
    assert 'container "istio-proxy" added (privileged)' in sidecar["reason"]


# What counts as a difference -----------------------------------------------------------


def test_what_the_api_server_and_admission_fill_in_still_folds() -> None:
    """A Deployment from a manifest (no defaults) and its Pod as the cluster serves it."""
    deployment = k.workload(
        "Deployment",
        "api",
        spec=k.pod_spec(
            k.container(
                env=[{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                volumeMounts=[{"name": "cfg", "mountPath": "/etc/api"}],
            ),
            automountServiceAccountToken=None,
            volumes=[
                {"name": "cfg", "configMap": {"name": "api"}},
                {"name": "host", "hostPath": {"path": "/srv"}},
            ],
        ),
    )
    rs = replica_set(deployment, "api-7d9f")
    pod = pod_of(rs, "api-7d9f-x2k4p")
    spec = pod["spec"]
    for c in spec["containers"]:
        c.update(
            imagePullPolicy="IfNotPresent",
            terminationMessagePath="/dev/termination-log",
            terminationMessagePolicy="File",
            resources={"limits": {"cpu": "500m"}, "requests": {"cpu": "100m"}},
        )
        c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] = "v1"
        c["volumeMounts"].append(
            {
                "name": "kube-api-access-8fj2q",
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                "readOnly": True,
            }
        )
        c["securityContext"]["readOnlyRootFilesystem"] = None  # as some clients write unset
    spec["volumes"][0]["configMap"]["defaultMode"] = 420
    spec["volumes"][1]["hostPath"]["type"] = ""
    spec["volumes"].append(
        {"name": "kube-api-access-8fj2q", "projected": {"sources": [{"serviceAccountToken": {}}]}}
    )
    spec.update(
        dnsPolicy="ClusterFirst",
        enableServiceLinks=True,
        hostNetwork=False,
        nodeName="node-a",
        priority=0,
        restartPolicy="Always",
        schedulerName="default-scheduler",
        securityContext={},
        serviceAccount="default",
        serviceAccountName="default",
        terminationGracePeriodSeconds=30,
        tolerations=[{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}],
    )
    found = by_name(deployment, rs, pod)
    assert list(found) == ["Deployment/tenant-a/api"]
    assert found["Deployment/tenant-a/api"]["attributes"]["pods"] == {
        "matching": 1,
        "differing": [],
    }


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda s: s["containers"][0].update(image="nginx:1.25"),
            ["containers[app].image: nginx:1.25 (template: nginx:1.27)"],
        ),
        (
            lambda s: s["containers"][0]["securityContext"].update(runAsUser=0),
            ["containers[app].securityContext.runAsUser: 0 (template: 10001)"],
        ),
        (
            lambda s: s["containers"][0]["securityContext"].update(
                capabilities={"add": ["NET_ADMIN"]}
            ),
            ["containers[app].securityContext.capabilities.add: [NET_ADMIN] (template: unset)"],
        ),
        (
            lambda s: s["containers"][0]["securityContext"].pop("allowPrivilegeEscalation"),
            ["containers[app].securityContext.allowPrivilegeEscalation: unset (template: false)"],
        ),
        (
            lambda s: s.update(hostPID=True, serviceAccountName="admin"),
            ["serviceAccountName: admin (template: default)", "hostPID: true (template: unset)"],
        ),
        (
            lambda s: s.update(automountServiceAccountToken=True),
            ["automountServiceAccountToken: true (template: false)"],
        ),
        (
            lambda s: s.update(securityContext={"runAsUser": 0}),
            ["securityContext.runAsUser: 0 (template: unset)"],
        ),
        (
            lambda s: s.update(ephemeralContainers=[k.container("debugger-x7", image="busybox")]),
            ['ephemeralContainer "debugger-x7" added'],
        ),
        (
            lambda s: s["containers"].pop(),
            ['container "sidecar" removed'],
        ),
        (
            lambda s: s.update(volumes=[{"name": "root", "hostPath": {"path": "/"}}]),
            ['volume "root" added (hostPath)'],
        ),
        (
            lambda s: s["containers"][0].update(
                volumeMounts=[{"name": "root", "mountPath": "/host"}], args=["--verbose"]
            ),
            [
                "containers[app].args differ",
                "containers[app].volumeMounts[/host] added (volume root)",
            ],
        ),
    ],
)
def test_a_pod_that_differs_is_judged_alone_and_says_how(change: Any, expected: list[str]) -> None:
    spec = k.pod_spec(k.container(image="nginx:1.27"), k.container("sidecar"))
    deployment = k.workload("Deployment", "web", spec=spec)
    pod = pod_of(deployment, "web-0")
    change(pod["spec"])
    found = by_name(deployment, pod)
    assert found["Pod/tenant-a/web-0"]["attributes"]["template"] == {
        "controller": "Deployment/web",
        "differences": expected,
    }
    assert found["Deployment/tenant-a/web"]["attributes"]["pods"] == {
        "matching": 0,
        "differing": ["web-0"],
    }


def test_env_differences_name_the_source_never_the_value() -> None:
    template = k.pod_spec(
        k.container(
            env=[
                {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}},
                {"name": "MODE", "value": "safe"},
                {"name": "OLD", "value": "x"},
            ]
        )
    )
    deployment = k.workload("Deployment", "api", spec=template)
    pod = pod_of(deployment, "api-0")
    pod["spec"]["containers"][0]["env"] = [
        {"name": "DB_PASSWORD", "value": SECRET},
        {"name": "MODE", "value": "unsafe"},
        {"name": "API_TOKEN", "value": SECRET},
    ]
    found = by_name(deployment, pod)["Pod/tenant-a/api-0"]
    assert found["attributes"]["template"]["differences"] == [
        "containers[app].env[DB_PASSWORD]: literal (template: from secretKeyRef db/pw)",
        "containers[app].env[MODE]: literal value differs",
        "containers[app].env[API_TOKEN] added (literal)",
        "containers[app].env[OLD] removed",
    ]
    result = run_check("k8s.pod.secret_env_literals", found)
    assert result.status is Status.FAIL
    assert "differs from Deployment/api's template" in result.reason
    assert SECRET not in json.dumps([found, result.model_dump()])


def test_more_than_three_differences_are_counted_in_the_reason() -> None:
    deployment = k.workload("Deployment", "api")
    pod = pod_of(deployment, "api-0")
    pod["spec"].update(hostNetwork=True, hostPID=True, hostIPC=True, shareProcessNamespace=True)
    found = by_name(deployment, pod)["Pod/tenant-a/api-0"]
    result = run_check("k8s.pod.host_namespaces", found)
    assert result.reason.endswith(
        "differs from Deployment/api's template: hostNetwork: true (template: unset), "
        "hostPID: true (template: unset), hostIPC: true (template: unset) and 1 more"
    )
    assert len(result.observed["template_differences"]) == 4


def test_differences_are_empty_for_equal_specs_and_stable_in_order() -> None:
    spec = k.pod_spec(k.container("a"), k.container("b"), init=[k.container("i")])
    assert differences(view(spec), view(copy.deepcopy(spec))) == []
    other = copy.deepcopy(spec)
    other["containers"].reverse()  # order is not a difference; names match containers
    assert differences(view(other), view(spec)) == []
    other["containers"][0]["image"] = "x:1"
    other["initContainers"] = []
    first = differences(view(other), view(spec))
    assert first == differences(view(copy.deepcopy(other)), view(copy.deepcopy(spec)))
    assert first == [f"containers[b].image: x:1 (template: {k.IMAGE})", 'initContainer "i" removed']


# Ownership: which controller, if any, a pod is compared with ------------------------------


def test_a_pod_whose_owner_is_not_in_the_input_is_judged_alone() -> None:
    pod = k.owned(k.workload("Pod", "api-7d9f-x"), k.workload("ReplicaSet", "api-7d9f"))
    [resource] = k.snapshots(pod, resource=RESOURCE)
    assert resource["attributes"]["template"] is None
    assert resource["attributes"]["controlled_by"] == "ReplicaSet/api-7d9f"
    assert "template" not in run_check("k8s.pod.privileged", resource).reason


def test_a_chain_stops_at_the_highest_controller_in_the_input() -> None:
    """ReplicaSet in the dump, its Deployment not: the pod folds into the ReplicaSet."""
    deployment = k.workload("Deployment", "api")
    rs = replica_set(deployment, "api-7d9f")
    found = by_name(rs, pod_of(rs, "api-7d9f-a"), pod_of(rs, "api-7d9f-b"))
    assert list(found) == ["ReplicaSet/tenant-a/api-7d9f"]
    assert found["ReplicaSet/tenant-a/api-7d9f"]["attributes"]["pods"]["matching"] == 2


@pytest.mark.parametrize(
    "ref",
    [
        {"uid": "another-uid"},  # same name, another object: deleted and created again
        {"apiVersion": "example.com/v1"},  # a Deployment of another API group
        {"controller": False},  # an owner, not the controller
    ],
)
def test_an_owner_that_is_not_really_in_the_input_leaves_the_pod_alone(
    ref: dict[str, Any],
) -> None:
    deployment = k.workload("Deployment", "api")
    deployment["metadata"]["uid"] = "the-uid"
    pod = pod_of(deployment, "api-0")
    pod["metadata"]["ownerReferences"][0].update(ref)
    found = by_name(deployment, pod)
    assert found["Pod/tenant-a/api-0"]["attributes"]["template"] is None
    assert found["Deployment/tenant-a/api"]["attributes"]["pods"]["matching"] == 0


def test_static_pods_and_pods_named_as_owners_stay_alone() -> None:
    mirror = k.workload("Pod", "etcd-node-a")
    mirror["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "Node", "name": "node-a", "controller": True}
    ]
    parent = k.workload("Pod", "parent")
    child = k.owned(k.workload("Pod", "child"), parent)
    found = by_name(mirror, parent, child)
    assert sorted(found) == [
        "Pod/tenant-a/child",
        "Pod/tenant-a/etcd-node-a",
        "Pod/tenant-a/parent",
    ]
    assert all(r["attributes"]["template"] is None for r in found.values())


def test_an_ownership_cycle_ends() -> None:
    a, b = k.workload("ReplicaSet", "a"), k.workload("ReplicaSet", "b")
    k.owned(a, b)
    k.owned(b, a)
    pod = pod_of(a, "a-0")
    found = by_name(a, b, pod)
    # no top to fold into: each is judged as it is
    assert sorted(found) == ["Pod/tenant-a/a-0", "ReplicaSet/tenant-a/a", "ReplicaSet/tenant-a/b"]


def test_earlier_revisions_that_run_nothing_are_not_judged_but_running_ones_are() -> None:
    deployment = k.workload("Deployment", "api", spec=k.pod_spec(k.container(image="api:2")))
    old_spec = k.pod_spec(k.container(image="api:1"))
    retired = replica_set(deployment, "api-1111", replicas=0)
    retired["spec"]["template"]["spec"] = copy.deepcopy(old_spec)
    rolling = replica_set(deployment, "api-2222", replicas=1)
    rolling["spec"]["template"]["spec"] = copy.deepcopy(old_spec)
    current = replica_set(deployment, "api-3333", replicas=3)
    old_pod = pod_of(rolling, "api-2222-a")
    found = by_name(deployment, retired, rolling, current, old_pod, pod_of(current, "api-3333-a"))
    assert sorted(found) == [
        "Deployment/tenant-a/api",
        "Pod/tenant-a/api-2222-a",
        "ReplicaSet/tenant-a/api-2222",
    ]
    change = ["containers[app].image: api:1 (template: api:2)"]
    for name in ("Pod/tenant-a/api-2222-a", "ReplicaSet/tenant-a/api-2222"):
        assert found[name]["attributes"]["template"]["differences"] == change
    assert found["Deployment/tenant-a/api"]["attributes"]["pods"] == {
        "matching": 1,
        "differing": ["api-2222-a"],
    }


def test_a_cronjobs_jobs_fold_and_a_finished_one_of_an_older_template_is_not_judged() -> None:
    cronjob = k.workload("CronJob", "report", spec=k.pod_spec(k.container(image="report:2")))
    job = k.owned(
        k.workload("Job", "report-200", spec=k.pod_spec(k.container(image="report:2"))), cronjob
    )
    finished = k.owned(
        k.workload("Job", "report-100", spec=k.pod_spec(k.container(image="report:1"))), cronjob
    )
    finished["status"] = {"conditions": [{"type": "Complete", "status": "True"}]}
    running_old = k.owned(
        k.workload("Job", "report-150", spec=k.pod_spec(k.container(image="report:1"))), cronjob
    )
    found = by_name(cronjob, job, finished, running_old, pod_of(job, "report-200-x"))
    assert sorted(found) == ["CronJob/tenant-a/report", "Job/tenant-a/report-150"]
    assert found["CronJob/tenant-a/report"]["attributes"]["pods"]["matching"] == 1
    assert found["Job/tenant-a/report-150"]["attributes"]["template"] == {
        "controller": "CronJob/report",
        "differences": ["containers[app].image: report:1 (template: report:2)"],
    }


def test_a_statefulset_pod_with_its_claims_folds_but_a_foreign_claim_does_not() -> None:
    sts = k.workload(
        "StatefulSet",
        "db",
        spec=k.pod_spec(k.container(volumeMounts=[{"name": "data", "mountPath": "/data"}])),
    )
    sts["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "data"}}]
    pods = []
    for ordinal, claim in ((0, "data-db-0"), (1, "data-db-1"), (2, "someone-elses")):
        pod = pod_of(sts, f"db-{ordinal}")
        pod["spec"].update(
            hostname=f"db-{ordinal}",
            subdomain="db",
            volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": claim}}],
        )
        pods.append(pod)
    found = by_name(sts, *pods)
    assert found["StatefulSet/tenant-a/db"]["attributes"]["pods"] == {
        "matching": 2,
        "differing": ["db-2"],
    }
    assert found["Pod/tenant-a/db-2"]["attributes"]["template"]["differences"] == [
        'volume "data" added (persistentVolumeClaim)'
    ]
