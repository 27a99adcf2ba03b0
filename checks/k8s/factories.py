"""Small factories for Kubernetes objects shaped as the API serves them, and their snapshots.

For tests of checks (ours and plugin authors'), benchmarks and synthetic fixtures:

    from assay.checks.k8s import factories as k
    [r] = k.snapshots(k.workload("Deployment", "api", spec=k.pod_spec(k.container(
        security_context={"privileged": True}))), resource="k8s.workload")

`container()` and `pod_spec()` are compliant with every built-in control by default
(pinned image from ``registry.example.com``, non-root, no escalation, no token), so a
failing fixture states only what it breaks. Every call returns fresh dicts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from assay.checks import registry
from assay.checks.k8s.offline import OfflineObjects

REGISTRY = "registry.example.com"
DIGEST = "sha256:" + "5f0c" * 16
IMAGE = f"{REGISTRY}/shop/api@{DIGEST}"
SAFE_CONTAINER = {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "runAsUser": 10001}
POD_CONTROLS = (
    "k8s-pod-privileged",
    "k8s-pod-host-namespaces",
    "k8s-pod-run-as-non-root",
    "k8s-pod-no-privilege-escalation",
    "k8s-pod-image-provenance",
    "k8s-pod-secret-env-literals",
    "k8s-pod-service-account-token",
)
"""The built-in controls that judge a workload's pod spec."""

_API_VERSIONS = {
    "Pod": "v1",
    "Namespace": "v1",
    "ServiceAccount": "v1",
    "ResourceQuota": "v1",
    "Secret": "v1",
    "Deployment": "apps/v1",
    "ReplicaSet": "apps/v1",
    "ReplicationController": "v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
    "NetworkPolicy": "networking.k8s.io/v1",
    "Role": "rbac.authorization.k8s.io/v1",
    "ClusterRole": "rbac.authorization.k8s.io/v1",
    "RoleBinding": "rbac.authorization.k8s.io/v1",
    "ClusterRoleBinding": "rbac.authorization.k8s.io/v1",
}
_UNSET: Any = object()


