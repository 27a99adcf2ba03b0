"""How a Pod's spec differs from the pod template of the controller that made it.

Only what the workload checks judge is compared, each side reduced to a view first:

- per container (regular, init, ephemeral; matched by name): image, securityContext,
  env (by name: where the value comes from and, for a literal, its redacted shape),
  envFrom, command, args, volumeMounts (by mount path);
- per pod: hostNetwork, hostPID, hostIPC, hostUsers, shareProcessNamespace, the effective
  serviceAccountName, automountServiceAccountToken, securityContext, volumes (by name).

Everything else is left out, so what the API server, its admission plugins and the
controllers fill in does not count: terminationMessagePath, imagePullPolicy, dnsPolicy,
restartPolicy, schedulerName, tolerations, nodeName, priority, resources (LimitRanger),
hostname and subdomain (StatefulSet). So are values equal to their API default
(``hostNetwork: false``, ``defaultMode: 420``, an empty securityContext), the service
account token volume the admission adds (``kube-api-access-*``, projected) with its
mounts, and the claims a StatefulSet makes from its volumeClaimTemplates.

Specs reach here redacted (`redact`): a difference names a field and never a literal
value: ``containers[web].image: nginx:1.25 (template: nginx:1.27)``,
``container "istio-proxy" added (privileged)``, ``containers[web].env[API_KEY]: literal
(template: from secretKeyRef api-db/password)``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from assay.checks.k8s.containers import CONTAINER_FIELDS

# Set on the pod but not on the template: the projected token volume of the
# ServiceAccount admission plugin (BoundServiceAccountTokenVolume, Kubernetes >= 1.21).
_TOKEN_VOLUME = re.compile(r"^kube-api-access-[a-z0-9]+$")
# (key, value) pairs the API server writes wherever they apply: a field at its default.
_API_DEFAULTS = (("defaultMode", 420), ("apiVersion", "v1"), ("divisor", "0"), ("type", ""))
# Pod booleans whose unset value is the one given here.
_POD_FLAGS = (
    ("hostNetwork", False),
    ("hostPID", False),
    ("hostIPC", False),
    ("hostUsers", True),
    ("shareProcessNamespace", False),
)
_WORDS = ("envFrom", "command", "args")  # compared whole; their values are never shown
_SHOWN = 60  # characters of a structured value a difference shows at most

_UNSET: Any = object()


def differences(pod: dict[str, Any], template: dict[str, Any]) -> list[str]:
    """What differs between the `view`s of a pod's spec and of its template, in a stable
    order: containers (in the pod's order, then those only the template has), pod fields,
    volumes."""
    if pod == template:
        return []
    out: list[str] = []
    for field, label in CONTAINER_FIELDS:
        _entries(
            out,
            field,
            pod[field],
            template[field],
            changed=_container,
            detail=_privileged,
            label=label,
        )
    for key in ("serviceAccountName", "automountServiceAccountToken", *(f for f, _ in _POD_FLAGS)):
        _leaves(out, key, pod.get(key, _UNSET), template.get(key, _UNSET))
    _leaves(out, "securityContext", pod["securityContext"], template["securityContext"])
    _entries(
        out,
        "volumes",
        pod["volumes"],
        template["volumes"],
        changed=_leaves,
        detail=_volume_source,
        label="volume",
    )
    # Every part of a view is rendered above; should one ever not be, the pod must still
    # not fold into a template it does not run.
    return out or ["the pod spec differs"]


def view(spec: dict[str, Any], statefulset: str = "") -> dict[str, Any]:
    """The parts of PodSpec `spec` the checks judge, defaults and injected volumes left out.

    `statefulset` names the StatefulSet a pod belongs to: the claim volumes it gives its
    pods (``<claim template>-<statefulset>-<ordinal>``) are not in its template.
    """
    volumes = _by_key(spec.get("volumes"), "name")
    tokens = {name for name, v in volumes.items() if _TOKEN_VOLUME.match(name) and "projected" in v}
    out: dict[str, Any] = {
        field: {
            name: _container_view(c, tokens) for name, c in _by_key(spec.get(field), "name").items()
        }
        for field, _ in CONTAINER_FIELDS
    }
    for key, unset in _POD_FLAGS:
        if spec.get(key) is not None and spec[key] != unset:
            out[key] = spec[key]
    # Unset, the pod runs as `default`; `serviceAccount` is the deprecated spelling.
    out["serviceAccountName"] = spec.get("serviceAccountName") or spec.get("serviceAccount")
    out["serviceAccountName"] = out["serviceAccountName"] or "default"
    if spec.get("automountServiceAccountToken") is not None:
        out["automountServiceAccountToken"] = spec["automountServiceAccountToken"]
    out["securityContext"] = _pruned(spec.get("securityContext"))
    out["volumes"] = {
        name: _pruned({k: v for k, v in vol.items() if k != "name"})
        for name, vol in volumes.items()
        if name not in tokens and not _claimed(name, vol, statefulset)
    }
    return out


def _claimed(name: str, volume: dict[str, Any], statefulset: str) -> bool:
    """Whether `volume` is the claim StatefulSet `statefulset` made for its pod from the
    volumeClaimTemplate `name` (its mounts are in the template: they stay)."""
    claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
    return (
        bool(statefulset) and isinstance(claim, str) and claim.startswith(f"{name}-{statefulset}-")
    )


def _container_view(c: dict[str, Any], tokens: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "image": c.get("image"),
        "securityContext": _pruned(c.get("securityContext")),
    }
    out["env"] = {name: _pruned(e) for name, e in _by_key(c.get("env"), "name").items()}
    for key in _WORDS:
        if c.get(key):
            out[key] = c[key]
    mounts = _by_key(c.get("volumeMounts"), "mountPath")
    out["volumeMounts"] = {
        path: _pruned({k: v for k, v in m.items() if k != "mountPath"})
        for path, m in mounts.items()
        if m.get("name") not in tokens
    }
    return out


def _by_key(items: Any, key: str) -> dict[str, dict[str, Any]]:
    """List entries by `key` (a container's name, a mount's path), in list order."""
    if not isinstance(items, list):
        return {}
    return {str(i.get(key, "?")): i for i in items if isinstance(i, dict)}


def _pruned(value: Any) -> Any:
    """`value` without None, empty mappings and lists, `readOnly: false` and API defaults."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = _pruned(v)
            if v is None or (k, v) in _API_DEFAULTS or (k == "readOnly" and v is False):
                continue
            out[k] = v
        return out or None
    if isinstance(value, list):
        return [_pruned(v) for v in value] or None
    return value


def _entries(
    out: list[str],
    path: str,
    pod: dict[str, Any],
    template: dict[str, Any],
    *,
    changed: Callable[[list[str], str, Any, Any], None],
    detail: Callable[[Any], str] = lambda entry: "",
    label: str = "",
) -> None:
    """Entries keyed by name: added, changed, then removed (only the template has them).
    An entry is called ``<label> "<name>"`` when `label` is given, else ``<path>[<name>]``."""

    def named(name: str) -> str:
        return f"{label} {json.dumps(name)}" if label else f"{path}[{name}]"

    for name, entry in pod.items():
        if name not in template:
            out.append(f"{named(name)} added{detail(entry)}")
        elif entry != template[name]:
            changed(out, f"{path}[{name}]", entry, template[name])
    out.extend(f"{named(name)} removed" for name in template if name not in pod)


def _privileged(c: dict[str, Any]) -> str:
    return " (privileged)" if (c["securityContext"] or {}).get("privileged") is True else ""


def _volume_source(volume: Any) -> str:
    return f" ({', '.join(sorted(volume or {})) or 'empty'})"


def _container(out: list[str], path: str, pod: dict[str, Any], template: dict[str, Any]) -> None:
    _leaves(out, f"{path}.image", pod["image"], template["image"])
    _leaves(out, f"{path}.securityContext", pod["securityContext"], template["securityContext"])
    _entries(
        out,
        f"{path}.env",
        pod["env"],
        template["env"],
        changed=_env,
        detail=lambda e: f" ({_env_source(e)})",
    )
    out.extend(f"{path}.{key} differ" for key in _WORDS if pod.get(key) != template.get(key))
    _entries(
        out,
        f"{path}.volumeMounts",
        pod["volumeMounts"],
        template["volumeMounts"],
        changed=_leaves,
        detail=lambda m: f" (volume {(m or {}).get('name', '?')})",
    )


def _env(out: list[str], path: str, pod: Any, template: Any) -> None:
    now, then = _env_source(pod), _env_source(template)
    out.append(
        f"{path}: literal value differs" if now == then else f"{path}: {now} (template: {then})"
    )


def _env_source(entry: Any) -> str:
    """Where an env variable's value comes from; a literal only as ``literal``."""
    entry = entry or {}
    if "valueRedacted" in entry:
        return "literal"
    source = entry.get("valueFrom") or {}
    for kind, ref in source.items():
        ref = ref or {}
        what = ref.get("fieldPath") or ref.get("resource") or ref.get("key", "")
        where = f"{ref['name']}/{what}" if ref.get("name") else what
        return f"from {kind} {where}".rstrip()
    return "empty"


def _leaves(out: list[str], path: str, pod: Any, template: Any) -> None:
    """One difference per leaf: mappings are walked (unset counts as empty), anything else
    is shown whole."""
    if pod == template or (pod in (None, _UNSET) and template in (None, _UNSET)):
        return
    if isinstance(pod, dict) or isinstance(template, dict):
        p = pod if isinstance(pod, dict) else {}
        t = template if isinstance(template, dict) else {}
        if p or t:
            for key in _union(p, t):
                _leaves(out, f"{path}.{key}", p.get(key, _UNSET), t.get(key, _UNSET))
            return
    out.append(f"{path}: {_show(pod)} (template: {_show(template)})")


def _union(a: dict[str, Any], b: dict[str, Any]) -> Iterator[str]:
    yield from a
    yield from (k for k in b if k not in a)


def _show(value: Any) -> str:
    if value is _UNSET or value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        text = f"[{', '.join(map(str, value))}]"
    else:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"
