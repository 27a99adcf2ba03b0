"""Tenant isolation: the `k8s.namespace` collector (its checks: `checks.namespaces`).

A namespace snapshot carries its ResourceQuotas and NetworkPolicies, so each tenant
check is a pure function of one resource. Attributes, besides the shared ones (whose
`namespace` is the namespace's own name):

- `declared`: False for a namespace only inferred from objects in offline input
  (manifests that deploy into ``tenant-b`` without a Namespace manifest for it);
- `input`: what the target reads (`resources.input_of`): an undeclared namespace in
  manifests is one created elsewhere, in a dump one the dump left out;
- `resource_quotas`: ``[{"name", "hard"}]``;
- `network_policies`: ``[{"name", "spec"}]`` with the API's NetworkPolicySpec JSON.

Either list is a collection error instead when its kind could not be listed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from assay.checks.k8s.connection import K8sConnection, ListDenied
from assay.checks.k8s.kinds import permissions
from assay.checks.k8s.resources import input_of, snapshot, unlisted
from assay.checks.registry import collector

RESOURCE = "k8s.namespace"


@collector(RESOURCE, permissions=permissions("Namespace", "ResourceQuota", "NetworkPolicy"))
def collect_namespaces(conn: K8sConnection) -> Iterator[dict[str, Any]]:
    """Every namespace (system ones included), with its quotas and network policies."""
    quotas = _by_namespace(conn, "ResourceQuota", _quota)
    policies = _by_namespace(conn, "NetworkPolicy", _policy)
    try:
        declared = {ns["metadata"]["name"]: ns for ns in conn.objects("Namespace")}
    except ListDenied as denied:
        yield unlisted(conn, RESOURCE, denied)
        return
    inferred = {
        name: {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        for name in conn.inferred_namespaces() - set(declared)
    }
    source = input_of(conn)
    for name, obj in sorted({**declared, **inferred}.items()):
        resource = snapshot(
            conn,
            RESOURCE,
            obj,
            {
                "declared": name in declared,
                "input": source,
                "resource_quotas": _for(quotas, name),
                "network_policies": _for(policies, name),
            },
        )
        resource["attributes"]["namespace"] = name
        resource["scope"]["namespace"] = name
        yield resource


def _by_namespace(
    conn: K8sConnection, kind: str, shape: Callable[[dict[str, Any]], dict[str, Any]]
) -> dict[str, list[dict[str, Any]]] | ListDenied:
    try:
        objects = conn.objects(kind)
    except ListDenied as denied:
        return denied
    out: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        out.setdefault(obj["metadata"]["namespace"], []).append(shape(obj))
    return out


def _for(found: dict[str, list[dict[str, Any]]] | ListDenied, namespace: str) -> Any:
    return found.marker() if isinstance(found, ListDenied) else found.get(namespace, [])


def _quota(obj: dict[str, Any]) -> dict[str, Any]:
    return {"name": obj["metadata"]["name"], "hard": (obj.get("spec") or {}).get("hard") or {}}


def _policy(obj: dict[str, Any]) -> dict[str, Any]:
    return {"name": obj["metadata"]["name"], "spec": obj.get("spec") or {}}
