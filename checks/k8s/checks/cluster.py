"""Control-plane checks over `k8s.cluster`: audit logging, Secrets encryption at rest and
anonymous requests.

Audit logging and encryption are flags of the kube-apiserver, seen only where it runs as
a pod in kube-system. An EKS control plane is judged where EKS keeps those settings, by
the AWS controls on `aws.eks.cluster`, so here it is not_applicable naming them; manifests
without a kube-apiserver pod say nothing of a cluster (not_applicable); any other cluster
that hides its API server is `error`: assay cannot see, and will not guess.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assay.checks.k8s.collect.cluster import PERMISSIONS, RESOURCE
from assay.checks.k8s.resources import matches
from assay.checks.registry import NoParams, check
from assay.checks.result import Result, attribute

# The AWS controls that judge what an EKS control plane keeps out of the Kubernetes API.
EKS_AUDIT_CONTROL = "aws-eks-control-plane-logging"
EKS_ENCRYPTION_CONTROL = "aws-eks-secrets-encryption"


def _apiservers(resource: dict[str, Any], setting: str, aws_control: str) -> Any:
    """The kube-apiserver pods and their flags, or the verdict when none can show `setting`."""
    attrs = resource["attributes"]
    managed = attrs["managed"]
    if managed is not None and managed["provider"] == "eks":
        arn = attrs["eks_cluster"]
        where = f"aws.eks.cluster {arn}" if arn else "the aws.eks.cluster resources of AWS targets"
        return Result.not_applicable(
            f"the control plane is Amazon EKS's ({managed['evidence']}): {setting} is an EKS "
            f"cluster setting, judged by {aws_control} on {where}",
            managed_by="eks",
            eks_cluster=arn,
            judged_by=aws_control,
        )
    pods: list[dict[str, Any]] = attribute(resource, "apiserver")
    if pods:
        return pods
    if attrs["input"] == "manifests":
        return Result.not_applicable(
            f"the manifests hold no kube-apiserver pod: {setting} belongs to the cluster they "
            "are deployed to"
        )
    return Result.error(
        f"{setting} cannot be observed through the Kubernetes API here: no kube-apiserver pod "
        "in kube-system (a managed control plane, or one run outside the cluster). For EKS, "
        f"name the cluster in the target's eks_cluster and judge it with {aws_control}"
    )


@check("k8s.cluster.audit_logging", resource=RESOURCE, permissions=PERMISSIONS, params=NoParams)
def audit_logging(resource: dict[str, Any], params: NoParams) -> Result:
    """Pass when every kube-apiserver has an audit policy (`--audit-policy-file`: without
    one it records no event at all) and a backend to write to (`--audit-log-path` or
    `--audit-webhook-config-file`)."""
    pods = _apiservers(resource, "audit logging", EKS_AUDIT_CONTROL)
    if isinstance(pods, Result):
        return pods
    gaps: dict[str, list[str]] = {}
    backends: dict[str, list[str]] = {}
    for pod in pods:
        flags = pod["flags"]
        missing = []
        if not flags.get("audit-policy-file"):
            missing.append("--audit-policy-file (without a policy no event is logged)")
        sinks = [
            f"--{name}={flags[name]}"
            for name in ("audit-log-path", "audit-webhook-config-file")
            if flags.get(name)
        ]
        if not sinks:
            missing.append("--audit-log-path or --audit-webhook-config-file")
        if missing:
            gaps[pod["pod"]] = missing
        backends[pod["pod"]] = sinks
    observed = {"apiservers": [p["pod"] for p in pods], "backends": backends}
    if gaps:
        which = "; ".join(f"{pod} lacks {' and '.join(m)}" for pod, m in gaps.items())
        return Result.failed(f"the API server does not write an audit log: {which}", **observed)
    return Result.passed(
        f"every kube-apiserver writes an audit log under a policy ({', '.join(backends)})",
        **observed,
    )


@check(
    "k8s.cluster.secrets_encryption", resource=RESOURCE, permissions=PERMISSIONS, params=NoParams
)
def secrets_encryption(resource: dict[str, Any], params: NoParams) -> Result:
    """Pass when every kube-apiserver runs with `--encryption-provider-config`. The file
    itself is on the control-plane node, out of the API's sight: the reason says so."""
    pods = _apiservers(resource, "Secrets encryption at rest", EKS_ENCRYPTION_CONTROL)
    if isinstance(pods, Result):
        return pods
    configs = {p["pod"]: p["flags"].get("encryption-provider-config") or None for p in pods}
    without = [pod for pod, config in configs.items() if config is None]
    observed = {"encryption_provider_config": configs}
    if without:
        return Result.failed(
            f"{', '.join(without)} runs without --encryption-provider-config: Secrets are stored "
            "in etcd unencrypted",
            **observed,
        )
    files = sorted({c for c in configs.values() if c})
    return Result.passed(
        f"every kube-apiserver encrypts resources at rest per {', '.join(files)}; that file is "
        "on the control-plane node, so whether it lists secrets ahead of the identity "
        "provider is not visible through the API",
        **observed,
    )


class AnonymousParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    require_disabled: bool = Field(
        default=True,
        description="Fail while the API server accepts anonymous requests at all; false "
        "accepts them when they reach only allowed_roles (a control plane that cannot "
        "turn them off).",
    )
    allowed_roles: list[str] = Field(
        default_factory=lambda: [
            "ClusterRole/system:public-info-viewer",
            "ClusterRole/system:discovery",
        ],
        description="Roles (globs over Kind/name) that bindings may grant to "
        "User:system:anonymous or Group:system:unauthenticated: by default Kubernetes' own "
        "discovery grants (/version, the health endpoints, the API's discovery documents, "
        "which clusters created before 1.14 still grant anonymous users).",
    )


def anonymous_state(attrs: dict[str, Any]) -> tuple[bool | None, str]:
    """Whether the API server accepts anonymous requests (None: not observable), and how
    that is known. A live answer wins over flags, which may be stale or partial."""
    probe = attrs.get("anonymous_request") or {}
    status = probe.get("status")
    if status == 401:
        return False, f"GET {probe['path']} without credentials is refused (401)"
    if status in (200, 403):
        return True, (
            f"GET {probe['path']} without credentials is taken as system:anonymous ({status})"
        )
    pods = attrs.get("apiserver")
    if not isinstance(pods, list) or not pods:
        return None, "no request without credentials was made and no kube-apiserver pod is seen"
    on, unknown = [], []
    for pod in pods:
        flags = pod["flags"]
        value = flags.get("anonymous-auth")
        if value is None and flags.get("authentication-config"):
            unknown.append(pod["pod"])  # set in an AuthenticationConfiguration file
        elif value is None or value.lower() != "false":
            on.append(pod["pod"])
    if on:
        return True, f"{', '.join(on)} runs without --anonymous-auth=false (it defaults to true)"
    if unknown:
        where = ", ".join(unknown)
        return None, f"{where} sets anonymous access in its --authentication-config file"
    return False, "every kube-apiserver runs with --anonymous-auth=false"


@check(
    "k8s.cluster.anonymous_auth", resource=RESOURCE, permissions=PERMISSIONS, params=AnonymousParams
)
def anonymous_auth(resource: dict[str, Any], params: AnonymousParams) -> Result:
    """Fail when a binding grants anonymous users a role not allowed, or (with
    `require_disabled`) when the API server accepts anonymous requests."""
    attrs = resource["attributes"]
    bindings: list[dict[str, Any]] = attribute(resource, "anonymous_bindings")
    extra = [b for b in bindings if not matches(b["role"], params.allowed_roles)]
    enabled, how = anonymous_state(attrs)
    observed = {
        "accepts_anonymous": enabled,
        "evidence": how,
        "bindings": [f"{b['binding']} -> {b['role']}" for b in bindings],
    }
    if extra:
        grants = ", ".join(f"{b['binding']} grants {b['role']}" for b in extra)
        return Result.failed(
            f"anonymous users are granted more than allowed_roles: {grants}", **observed
        )
    if enabled is False:
        return Result.passed(f"the API server refuses anonymous requests: {how}", **observed)
    if enabled and params.require_disabled:
        return Result.failed(f"the API server accepts anonymous requests: {how}", **observed)
    if enabled:
        return Result.passed(
            f"the API server accepts anonymous requests ({how}), which reach only allowed_roles",
            **observed,
        )
    if attrs["input"] == "manifests":
        return Result.not_applicable(
            "no binding in the manifests grants anonymous users anything beyond allowed_roles; "
            "whether the API server accepts anonymous requests is the cluster's to show",
            **observed,
        )
    if params.require_disabled:
        return Result.error(
            f"whether the API server accepts anonymous requests cannot be observed ({how}); "
            "run against the live cluster, which is asked without credentials",
            **observed,
        )
    return Result.passed(
        "no binding grants anonymous users anything beyond allowed_roles", **observed
    )
