"""Checks over `k8s.namespace`: tenant isolation (resource quotas, default-deny policies)
and the Pod Security Standard each namespace enforces."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from assay.checks.k8s.collect.namespaces import RESOURCE
from assay.checks.k8s.kinds import permissions
from assay.checks.k8s.resources import K8sParams, applicable, matches
from assay.checks.registry import check
from assay.checks.result import Result, attribute

Direction = Literal["Ingress", "Egress"]
_INGRESS: list[Direction] = ["Ingress"]


class TenantParams(K8sParams):
    tenant_namespaces: list[str] = Field(
        default_factory=lambda: ["tenant-*"],
        description="Globs naming tenant namespaces; other namespaces are not_applicable.",
    )


def _tenant(resource: dict[str, Any], params: TenantParams) -> Result | None:
    if (skip := applicable(resource, params)) is not None:
        return skip
    name = resource["attributes"]["namespace"]
    if not matches(name, params.tenant_namespaces):
        return Result.not_applicable(
            f"namespace {name} is not a tenant namespace (param tenant_namespaces: "
            f"{', '.join(params.tenant_namespaces)})",
            namespace=name,
        )
    return None


class QuotaParams(TenantParams):
    required_resources: list[str] = Field(
        default_factory=list,
        description="Resources the quotas must cap between them, e.g. limits.cpu, "
        "limits.memory, pods; empty accepts any quota that caps something.",
    )


@check(
    "k8s.namespace.resource_quota",
    resource=RESOURCE,
    permissions=permissions("Namespace", "ResourceQuota"),
    params=QuotaParams,
)
def resource_quota(resource: dict[str, Any], params: QuotaParams) -> Result:
    """Pass when a tenant namespace has a ResourceQuota capping `required_resources`
    (or, with none required, capping anything: a quota with an empty `hard` caps nothing)."""
    if (skip := _tenant(resource, params)) is not None:
        return skip
    quotas = [q for q in attribute(resource, "resource_quotas") if q["hard"]]
    capped = sorted({key for q in quotas for key in q["hard"]})
    names = [q["name"] for q in quotas]
    if not quotas:
        return Result.failed(
            "the tenant namespace has no ResourceQuota that caps anything", quotas=[]
        )
    missing = [r for r in params.required_resources if r not in capped]
    if missing:
        return Result.failed(
            f"ResourceQuotas {', '.join(names)} do not cap {', '.join(missing)}",
            quotas=names,
            capped=capped,
            missing=missing,
        )
    return Result.passed(
        f"ResourceQuotas {', '.join(names)} cap {', '.join(capped)}", quotas=names, capped=capped
    )


class DefaultDenyParams(TenantParams):
    directions: list[Direction] = Field(
        default_factory=lambda: list(_INGRESS),
        min_length=1,
        description="Traffic that must be denied by default: Ingress, Egress or both.",
    )


def denies_by_default(spec: dict[str, Any]) -> list[str]:
    """The directions a NetworkPolicy denies for every pod of its namespace.

    It must select all pods (an empty podSelector) and, for a direction among its
    policyTypes, allow nothing (no rules). Unset policyTypes mean Ingress, plus Egress
    when the policy has egress rules, as the API defines them.
    """
    selector = spec.get("podSelector") or {}
    if selector.get("matchLabels") or selector.get("matchExpressions"):
        return []
    types = spec.get("policyTypes")
    if types is None:
        types = ["Ingress", *(["Egress"] if spec.get("egress") else [])]
    return [d for d in ("Ingress", "Egress") if d in types and not spec.get(d.lower())]


@check(
    "k8s.namespace.default_deny",
    resource=RESOURCE,
    permissions=permissions("Namespace", "NetworkPolicy"),
    params=DefaultDenyParams,
)
def default_deny(resource: dict[str, Any], params: DefaultDenyParams) -> Result:
    """Pass when NetworkPolicies of a tenant namespace deny every direction in `directions`
    by default, so only traffic another policy allows explicitly gets through."""
    if (skip := _tenant(resource, params)) is not None:
        return skip
    policies = attribute(resource, "network_policies")
    denying: dict[str, list[str]] = {}
    for policy in policies:
        for direction in denies_by_default(policy["spec"]):
            denying.setdefault(direction, []).append(policy["name"])
    missing = [d for d in params.directions if d not in denying]
    observed = {"policies": [p["name"] for p in policies], "denying": denying}
    if missing:
        names = ", ".join(observed["policies"]) or "none"
        return Result.failed(
            f"no NetworkPolicy denies all {' and '.join(missing)} traffic by default "
            f"(policies: {names})",
            **observed,
        )
    which = "; ".join(f"{d}: {', '.join(denying[d])}" for d in params.directions)
    return Result.passed(f"default-deny NetworkPolicies in place ({which})", **observed)


PodSecurityLevel = Literal["baseline", "restricted"]
# Pod Security Standards, least to most restrictive.
LEVELS = ("privileged", "baseline", "restricted")
ENFORCE = "pod-security.kubernetes.io/enforce"


class PodSecurityParams(K8sParams):
    minimum_level: PodSecurityLevel = Field(
        default="baseline",
        description="The least restrictive Pod Security Standard a namespace may enforce: "
        "baseline or restricted.",
    )


@check(
    "k8s.namespace.pod_security",
    resource=RESOURCE,
    permissions=permissions("Namespace"),
    params=PodSecurityParams,
)
def pod_security(resource: dict[str, Any], params: PodSecurityParams) -> Result:
    """Pass when a non-system namespace's `pod-security.kubernetes.io/enforce` label names
    `minimum_level` or a more restrictive one, so Pod Security Admission rejects pods that
    break it. A namespace only inferred from offline input has no labels to read: in
    manifests it is created elsewhere (not_applicable), from a dump it was left out (error)."""
    if (skip := applicable(resource, params)) is not None:
        return skip
    attrs = resource["attributes"]
    name = attrs["namespace"]
    if not attrs["declared"] and attrs["input"] == "manifests":
        return Result.not_applicable(
            f"the manifests deploy into namespace {name} without declaring it: its labels "
            "are set where it is created"
        )
    if not attrs["declared"]:
        return Result.error(
            f"namespace {name} has no Namespace object in the input, so its labels are "
            "unknown (dump namespaces too)"
        )
    labels = attrs["labels"]
    level = labels.get(ENFORCE)
    observed = {
        "enforce": level,
        "labels": {k: v for k, v in labels.items() if k.startswith("pod-security.kubernetes.io/")},
        "minimum_level": params.minimum_level,
    }
    if level is None:
        return Result.failed(
            f"no {ENFORCE} label: pods are admitted at the cluster's default level "
            "(privileged, unless the API server's admission configuration sets another, "
            "which the API does not show)",
            **observed,
        )
    if level not in LEVELS:
        return Result.failed(
            f"{ENFORCE}={level} is not a Pod Security level ({', '.join(LEVELS)})", **observed
        )
    if LEVELS.index(level) < LEVELS.index(params.minimum_level):
        return Result.failed(
            f"{ENFORCE}={level} admits pods below {params.minimum_level} (param minimum_level)",
            **observed,
        )
    return Result.passed(f"Pod Security Admission enforces {level}", **observed)
