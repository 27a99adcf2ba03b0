"""Offline input (manifests, dumps), target options, and what never enters a snapshot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from assay.checks import registry
from assay.checks.k8s import K8sTarget, ManifestError, connect, identity
from assay.checks.k8s import factories as k
from assay.checks.k8s.redact import LAST_APPLIED

SECRET_VALUE = "s3cr3t-value-that-must-not-leak"
TYPES = ("k8s.workload", "k8s.namespace", "k8s.role", "k8s.rbac_binding")


def collect_all(options: dict[str, Any]) -> list[dict[str, Any]]:
    conn = connect(K8sTarget.model_validate(options), 5.0)
    return [r for t in TYPES for r in registry.collectors()[t].func(conn)]


def write_yaml(path: Path, *docs: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def test_a_manifest_folder_is_read_recursively_skipping_hidden_and_unknown(tmp_path: Path) -> None:
    write_yaml(tmp_path / "a.yaml", k.namespace("tenant-a"), None, k.workload("Deployment", "api"))
    write_yaml(tmp_path / "sub" / "b.yml", k.role("r", [k.rule(["get"], ["pods"])], "tenant-a"))
    (tmp_path / "c.json").write_text(json.dumps(k.workload("Pod", "p")))
    write_yaml(tmp_path / ".git" / "x.yaml", "not: a kubernetes object")
    (tmp_path / "notes.txt").write_text("ignored")
    write_yaml(tmp_path / "svc.yaml", {"apiVersion": "v1", "kind": "Service", "metadata": {}})
    ids = sorted(r["id"] for r in collect_all({"manifests": str(tmp_path), "cluster": "ci"}))
    assert ids == [
        "ci/-/Namespace/tenant-a",
        "ci/tenant-a/Deployment/api",
        "ci/tenant-a/Pod/p",
        "ci/tenant-a/Role/r",
    ]


def test_objects_without_a_namespace_land_in_the_default_one(tmp_path: Path) -> None:
    pod = k.workload("Pod", "p")
    del pod["metadata"]["namespace"]
    write_yaml(tmp_path / "p.yaml", pod)
    ids = {r["id"] for r in collect_all({"manifests": str(tmp_path / "p.yaml")})}
    assert "p/default/Pod/p" in ids  # context defaults to the file's stem
    ids = {r["id"] for r in collect_all({"manifests": str(tmp_path), "default_namespace": "team"})}
    assert f"{tmp_path.name}/team/Pod/p" in ids


def test_a_kubectl_dump_and_a_raw_api_list_are_expanded(tmp_path: Path) -> None:
    dump = k.object_list([k.workload("Deployment", "api"), k.namespace("tenant-a")])
    raw = {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": []}
    pod = k.workload("Pod", "p")
    raw["items"].append({key: v for key, v in pod.items() if key not in ("kind", "apiVersion")})
    dump["items"].append(raw)
    (tmp_path / "dump.json").write_text(json.dumps(dump))
    found = collect_all({"dump": str(tmp_path / "dump.json"), "cluster": "prod"})
    assert sorted(r["id"] for r in found) == [
        "prod/-/Namespace/tenant-a",
        "prod/tenant-a/Deployment/api",
        "prod/tenant-a/Pod/p",
    ]
    conn = connect(K8sTarget(dump=str(tmp_path / "dump.json")), 5.0)
    assert identity(conn) == {
        "context": "dump",
        "source": "dump",
        "path": str(tmp_path / "dump.json"),
        "objects": 3,
        "skipped": {},
    }


def test_every_pod_template_is_judged_and_other_kinds_are_listed_as_skipped(
    tmp_path: Path,
) -> None:
    bare = k.workload("ReplicaSet", "bare")
    web = k.workload("Deployment", "web")
    owned = k.owned(k.workload("ReplicaSet", "web-5d4f"), web)
    orphan = k.owned(k.workload("ReplicaSet", "gone-8c7b"), k.workload("Deployment", "gone"))
    rc = k.workload("ReplicationController", "legacy")
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    docs = [bare, web, owned, orphan, rc, service, widget, dict(widget, metadata={"name": "w2"})]
    (tmp_path / "all.yaml").write_text(yaml.safe_dump_all(docs))
    ids = {r["id"] for r in collect_all({"manifests": str(tmp_path), "cluster": "c"})}
    # A bare ReplicaSet and a ReplicationController run pods: judged. A Deployment's
    # ReplicaSet is judged under its Deployment, when the input holds the Deployment.
    assert {
        "c/tenant-a/ReplicaSet/bare",
        "c/tenant-a/ReplicationController/legacy",
        "c/tenant-a/Deployment/web",
        "c/tenant-a/ReplicaSet/gone-8c7b",
    } <= ids
    assert "c/tenant-a/ReplicaSet/web-5d4f" not in ids
    conn = connect(K8sTarget(manifests=str(tmp_path), cluster="c"), 5.0)
    assert identity(conn)["skipped"] == {"example.com/v1 Widget": 2, "v1 Service": 1}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "kind: Pod\napiVersion: v1\nmetadata: {name: a}\n---\n- just\n- a list\n",
            "bad.yaml:5: expected a Kubernetes object (a mapping); got list",
        ),
        (
            "---\nfoo: bar\n",
            "bad.yaml:2: expected a Kubernetes object with string `apiVersion` and `kind`",
        ),
        (
            "kind: Pod\napiVersion: v1\nmetadata: {namespace: x}\n",
            "bad.yaml:1: Pod has no metadata.name",
        ),
        ("kind: Pod\napiVersion: v1\nmetadata: {name: [unclosed\n", "bad.yaml:4: invalid YAML"),
        ("kind: List\napiVersion: v1\nitems: {a: 1}\n", "List.items must be a list"),
    ],
)
def test_bad_input_names_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(ManifestError) as caught:
        connect(K8sTarget(manifests=str(tmp_path / "bad.yaml")), 5.0)
    assert message in str(caught.value)
    assert str(caught.value).startswith(str(tmp_path / "bad.yaml"))


def test_an_object_defined_twice_is_an_error_naming_both_places(tmp_path: Path) -> None:
    write_yaml(tmp_path / "a.yaml", k.workload("Deployment", "api"))
    write_yaml(tmp_path / "b.yaml", k.namespace("x"), k.workload("Deployment", "api"))
    with pytest.raises(
        ManifestError,
        match=r"b\.yaml:\d+: Deployment tenant-a/api is defined twice; first in .*a\.yaml:1",
    ):
        connect(K8sTarget(manifests=str(tmp_path)), 5.0)


def test_secret_payloads_and_last_applied_copies_never_reach_a_snapshot(tmp_path: Path) -> None:
    secret = k.secret("db", "tenant-a", {"password": SECRET_VALUE})
    secret["data"] = {"password": "czNjcjN0"}
    deployment = k.workload(
        "Deployment",
        "api",
        spec=k.pod_spec(k.container(env=[{"name": "API_KEY", "value": SECRET_VALUE}])),
    )
    deployment["metadata"]["annotations"] = {
        LAST_APPLIED: json.dumps(secret),
        "team": "payments",
    }
    deployment["metadata"]["managedFields"] = [{"manager": "kubectl"}]
    config_map = k.obj("Namespace", "tenant-a", data={"password": SECRET_VALUE})
    write_yaml(tmp_path / "all.yaml", secret, deployment, config_map)
    conn = connect(K8sTarget(manifests=str(tmp_path)), 5.0)
    text = json.dumps([r for t in TYPES for r in registry.collectors()[t].func(conn)])
    assert SECRET_VALUE not in text
    assert "czNjcjN0" not in text
    # what the connection holds: no payloads, no last-applied copy, no managed fields
    # (env literals are redacted as snapshots are made)
    stored = json.dumps(conn.objects("Namespace"))
    assert SECRET_VALUE not in stored
    [stored_deployment] = conn.objects("Deployment")
    assert stored_deployment["metadata"]["annotations"] == {"team": "payments"}
    assert "managedFields" not in stored_deployment["metadata"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"manifests": "{m}", "dump": "{d}"}, "expected exactly one source"),
        ({"context": "prod", "manifests": "{m}"}, "kubeconfig/context and manifests"),
        ({"in_cluster": True, "context": "prod"}, "expected exactly one source"),
        ({"manifests": "/no/such/folder"}, "expected an existing manifest file or folder"),
        ({"dump": "/no/such/file.json"}, "expected an existing file"),
        ({"kubeconfig": "/no/such/kubeconfig"}, "expected an existing file"),
        ({"cluster": "a/b"}, "no `/`"),
        ({"manifests": "{m}", "page_size": 10}, "page_size applies to a live cluster"),
        ({"context": "prod", "default_namespace": "x"}, "default_namespace applies"),
        ({"manifests": "{m}", "default_namespace": "Bad_NS"}, "expected a namespace name"),
        ({"context": "prod", "page_size": 0}, "greater than or equal to 1"),
        ({"contexts": ["a", "b"]}, "Extra inputs are not permitted"),
    ],
)
def test_target_options_are_validated(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    dump = tmp_path / "dump.json"
    dump.write_text("{}")
    paths = {"{m}": str(tmp_path), "{d}": str(dump)}
    options = {key: paths.get(v, v) if isinstance(v, str) else v for key, v in options.items()}
    with pytest.raises(ValidationError, match=message):
        K8sTarget.model_validate(options)


def test_a_missing_context_names_the_ones_there_are(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [
                    {"name": "dev", "context": {"cluster": "c", "user": "u"}},
                    {"name": "prod", "context": {"cluster": "c", "user": "u"}},
                ],
            }
        )
    )
    with pytest.raises(
        LookupError, match=r"context 'stage' is not in kubeconfig .*; expected one of dev, prod"
    ):
        connect(K8sTarget(kubeconfig=str(kubeconfig), context="stage"), 5.0)
    with pytest.raises(
        LookupError, match="has no current-context; set `context` to one of dev, prod"
    ):
        connect(K8sTarget(kubeconfig=str(kubeconfig)), 5.0)
