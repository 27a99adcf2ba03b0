"""The Kubernetes kinds assay reads: where each is listed, and the RBAC permission that takes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """One object kind, with the typed client call that lists it across all namespaces."""

    kind: str
    group: str  # "" is the core API group
    plural: str
    namespaced: bool
    api: str  # class in kubernetes.client
    method: str  # its list method, across all namespaces for namespaced kinds

    @property
    def resource(self) -> str:
        """``pods``, ``deployments.apps``: the name `kubectl auth can-i list` takes."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def permission(self) -> str:
        """The RBAC grant collection needs, as ``verb:resource.group``."""
        return f"list:{self.resource}"


_KINDS = (
    Kind("Pod", "", "pods", True, "CoreV1Api", "list_pod_for_all_namespaces"),
    Kind(
        "Deployment", "apps", "deployments", True, "AppsV1Api", "list_deployment_for_all_namespaces"
    ),
    Kind(
        "StatefulSet",
        "apps",
        "statefulsets",
        True,
        "AppsV1Api",
        "list_stateful_set_for_all_namespaces",
    ),
    Kind(
        "DaemonSet", "apps", "daemonsets", True, "AppsV1Api", "list_daemon_set_for_all_namespaces"
    ),
    Kind(
        "ReplicaSet",
        "apps",
        "replicasets",
        True,
        "AppsV1Api",
        "list_replica_set_for_all_namespaces",
    ),
    Kind(
        "ReplicationController",
        "",
        "replicationcontrollers",
        True,
        "CoreV1Api",
        "list_replication_controller_for_all_namespaces",
    ),
    Kind("Job", "batch", "jobs", True, "BatchV1Api", "list_job_for_all_namespaces"),
    Kind("CronJob", "batch", "cronjobs", True, "BatchV1Api", "list_cron_job_for_all_namespaces"),
    Kind(
        "ServiceAccount",
        "",
        "serviceaccounts",
        True,
        "CoreV1Api",
        "list_service_account_for_all_namespaces",
    ),
    Kind("Namespace", "", "namespaces", False, "CoreV1Api", "list_namespace"),
    Kind(
        "ResourceQuota",
        "",
        "resourcequotas",
        True,
        "CoreV1Api",
        "list_resource_quota_for_all_namespaces",
    ),
    Kind(
        "NetworkPolicy",
        "networking.k8s.io",
        "networkpolicies",
        True,
        "NetworkingV1Api",
        "list_network_policy_for_all_namespaces",
    ),
    Kind(
        "Role",
        "rbac.authorization.k8s.io",
        "roles",
        True,
        "RbacAuthorizationV1Api",
        "list_role_for_all_namespaces",
    ),
    Kind(
        "ClusterRole",
        "rbac.authorization.k8s.io",
        "clusterroles",
        False,
        "RbacAuthorizationV1Api",
        "list_cluster_role",
    ),
    Kind(
        "RoleBinding",
        "rbac.authorization.k8s.io",
        "rolebindings",
        True,
        "RbacAuthorizationV1Api",
        "list_role_binding_for_all_namespaces",
    ),
    Kind(
        "ClusterRoleBinding",
        "rbac.authorization.k8s.io",
        "clusterrolebindings",
        False,
        "RbacAuthorizationV1Api",
        "list_cluster_role_binding",
    ),
)

KINDS: dict[str, Kind] = {k.kind: k for k in _KINDS}

# Pods, and the controllers whose pod template becomes Pods.
WORKLOAD_KINDS = (
    "Pod",
    "Deployment",
    "ReplicaSet",
    "ReplicationController",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
)


def kind_of(api_version: str, kind: str) -> Kind | None:
    """The known Kind of an object's apiVersion and kind, or None for kinds assay does not read.

    Only the API group is compared, so older versions of a kind (``batch/v1beta1``
    CronJobs in an old manifest) still count; a same-named kind of another group does not.
    """
    known = KINDS.get(kind)
    group = api_version.rpartition("/")[0]
    if known is None or group != known.group:
        return None
    return known


def permissions(*kinds: str) -> list[str]:
    """The list permissions of `kinds`, for a collector's or check's declaration."""
    return [KINDS[k].permission for k in kinds]
