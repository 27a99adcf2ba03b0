"""RBAC collectors: `k8s.role` (Roles, ClusterRoles) and `k8s.rbac_binding` (their bindings).

Who may do what is a fact about a binding: its subjects get its role's rules. So each
binding snapshot carries the rules of the role it references, resolved here, and the
access checks (`checks.rbac`) are pure functions of one binding. Attributes besides the
shared ones:

- `k8s.role`: `rules` (the API's PolicyRule JSON, every rule) and `aggregated` (whether
  an aggregationRule fills the rules in);
- `k8s.rbac_binding`: `role_ref` (``{"kind", "name"}``), `subjects`
  (``["User:alice", "Group:ops", "ServiceAccount:ns/name"]``) and `role`
  (``{"found", "rules", "source"}``), or a collection error when roles could not be listed.

A binding to a role that does not exist grants nothing in a live cluster (`rules` is
``[]``). In offline input the role may simply live elsewhere: the built-in ClusterRoles
are known (only the rules the checks here read: Secrets and wildcards), any other
missing role has `rules` None, and the checks that need it report `error`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from assay.checks.k8s.connection import K8sConnection, ListDenied
from assay.checks.k8s.kinds import permissions
from assay.checks.k8s.resources import snapshot, subject, unlisted
from assay.checks.registry import collector

ROLE = "k8s.role"
BINDING = "k8s.rbac_binding"
ROLE_PERMISSIONS = permissions("Role", "ClusterRole")
BINDING_PERMISSIONS = permissions("RoleBinding", "ClusterRoleBinding", "Role", "ClusterRole")

_SECRETS_WRITE = ["create", "delete", "deletecollection", "patch", "update"]
# What the default ClusterRoles grant on Secrets, and cluster-admin's wildcards.
BUILTIN_CLUSTER_ROLES: dict[str, list[dict[str, Any]]] = {
    "cluster-admin": [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
        {"nonResourceURLs": ["*"], "verbs": ["*"]},
    ],
    "admin": [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": _SECRETS_WRITE},
    ],
    "edit": [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": _SECRETS_WRITE},
    ],
    "view": [],
}


@collector(ROLE, permissions=ROLE_PERMISSIONS)
def collect_roles(conn: K8sConnection) -> Iterator[dict[str, Any]]:
    """Every Role and ClusterRole, system ones included."""
    for kind in ("Role", "ClusterRole"):
        try:
            objects = conn.objects(kind)
        except ListDenied as denied:
            yield unlisted(conn, ROLE, denied)
            continue
        for obj in objects:
            yield snapshot(
                conn,
                ROLE,
                obj,
                {"rules": obj.get("rules") or [], "aggregated": "aggregationRule" in obj},
            )


@collector(BINDING, permissions=BINDING_PERMISSIONS)
def collect_bindings(conn: K8sConnection) -> Iterator[dict[str, Any]]:
    """Every RoleBinding and ClusterRoleBinding, with its role's rules resolved."""
    roles = _roles(conn)
    for kind in ("RoleBinding", "ClusterRoleBinding"):
        try:
            objects = conn.objects(kind)
        except ListDenied as denied:
            yield unlisted(conn, BINDING, denied)
            continue
        for obj in objects:
            namespace = obj["metadata"].get("namespace") if kind == "RoleBinding" else None
            ref = obj.get("roleRef") or {}
            role_ref = {"kind": str(ref.get("kind", "")), "name": str(ref.get("name", ""))}
            yield snapshot(
                conn,
                BINDING,
                obj,
                {
                    "role_ref": role_ref,
                    "subjects": [subject(s, namespace) for s in obj.get("subjects") or ()],
                    "role": _resolve(conn, roles, role_ref, namespace),
                },
            )


Roles = dict[tuple[str, str | None, str], list[dict[str, Any]]]


def _roles(conn: K8sConnection) -> Roles | ListDenied:
    roles: Roles = {}
    for kind in ("Role", "ClusterRole"):
        try:
            objects = conn.objects(kind)
        except ListDenied as denied:
            return denied
        for obj in objects:
            meta = obj["metadata"]
            roles[(kind, meta.get("namespace"), meta["name"])] = obj.get("rules") or []
    return roles


def _resolve(
    conn: K8sConnection,
    roles: Roles | ListDenied,
    ref: dict[str, str],
    namespace: str | None,
) -> Any:
    if isinstance(roles, ListDenied):
        return roles.marker()
    key = (ref["kind"], namespace if ref["kind"] == "Role" else None, ref["name"])
    if key in roles:
        return {
            "found": True,
            "rules": roles[key],
            "source": "input" if conn.offline else "cluster",
        }
    if not conn.offline:
        return {"found": False, "rules": [], "source": "cluster"}
    if ref["kind"] == "ClusterRole" and ref["name"] in BUILTIN_CLUSTER_ROLES:
        return {"found": False, "rules": BUILTIN_CLUSTER_ROLES[ref["name"]], "source": "built-in"}
    return {"found": False, "rules": None, "source": "input"}
