"""Controller chains: the controller in the input that an object's pods come from.

An object's controller is the ownerReference marked ``controller: true``. Following it
up through the objects in the input (Pod -> ReplicaSet -> Deployment, Pod -> Job ->
CronJob, Pod -> StatefulSet or DaemonSet) gives the object's top: the highest controller
the input holds. The chain stops at an owner the input does not hold (a dump of pods
only; a kind assay does not read, such as a Node for a static pod, or a custom
controller), at an owner of another API group, and at an owner with the same name but
another uid (deleted and created again since).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from assay.checks.k8s.kinds import kind_of

Key = tuple[str, str, str]  # (namespace, kind, name)
_LOOP: dict[str, Any] = {}  # stands for "this chain loops" among controllers


def key(obj: dict[str, Any]) -> Key:
    """The key of an object as a connection holds it (kind and metadata.name checked)."""
    meta = obj["metadata"]
    return (meta.get("namespace") or "", obj["kind"], meta["name"])


def controller_ref(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The object's ownerReference marked as its controller, or None."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("controller"):
            return ref
    return None


class Owners:
    """The workload controllers of one input, indexed by key, to walk controller chains."""

    def __init__(self, objects: Iterable[dict[str, Any]]) -> None:
        # A Pod owns nothing, whatever a hand-written ownerReference says.
        self._by_key = {key(o): o for o in objects if o["kind"] != "Pod"}
        # controller -> the highest controller its chain reaches (itself at the top), or _LOOP
        self._highest: dict[Key, dict[str, Any]] = {}

    def owner(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        """The object's controller, when the input holds that very object."""
        ref = controller_ref(obj)
        if ref is None:
            return None
        kind = str(ref.get("kind"))
        if "apiVersion" in ref and kind_of(str(ref["apiVersion"]), kind) is None:
            return None
        namespace = obj["metadata"].get("namespace") or ""
        found = self._by_key.get((namespace, kind, str(ref.get("name"))))
        if found is None:
            return None
        uid = (found.get("metadata") or {}).get("uid")
        if ref.get("uid") and uid and ref["uid"] != uid:
            return None
        return found

    def top(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        """The highest controller above `obj` that the input holds; None without one, or
        when the chain loops (no controller would be the top: each is judged alone)."""
        seen, chain = {key(obj)}, []
        current = self.owner(obj)
        highest: dict[str, Any] | None = None
        while current is not None:
            at = key(current)
            if at in self._highest:  # the rest of the chain is known
                highest = self._highest[at]
                break
            if at in seen:
                highest = _LOOP
                break
            seen.add(at)
            chain.append(at)
            highest, current = current, self.owner(current)
        if highest is not None:  # every controller on the way reaches the same one
            self._highest.update(dict.fromkeys(chain, highest))
        return None if highest is _LOOP else highest


def runs_nothing(obj: dict[str, Any]) -> bool:
    """An owned ReplicaSet (or ReplicationController) scaled to zero, or a finished Job."""
    kind = obj.get("kind")
    if kind in ("ReplicaSet", "ReplicationController"):
        return (obj.get("spec") or {}).get("replicas") == 0
    if kind == "Job":
        conditions = (obj.get("status") or {}).get("conditions") or ()
        return any(
            isinstance(c, dict)
            and c.get("type") in ("Complete", "Failed")
            and c.get("status") == "True"
            for c in conditions
        )
    return False
