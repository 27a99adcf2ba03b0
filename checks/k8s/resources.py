"""What every Kubernetes resource snapshot and check shares.

Ids are ``<context>/<namespace>/<Kind>/<name>``, with ``-`` as the namespace of
cluster-scoped objects (``prod/-/ClusterRole/ops``); names are ``<Kind>/<namespace>/<name>``.
Every snapshot carries `kind`, `namespace` (None when cluster-scoped), `name` and
`labels` attributes. A kind the API would not list becomes one placeholder resource
(``prod/*/Deployment/*``) whose `unlisted` attribute is the collection error, so every
control over that kind reports `error` naming the verb and resource, once per target.
"""

from __future__ import annotations

import re
from fnmatch import translate
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assay.checks.k8s.connection import K8sConnection, ListDenied
from assay.checks.k8s.kinds import KINDS
from assay.checks.result import ERROR_KEY, MissingEvidence, Result, describe_error

SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
CLUSTER_SCOPE = "-"


class K8sParams(BaseModel):
    """Params every Kubernetes check takes."""

    model_config = ConfigDict(extra="forbid")

    system_namespaces: list[str] = Field(
        default_factory=lambda: list(SYSTEM_NAMESPACES),
        description="Namespaces (globs) whose objects are reported not_applicable.",
    )


def matches(value: str, patterns: list[str]) -> bool:
    """Whether `value` matches one of the globs (`*`, `?`, `[...]`; case-sensitive)."""
    return bool(patterns) and _globs(tuple(patterns)).match(value) is not None


@lru_cache(maxsize=256)
def _globs(patterns: tuple[str, ...]) -> re.Pattern[str]:
    # One regex per param list, compiled once: checks run this for every resource.
    return re.compile("|".join(f"(?:{translate(p)})" for p in patterns))


def snapshot(
    conn: K8sConnection, rtype: str, obj: dict[str, Any], attributes: dict[str, Any]
) -> dict[str, Any]:
    """The resource snapshot of API object `obj`, with the shared attributes first."""
    meta = obj.get("metadata") or {}
    kind = obj["kind"]
    name = meta["name"]
    namespace = meta.get("namespace") if KINDS[kind].namespaced else None
    scope: dict[str, Any] = {"provider": "k8s", "context": conn.context}
    if namespace is not None:
        scope["namespace"] = namespace
    out: dict[str, Any] = {
        "type": rtype,
        "id": f"{conn.context}/{namespace or CLUSTER_SCOPE}/{kind}/{name}",
        "name": f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}",
        "scope": scope,
        "attributes": {
            "kind": kind,
            "namespace": namespace,
            "name": name,
            "labels": meta.get("labels") or {},
            **attributes,
        },
    }
    source = conn.source_of(obj)
    if source is not None:
        out["source"] = source  # reports (SARIF) point at the manifest line
    return out


def subject(s: dict[str, Any], namespace: str | None) -> str:
    """A binding's subject as ``User:alice``, ``Group:ops``, ``ServiceAccount:ns/name`` (a
    ServiceAccount subject without a namespace is the binding's own namespace's)."""
    kind = s.get("kind", "")
    if kind == "ServiceAccount":
        return f"ServiceAccount:{s.get('namespace') or namespace or ''}/{s.get('name', '')}"
    return f"{kind}:{s.get('name', '')}"


def input_of(conn: K8sConnection) -> str:
    """What the target reads: ``cluster`` (live), ``dump``, ``manifests``, or ``objects``
    (handed over in memory). Manifests show what is deployed, not what the cluster holds."""
    return str(conn.identity().get("source", "objects")) if conn.offline else "cluster"


def unlisted(conn: K8sConnection, rtype: str, denied: ListDenied) -> dict[str, Any]:
    """The placeholder standing for every object of a kind the API would not list."""
    kind = denied.kind.kind
    where = "*" if denied.kind.namespaced else CLUSTER_SCOPE
    return {
        "type": rtype,
        "id": f"{conn.context}/{where}/{kind}/*",
        "name": f"{kind}/*",
        "scope": {"provider": "k8s", "context": conn.context},
        "attributes": {"kind": kind, "unlisted": denied.marker()},
    }


def applicable(resource: dict[str, Any], params: K8sParams) -> Result | None:
    """not_applicable for an object in a system namespace, else None (judge it).

    Raises MissingEvidence for the placeholder of an unlisted kind.
    """
    attrs = resource["attributes"]
    marker = attrs.get("unlisted")
    if marker is not None and ERROR_KEY in marker:
        raise MissingEvidence(
            f"{attrs['kind']} objects could not be listed: {describe_error(marker)}"
        )
    namespace = attrs.get("namespace")
    if namespace is not None and matches(namespace, params.system_namespaces):
        return Result.not_applicable(
            f"namespace {namespace} is a system namespace (param system_namespaces)",
            namespace=namespace,
        )
    return None
