"""The Kubernetes provider: importing this package registers its provider, collectors and checks.

Resource types, chosen so that every check is a pure function of one resource:

- `k8s.workload` (`collect.workloads`): the pod template of a Deployment, StatefulSet,
  DaemonSet, Job or CronJob (with the count of Pods that run it), or a Pod that runs
  another spec or whose controller is not in the input, normalised to one PodSpec shape,
  with its ServiceAccount's token setting attached. Judged by `checks.pods`,
  `checks.images` and `checks.credentials`, each registered with `workload_check`;
- `k8s.namespace` (`collect.namespaces`): a namespace with its ResourceQuotas and
  NetworkPolicies attached: the tenant isolation and Pod Security Admission checks,
  `checks.namespaces`;
- `k8s.role` and `k8s.rbac_binding` (`collect.rbac`): roles, and bindings with the rules
  of the role they grant resolved: `checks.rbac`;
- `k8s.cluster` (`collect.cluster`): one per target, the control plane as far as the API
  shows it (the kube-apiserver pods' flags, how the server answers a request without
  credentials, bindings that name anonymous users, whether it is EKS): `checks.cluster`.

Where things go, the same in every provider: `provider` holds the target options (and
here `connection`, `live` and `offline` the connection, to a cluster or to files);
`collect/<family>.py` the collectors of one family of resource types and what only they
use; `checks/<family>.py` the check functions and their params models, importing from
`collect/` only resource type names and declared permissions; modules at this level
what more than one of those uses (`kinds`, `resources`, `containers`, `redact`,
`workload_check`), and `factories` for tests.

Objects in system namespaces are collected and reported not_applicable, never dropped.
Secret payloads and literal env values never enter a snapshot (`redact`).
"""

from assay.checks.k8s import checks, collect
from assay.checks.k8s.connection import K8sConnection, ListDenied
from assay.checks.k8s.offline import ManifestError, OfflineObjects
from assay.checks.k8s.provider import K8sTarget, connect, identity

__all__ = [
    "K8sConnection",
    "K8sTarget",
    "ListDenied",
    "ManifestError",
    "OfflineObjects",
    "checks",
    "collect",
    "connect",
    "identity",
]
