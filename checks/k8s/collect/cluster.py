"""The `k8s.cluster` collector: one resource per target, the control plane as far as the
Kubernetes API shows it (its checks: `checks.cluster`).

What the API shows depends on who runs the control plane. Where the kube-apiserver runs
as a static pod (kubeadm and most self-managed clusters), its mirror pod in kube-system
carries its flags. A managed control plane (EKS, GKE, AKS) shows no such pod: its audit
log and encryption settings live in the provider's API, which for EKS the AWS controls
read (`aws.eks.cluster`). A live server also shows how it answers a request without
credentials. Attributes, besides the shared ones (`kind` is ``Cluster``, `name` the
target's context):

- `input`: ``cluster`` (live), ``dump``, ``manifests`` or ``objects`` (handed over in memory);
- `server`: live, ``{"host", "version"}`` (the version's error instead when it could not be
  read); None offline;
- `eks_cluster`: the EKS cluster's ARN when the target names it (or its kubeconfig does);
- `managed`: ``{"provider": "eks", "evidence": "..."}`` when the cluster shows it is EKS
  (an ARN, an ``-eks-`` server version, an ``*.eks.amazonaws.com`` endpoint), else None;
- `apiserver`: ``[{"pod": "kube-system/kube-apiserver-cp-1", "flags": {...}}]``, one per
  kube-apiserver pod, with only the flags the checks read (values are file paths and
  booleans); ``[]`` when there is none; a collection error when Pods could not be listed;
- `anonymous_request`: live, ``{"path": "/version", "status": 401}`` (or ``"error"``);
  None offline;
- `anonymous_bindings`: ``[{"binding", "role", "subjects"}]`` for every RoleBinding and
  ClusterRoleBinding naming ``User:system:anonymous`` or ``Group:system:unauthenticated``,
  or a collection error when bindings could not be listed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

from assay.checks.k8s.connection import K8sConnection, ListDenied
from assay.checks.k8s.kinds import permissions
from assay.checks.k8s.resources import CLUSTER_SCOPE, input_of, subject
from assay.checks.registry import collector

RESOURCE = "k8s.cluster"
PERMISSIONS = permissions("Pod", "RoleBinding", "ClusterRoleBinding")
APISERVER = "kube-apiserver"
CONTROL_PLANE_NAMESPACE = "kube-system"
ANONYMOUS_SUBJECTS = ("User:system:anonymous", "Group:system:unauthenticated")

# The kube-apiserver flags the checks read. None of them holds a secret: they are
# booleans and file paths, and no other flag's value is kept.
FLAGS = (
    "anonymous-auth",
    "authentication-config",
    "audit-log-path",
    "audit-policy-file",
    "audit-webhook-config-file",
    "encryption-provider-config",
)
_BOOLEAN_FLAGS = frozenset({"anonymous-auth"})
_EKS_HOST = re.compile(r"\.eks\.amazonaws\.com(\.cn)?(:\d+)?/?$")


@collector(RESOURCE, permissions=PERMISSIONS)
def collect_cluster(conn: K8sConnection) -> Iterator[dict[str, Any]]:
    """The one `k8s.cluster` resource of the target."""
    server = conn.api_server()
    anonymous = server.pop("anonymous", None) if server is not None else None
    yield {
        "type": RESOURCE,
        "id": f"{conn.context}/{CLUSTER_SCOPE}/Cluster/{conn.context}",
        "name": f"Cluster/{conn.context}",
        "scope": {"provider": "k8s", "context": conn.context},
        "attributes": {
            "kind": "Cluster",
            "namespace": None,
            "name": conn.context,
            "labels": {},
            "input": input_of(conn),
            "server": server,
            "eks_cluster": conn.eks_cluster,
            "managed": _managed(conn.eks_cluster, server),
            "apiserver": _apiservers(conn),
            "anonymous_request": anonymous,
            "anonymous_bindings": _anonymous_bindings(conn),
        },
    }


def _managed(eks_cluster: str | None, server: dict[str, Any] | None) -> dict[str, str] | None:
    if eks_cluster is not None:
        return {"provider": "eks", "evidence": f"EKS cluster {eks_cluster}"}
    version = str((server or {}).get("version") or "")
    if "-eks-" in version:
        return {"provider": "eks", "evidence": f"server version {version}"}
    host = str((server or {}).get("host") or "")
    if _EKS_HOST.search(host):
        return {"provider": "eks", "evidence": f"endpoint {host}"}
    return None


def _apiservers(conn: K8sConnection) -> Any:
    try:
        pods = conn.objects("Pod")
    except ListDenied as denied:
        return denied.marker()
    found = []
    for pod in pods:
        meta = pod["metadata"]
        if meta.get("namespace") != CONTROL_PLANE_NAMESPACE:
            continue
        container = _apiserver_container(pod)
        if container is None:
            continue
        words = [str(w) for w in (container.get("command") or []) + (container.get("args") or [])]
        found.append({"pod": f"{meta['namespace']}/{meta['name']}", "flags": flags(words)})
    return sorted(found, key=lambda p: p["pod"])


def _apiserver_container(pod: dict[str, Any]) -> dict[str, Any] | None:
    """The kube-apiserver container of `pod`: by name, else by the program it runs; a pod
    labelled ``component: kube-apiserver`` (as kubeadm labels it) runs it in its first."""
    containers = [c for c in (pod.get("spec") or {}).get("containers") or () if isinstance(c, dict)]
    for container in containers:
        command = container.get("command") or [""]
        if container.get("name") == APISERVER or PurePosixPath(str(command[0])).name == APISERVER:
            return container
    labels = (pod["metadata"].get("labels") or {}).get("component")
    return containers[0] if labels == APISERVER and containers else None


def flags(words: list[str]) -> dict[str, str]:
    """The values of `FLAGS` among a command line's words: ``--name=value``, or
    ``--name value`` for a flag that takes one; a boolean flag alone means true. The last
    occurrence wins, as it does for the API server."""
    out: dict[str, str] = {}
    for i, word in enumerate(words):
        if not word.startswith("--"):
            continue
        name, eq, value = word[2:].partition("=")
        if name not in FLAGS:
            continue
        if not eq:
            following = words[i + 1] if i + 1 < len(words) else ""
            # `--audit-log-path -` (stdout) is a value; `--next-flag` is not.
            if name in _BOOLEAN_FLAGS or following.startswith("--") or not following:
                value = "true" if name in _BOOLEAN_FLAGS else ""
            else:
                value = following
        out[name] = value
    return out


def _anonymous_bindings(conn: K8sConnection) -> Any:
    found = []
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        try:
            objects = conn.objects(kind)
        except ListDenied as denied:
            return denied.marker()
        for obj in objects:
            meta = obj["metadata"]
            namespace = meta.get("namespace") if kind == "RoleBinding" else None
            subjects = [subject(s, namespace) for s in obj.get("subjects") or ()]
            anonymous = [s for s in subjects if s in ANONYMOUS_SUBJECTS]
            if not anonymous:
                continue
            ref = obj.get("roleRef") or {}
            where = f"{namespace}/" if namespace else ""
            found.append(
                {
                    "binding": f"{kind}/{where}{meta['name']}",
                    "role": f"{ref.get('kind', '')}/{ref.get('name', '')}",
                    "subjects": anonymous,
                }
            )
    return found
