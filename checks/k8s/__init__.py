"""The Kubernetes provider: importing this package registers its provider, collectors and checks.

Resource types, chosen so that every check is a pure function of one resource:

- `k8s.workload` (`workloads`): a Pod, or the pod template of a Deployment, StatefulSet,
  DaemonSet, Job or CronJob, normalised to one PodSpec shape, with its ServiceAccount's
  token setting attached. Judged by `pods`, `images` and `credentials`;
- `k8s.namespace` (`namespaces`): a namespace with its ResourceQuotas and
  NetworkPolicies attached: the tenant isolation checks;
- `k8s.role` and `k8s.rbac_binding` (`rbac`): roles, and bindings with the rules of the
  role they grant resolved: `rbac_checks`.

Objects in system namespaces are collected and reported not_applicable, never dropped.
Secret payloads and literal env values never enter a snapshot (`redact`).
"""

from assay.checks.k8s import credentials, images, namespaces, pods, rbac, rbac_checks, workloads
from assay.checks.k8s.connection import K8sConnection, ListDenied
from assay.checks.k8s.offline import ManifestError, OfflineObjects
from assay.checks.k8s.provider import K8sTarget, connect, identity

__all__ = [
    "K8sConnection",
    "K8sTarget",
    "ListDenied",
    "ManifestError",
    "OfflineObjects",
    "connect",
    "credentials",
    "identity",
    "images",
    "namespaces",
    "pods",
    "rbac",
    "rbac_checks",
    "workloads",
]
