"""The `k8s.workload` collector: Pods and the pod templates of their controllers, one shape.

One resource per Pod, Deployment, StatefulSet, DaemonSet, Job and CronJob, so a
Deployment is judged even before (or without) its Pods, and a Pod is judged as it
runs, whatever template it came from. Attributes, besides the shared ones:

- `pod_spec`: the API's PodSpec JSON (a CronJob's ``spec.jobTemplate.spec.template.spec``,
  a controller's ``spec.template.spec``, a Pod's ``spec``) with literal env values
  replaced by `valueRedacted` (see `redact`);
- `service_account`: ``{"name", "found", "automount"}`` for the ServiceAccount the pod
  runs as (`automount` is its automountServiceAccountToken, None when unset), or a
  collection error when ServiceAccounts could not be listed;
- `controlled_by`: ``"ReplicaSet/api-7d9f"`` for a Pod a controller owns, else None.

Its checks: `checks.pods`, `checks.images` and `checks.credentials`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from assay.checks.k8s.connection import K8sConnection, ListDenied
from assay.checks.k8s.containers import CONTAINER_FIELDS
from assay.checks.k8s.kinds import WORKLOAD_KINDS, permissions
from assay.checks.k8s.redact import redact_args, redact_env
from assay.checks.k8s.resources import snapshot, unlisted
from assay.checks.registry import collector

RESOURCE = "k8s.workload"
PERMISSIONS = permissions(*WORKLOAD_KINDS)

# Where each kind keeps the PodSpec its pods run with.
_SPEC_PATHS = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


@collector(RESOURCE, permissions=[*PERMISSIONS, *permissions("ServiceAccount")])
def collect_workloads(conn: K8sConnection) -> Iterator[dict[str, Any]]:
    """Every Pod and workload controller, in every namespace (system ones included)."""
    accounts = _service_accounts(conn)
    for kind in WORKLOAD_KINDS:
        try:
            objects = conn.objects(kind)
        except ListDenied as denied:
            yield unlisted(conn, RESOURCE, denied)
            continue
        for obj in objects:
            # A Deployment's ReplicaSets run its template: judged under the Deployment.
            if kind == "ReplicaSet" and _controller(obj) is not None:
                continue
            yield workload(conn, obj, accounts)


def workload(
    conn: K8sConnection, obj: dict[str, Any], accounts: dict[tuple[str, str], Any] | ListDenied
) -> dict[str, Any]:
    """The snapshot of one Pod or controller; `accounts` maps (namespace, name) to
    automountServiceAccountToken, or is the denial of listing ServiceAccounts."""
    spec = pod_spec(obj)
    namespace = (obj.get("metadata") or {}).get("namespace") or ""
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    if isinstance(accounts, ListDenied):
        service_account: Any = accounts.marker()
    else:
        key = (namespace, account)
        service_account = {
            "name": account,
            "found": key in accounts,
            "automount": accounts.get(key),
        }
    return snapshot(
        conn,
        RESOURCE,
        obj,
        {
            "pod_spec": spec,
            "service_account": service_account,
            "controlled_by": _controller(obj),
        },
    )


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    """The object's PodSpec, literal env values, commands and args redacted ({} when none)."""
    spec: Any = obj
    for key in _SPEC_PATHS[obj["kind"]]:
        spec = spec.get(key) if isinstance(spec, dict) else None
    if not isinstance(spec, dict):
        return {}
    out = dict(spec)
    for field, _ in CONTAINER_FIELDS:
        if isinstance(spec.get(field), list):
            out[field] = [_redacted(c) for c in spec[field]]
    return out


def _redacted(container: Any) -> Any:
    if not isinstance(container, dict):
        return container
    out = dict(container)
    if "env" in out:
        out["env"] = redact_env(out["env"])
    for words in ("command", "args"):
        if words in out:
            out[words] = redact_args(out[words])
    return out


def _service_accounts(conn: K8sConnection) -> dict[tuple[str, str], Any] | ListDenied:
    try:
        found = conn.objects("ServiceAccount")
    except ListDenied as denied:
        return denied
    return {
        (sa["metadata"].get("namespace", ""), sa["metadata"]["name"]): sa.get(
            "automountServiceAccountToken"
        )
        for sa in found
    }


def _controller(obj: dict[str, Any]) -> str | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("controller"):
            return f"{ref.get('kind')}/{ref.get('name')}"
    return None
