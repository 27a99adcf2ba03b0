"""The `k8s.workload` collector: Pods and the pod templates of their controllers, one shape.

One resource per controller (Deployment, StatefulSet, DaemonSet, ReplicaSet,
ReplicationController, Job, CronJob), so a Deployment is judged even before (or
without) its Pods, and one per Pod that does not run its controller's template.

Objects owned by a controller in the input fold into the top of their chain (`owners`):
a Pod or an owned ReplicaSet or Job whose spec matches the top's pod template
(`templates`) yields no resource, and the top counts the Pods that matched. One that
differs is judged on its own and says how it differs, except an owned ReplicaSet scaled
to zero or a finished Job (earlier revisions, past runs), which run nothing. An object
whose controller the input does not hold is judged on its own. Attributes, besides the
shared ones:

- `pod_spec`: the API's PodSpec JSON (a CronJob's ``spec.jobTemplate.spec.template.spec``,
  a controller's ``spec.template.spec``, a Pod's ``spec``) with literal env values
  replaced by `valueRedacted` (see `redact`);
- `service_account`: ``{"name", "found", "automount"}`` for the ServiceAccount the pod
  runs as (`automount` is its automountServiceAccountToken, None when unset), or a
  collection error when ServiceAccounts could not be listed;
- `controlled_by`: ``"ReplicaSet/api-7d9f"`` for a Pod a controller owns, else None;
- `template`: for an object judged on its own although a controller in the input owns
  it, ``{"controller": "Deployment/api", "differences": [...]}``, else None;
- `pods`: for a controller, ``{"matching": 3, "differing": ["api-7d9f-x2k4p"]}``, the
  Pods folded into it and those of its Pods judged on their own; None for a Pod.

Its checks: `checks.pods`, `checks.images` and `checks.credentials`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from assay.checks.k8s.collect.owners import Key, Owners, controller_ref, key, runs_nothing
from assay.checks.k8s.collect.templates import differences, view
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
    """Every Pod and workload controller, in every namespace (system ones included), less
    those that fold into their controller."""
    accounts = _service_accounts(conn)
    listed: dict[str, list[dict[str, Any]] | ListDenied] = {}
    for kind in WORKLOAD_KINDS:
        try:
            listed[kind] = conn.objects(kind)
        except ListDenied as denied:
            listed[kind] = denied
    objects = [o for found in listed.values() if not isinstance(found, ListDenied) for o in found]
    specs = {key(obj): pod_spec(obj) for obj in objects}
    placed = place(objects, specs)
    for found in listed.values():
        if isinstance(found, ListDenied):
            yield unlisted(conn, RESOURCE, found)
            continue
        for obj in found:
            at = key(obj)
            if not placed[at].folded:
                yield workload(conn, obj, accounts, spec=specs[at], placement=placed[at])


@dataclass
class Placement:
    """Where one object is judged: on its own (`folded` False) or under its controller."""

    folded: bool = False
    template: dict[str, Any] | None = None  # how it differs from its controller's template
    pods: dict[str, Any] | None = None  # a controller's Pods: matching count, differing names


def place(objects: list[dict[str, Any]], specs: dict[Key, dict[str, Any]]) -> dict[Key, Placement]:
    """The Placement of every object; `specs` are their pod specs, by key."""
    out = {
        key(o): Placement(pods=None if o["kind"] == "Pod" else {"matching": 0, "differing": []})
        for o in objects
    }
    owners = Owners(objects)
    templates: dict[Key, dict[str, Any]] = {}  # the view of each top's template, made once
    for obj in objects:
        top = owners.top(obj)
        if top is None:
            continue
        at, top_key = key(obj), key(top)
        here = out[at]
        if top_key not in templates:
            templates[top_key] = view(specs[top_key])
        statefulset = top_key[2] if top_key[1] == "StatefulSet" else ""
        found = differences(view(specs[at], statefulset), templates[top_key])
        counts = out[top_key].pods
        assert counts is not None  # a top is a controller: Pods own nothing
        is_pod = obj["kind"] == "Pod"
        if not found:
            here.folded = True
            if is_pod:
                counts["matching"] += 1
            continue
        if not is_pod and runs_nothing(obj):
            here.folded = True
            continue
        controller = f"{top['kind']}/{top['metadata']['name']}"
        here.template = {"controller": controller, "differences": found}
        if is_pod:
            counts["differing"].append(obj["metadata"]["name"])
    return out


def workload(
    conn: K8sConnection,
    obj: dict[str, Any],
    accounts: dict[tuple[str, str], Any] | ListDenied,
    *,
    spec: dict[str, Any],
    placement: Placement,
) -> dict[str, Any]:
    """The snapshot of one Pod or controller whose `pod_spec` is `spec`; `accounts` maps
    (namespace, name) to automountServiceAccountToken, or is the denial of listing
    ServiceAccounts."""
    namespace = (obj.get("metadata") or {}).get("namespace") or ""
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    if isinstance(accounts, ListDenied):
        service_account: Any = accounts.marker()
    else:
        wanted = (namespace, account)
        service_account = {
            "name": account,
            "found": wanted in accounts,
            "automount": accounts.get(wanted),
        }
    ref = controller_ref(obj)
    return snapshot(
        conn,
        RESOURCE,
        obj,
        {
            "pod_spec": spec,
            "service_account": service_account,
            "controlled_by": f"{ref.get('kind')}/{ref.get('name')}" if ref else None,
            "template": placement.template,
            "pods": placement.pods,
        },
    )


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    """The object's PodSpec, literal env values, commands and args redacted ({} when none)."""
    spec: Any = obj
    for step in _SPEC_PATHS[obj["kind"]]:
        spec = spec.get(step) if isinstance(spec, dict) else None
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