def obj(
    kind: str,
    name: str,
    namespace: str | None = None,
    *,
    labels: dict[str, str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Any object: apiVersion, kind, metadata (name, namespace, labels) and `fields`."""
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    return {"apiVersion": _API_VERSIONS[kind], "kind": kind, "metadata": meta, **fields}


def container(
    name: str = "app",
    *,
    image: str = IMAGE,
    security_context: dict[str, Any] | None = _UNSET,
    env: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A container; `security_context` defaults to SAFE_CONTAINER, None leaves it out."""
    out: dict[str, Any] = {"name": name, "image": image, **fields}
    sc = dict(SAFE_CONTAINER) if security_context is _UNSET else security_context
    if sc is not None:
        out["securityContext"] = dict(sc)
    if env is not None:
        out["env"] = [dict(e) for e in env]
    return out


def pod_spec(
    *containers: dict[str, Any],
    init: Iterable[dict[str, Any]] = (),
    ephemeral: Iterable[dict[str, Any]] = (),
    security_context: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A PodSpec (one default container if none given; token not mounted unless `fields`
    set automountServiceAccountToken, which None removes)."""
    spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "containers": list(containers) or [container()],
        **fields,
    }
    if spec["automountServiceAccountToken"] is None:
        del spec["automountServiceAccountToken"]
    if init := list(init):
        spec["initContainers"] = init
    if ephemeral := list(ephemeral):
        spec["ephemeralContainers"] = ephemeral
    if security_context is not None:
        spec["securityContext"] = dict(security_context)
    return spec


def workload(
    kind: str, name: str, namespace: str = "tenant-a", *, spec: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A Pod, or a controller (Deployment ... CronJob) with `spec` as its pod template."""
    spec = spec if spec is not None else pod_spec()
    template = {"metadata": {"labels": {"app": name}}, "spec": spec}
    if kind == "Pod":
        return obj("Pod", name, namespace, spec=spec)
    if kind == "CronJob":
        body = {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": template}}}
        return obj(kind, name, namespace, spec=body)
    selector = {"matchLabels": {"app": name}}
    if kind == "Job":
        return obj(kind, name, namespace, spec={"template": template})
    return obj(kind, name, namespace, spec={"selector": selector, "template": template})


def apiserver_pod(
    node: str = "control-plane", *flags: str, namespace: str = "kube-system"
) -> dict[str, Any]:
    """The mirror pod of a kube-apiserver static pod on `node`, run with `flags`
    (``--name=value`` words), labelled as kubeadm labels it."""
    spec = pod_spec(
        container(
            "kube-apiserver",
            image="registry.k8s.io/kube-apiserver:v1.31.4",
            security_context=None,
            command=["kube-apiserver", *flags],
        ),
        hostNetwork=True,
    )
    labels = {"component": "kube-apiserver", "tier": "control-plane"}
    return obj("Pod", f"kube-apiserver-{node}", namespace, labels=labels, spec=spec)


def owned(obj: dict[str, Any], owner: dict[str, Any]) -> dict[str, Any]:
    """`obj` with `owner` as its controller, as the controller writes the ownerReference
    (with the owner's uid when it has one); returns `obj`."""
    meta = owner["metadata"]
    ref: dict[str, Any] = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": meta["name"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    if meta.get("uid"):
        ref["uid"] = meta["uid"]
    obj["metadata"]["ownerReferences"] = [ref]
    return obj


def service_account(name: str, namespace: str, automount: bool | None = None) -> dict[str, Any]:
    fields: dict[str, Any] = (
        {} if automount is None else {"automountServiceAccountToken": automount}
    )
    return obj("ServiceAccount", name, namespace, **fields)


def namespace(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return obj("Namespace", name, labels=labels)


def resource_quota(name: str, namespace: str, hard: dict[str, str] | None = None) -> dict[str, Any]:
    hard = {"requests.cpu": "4", "limits.memory": "8Gi"} if hard is None else hard
    return obj("ResourceQuota", name, namespace, spec={"hard": dict(hard)})


def network_policy(
    name: str,
    namespace: str,
    *,
    pod_selector: dict[str, Any] | None = None,
    policy_types: list[str] | None = None,
    ingress: list[dict[str, Any]] | None = None,
    egress: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A NetworkPolicy; with no arguments beyond its name, a default-deny of Ingress."""
    spec: dict[str, Any] = {"podSelector": pod_selector or {}}
    spec["policyTypes"] = ["Ingress"] if policy_types is None else policy_types
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    return obj("NetworkPolicy", name, namespace, spec=spec)


def rule(
    verbs: list[str],
    resources: list[str],
    api_groups: list[str] | None = None,
    resource_names: list[str] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "apiGroups": [""] if api_groups is None else api_groups,
        "resources": resources,
        "verbs": verbs,
    }
    if resource_names:
        out["resourceNames"] = resource_names
    return out


def role(name: str, rules: list[dict[str, Any]], namespace: str | None = None) -> dict[str, Any]:
    """A Role in `namespace`, or a ClusterRole without one."""
    kind = "Role" if namespace else "ClusterRole"
    return obj(kind, name, namespace, rules=rules)


def binding(
    name: str,
    role_name: str,
    subjects: list[dict[str, Any]],
    namespace: str | None = None,
    *,
    role_kind: str = "ClusterRole",
) -> dict[str, Any]:
    """A RoleBinding in `namespace`, or a ClusterRoleBinding without one."""
    kind = "RoleBinding" if namespace else "ClusterRoleBinding"
    ref = {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name}
    return obj(kind, name, namespace, roleRef=ref, subjects=subjects)


def user(name: str) -> dict[str, Any]:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name}


def group(name: str) -> dict[str, Any]:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": name}


def service_account_subject(name: str, namespace: str) -> dict[str, Any]:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def secret(name: str, namespace: str, string_data: dict[str, str]) -> dict[str, Any]:
    return obj("Secret", name, namespace, type="Opaque", stringData=dict(string_data))


def object_list(items: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """What ``kubectl get ... -o json`` prints: a List of the items."""
    return {"apiVersion": "v1", "kind": "List", "metadata": {}, "items": list(items)}


def snapshots(
    *objects: dict[str, Any], resource: str, context: str = "test"
) -> list[dict[str, Any]]:
    """The snapshots the registered collector of `resource` makes of `objects`, as from
    offline input (context `context`)."""
    conn = OfflineObjects(((f"object {i}", o) for i, o in enumerate(objects)), context=context)
    return list(registry.collectors()[resource].func(conn))
