"""Pod security checks over `k8s.workload`: privileged, host namespaces, root, escalation.

Every container counts: regular, init and ephemeral. Where a setting exists at both
levels, the container's own securityContext wins over the pod's, as the kubelet
decides it; a setting left unset is judged by its Kubernetes default, never as if it
were the safe value.
"""

from __future__ import annotations

from typing import Any

from assay.checks.k8s.containers import containers
from assay.checks.k8s.resources import K8sParams, applicable
from assay.checks.k8s.workload_check import workload_check
from assay.checks.result import Result, attribute

HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")


def _spec(resource: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = attribute(resource, "pod_spec")
    return spec


def _effective(container_sc: dict[str, Any], pod_sc: dict[str, Any], key: str) -> Any:
    """The container's value of `key` if it sets one, else the pod's (None when neither)."""
    value = container_sc.get(key)
    return pod_sc.get(key) if value is None else value


def _summary(bad: list[str], total: int, what: str) -> str:
    return f"{what} ({len(bad)} of {total}): {', '.join(bad)}"


# A spec without containers is malformed input (or a template path we did not find):
# there is nothing to judge, and passing it would be vacuous.
NO_CONTAINERS = Result.error("the pod spec lists no containers; nothing to judge")


@workload_check("k8s.pod.privileged", params=K8sParams)
def privileged(resource: dict[str, Any], params: K8sParams) -> Result:
    """Fail when a container is privileged, or is a Windows HostProcess container."""
    if (skip := applicable(resource, params)) is not None:
        return skip
    spec = _spec(resource)
    pod_windows = (spec.get("securityContext") or {}).get("windowsOptions") or {}
    bad: list[str] = []
    total = 0
    for label, c in containers(spec):
        total += 1
        sc = c.get("securityContext") or {}
        if sc.get("privileged") is True:
            bad.append(label)
        elif _effective(sc.get("windowsOptions") or {}, pod_windows, "hostProcess") is True:
            bad.append(f"{label} (Windows HostProcess)")
    if not total:
        return NO_CONTAINERS
    if bad:
        return Result.failed(_summary(bad, total, "privileged containers"), privileged=bad)
    return Result.passed(f"no privileged container ({total} checked)", containers=total)


@workload_check("k8s.pod.host_namespaces", params=K8sParams)
def host_namespaces(resource: dict[str, Any], params: K8sParams) -> Result:
    """Fail when the pod shares the node's network, process or IPC namespace."""
    if (skip := applicable(resource, params)) is not None:
        return skip
    spec = _spec(resource)
    shared = [key for key in HOST_NAMESPACES if spec.get(key) is True]
    if shared:
        return Result.failed(
            f"the pod shares the node's namespaces: {', '.join(k + ': true' for k in shared)}",
            shared=shared,
        )
    return Result.passed("the pod shares no host namespace", shared=[])


@workload_check("k8s.pod.run_as_non_root", params=K8sParams)
def run_as_non_root(resource: dict[str, Any], params: K8sParams) -> Result:
    """Pass when every container runs as a non-zero UID, or must (runAsNonRoot: true).

    The effective runAsUser and runAsNonRoot are the container's, else the pod's. A UID
    of 0 fails even with runAsNonRoot: true (the kubelet then refuses to start it: the
    spec still asks for root); neither set leaves the image's user, often root.
    """
    if (skip := applicable(resource, params)) is not None:
        return skip
    spec = _spec(resource)
    pod_sc = spec.get("securityContext") or {}
    bad: list[str] = []
    total = 0
    for label, c in containers(spec):
        total += 1
        sc = c.get("securityContext") or {}
        user = _effective(sc, pod_sc, "runAsUser")
        non_root = _effective(sc, pod_sc, "runAsNonRoot")
        if user == 0:
            where = "its own" if sc.get("runAsUser") is not None else "the pod's"
            override = " despite runAsNonRoot: true" if non_root is True else ""
            bad.append(f"{label} (runAsUser: 0 from {where} securityContext{override})")
        elif user is None and non_root is not True:
            bad.append(f"{label} (neither runAsNonRoot: true nor a runAsUser; the image decides)")
    if not total:
        return NO_CONTAINERS
    if bad:
        return Result.failed(_summary(bad, total, "containers that may run as root"), root=bad)
    return Result.passed(f"every container runs as non-root ({total} checked)", containers=total)


@workload_check("k8s.pod.no_privilege_escalation", params=K8sParams)
def no_privilege_escalation(resource: dict[str, Any], params: K8sParams) -> Result:
    """Pass when every container sets allowPrivilegeEscalation: false explicitly.

    Unset means true for a process of the container (setuid binaries can gain privileges),
    so a missing value fails; the field exists only at container level.
    """
    if (skip := applicable(resource, params)) is not None:
        return skip
    bad: list[str] = []
    total = 0
    for label, c in containers(_spec(resource)):
        total += 1
        value = (c.get("securityContext") or {}).get("allowPrivilegeEscalation")
        if value is None:
            bad.append(f"{label} (not set; defaults to true)")
        elif value is not False:
            bad.append(f"{label} (allowPrivilegeEscalation: {str(value).lower()})")
    if not total:
        return NO_CONTAINERS
    if bad:
        return Result.failed(
            _summary(bad, total, "containers that allow privilege escalation"), escalation=bad
        )
    return Result.passed(
        f"every container sets allowPrivilegeEscalation: false ({total} checked)", containers=total
    )
