"""RBAC checks: cluster-admin, Secrets read access and default ServiceAccounts per binding,
wildcards per role.

Every rule of a role counts, not just the first that matches: a role whose third rule
is ``verbs: ["*"]`` fails, and the result names each offending rule.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from assay.checks.k8s.collect.rbac import BINDING, BINDING_PERMISSIONS, ROLE, ROLE_PERMISSIONS
from assay.checks.k8s.resources import K8sParams, applicable, matches
from assay.checks.registry import check
from assay.checks.result import Result, attribute

READ_VERBS = frozenset({"get", "list", "watch"})
WildcardField = Literal["verbs", "resources", "apiGroups", "nonResourceURLs"]
_VERBS_AND_RESOURCES: list[WildcardField] = ["verbs", "resources"]


def grants(rule: dict[str, Any], group: str, resource: str, verbs: frozenset[str]) -> bool:
    """Whether `rule` allows one of `verbs` on `resource` of API `group` (wildcards count)."""
    groups = rule.get("apiGroups") or ()
    resources = rule.get("resources") or ()
    rule_verbs = rule.get("verbs") or ()
    return (
        ("*" in groups or group in groups)
        and ("*" in resources or resource in resources)
        and ("*" in rule_verbs or not verbs.isdisjoint(rule_verbs))
    )


def _everything(rule: dict[str, Any]) -> bool:
    """Every verb on every resource of every API group: cluster-admin by another name."""
    return all("*" in (rule.get(key) or ()) for key in ("apiGroups", "resources", "verbs"))


def _reach(attrs: dict[str, Any]) -> str:
    if attrs["kind"] == "RoleBinding":
        return f"in namespace {attrs['namespace']}"
    return "across the cluster"


def _rules(resource: dict[str, Any]) -> list[dict[str, Any]] | Result:
    """The bound role's rules, or an error result when the input does not define them."""
    role = attribute(resource, "role")
    if role["rules"] is None:
        ref = resource["attributes"]["role_ref"]
        return Result.error(
            f"{ref['kind']} {ref['name']} is not in the input; what it grants is unknown "
            "(add its manifest, or check the live cluster)"
        )
    rules: list[dict[str, Any]] = role["rules"]
    return rules


class ClusterAdminParams(K8sParams):
    admin_roles: list[str] = Field(
        default_factory=lambda: ["cluster-admin"],
        description="ClusterRoles that make a subject a cluster administrator.",
    )
    allowed_subjects: list[str] = Field(
        default_factory=lambda: ["Group:system:masters"],
        description="Subjects allowed to hold them, as globs over User:name, Group:name "
        "and ServiceAccount:namespace/name.",
    )


@check(
    "k8s.rbac.cluster_admin",
    resource=BINDING,
    permissions=BINDING_PERMISSIONS,
    params=ClusterAdminParams,
)
def cluster_admin(resource: dict[str, Any], params: ClusterAdminParams) -> Result:
    """Fail when a binding gives an administrator role to a subject not allow-listed.

    A role is an administrator role when `admin_roles` names it, or when one of its rules
    allows every verb on every resource of every API group, whatever it is called.
    """
    if (skip := applicable(resource, params)) is not None:
        return skip
    attrs = resource["attributes"]
    ref = attrs["role_ref"]
    role = f"{ref['kind']} {ref['name']}"
    if ref["kind"] == "ClusterRole" and ref["name"] in params.admin_roles:
        how = f"{role} is an administrator role (param admin_roles)"
    else:
        rules = _rules(resource)
        if isinstance(rules, Result):
            return rules
        full = [i for i, r in enumerate(rules) if _everything(r)]
        if not full:
            return Result.passed(f"{role} is not an administrator role", role=role)
        how = (
            f"{role} allows every verb on every resource ({', '.join(f'rules[{i}]' for i in full)})"
        )
    subjects = attrs["subjects"]
    outsiders = [s for s in subjects if not matches(s, params.allowed_subjects)]
    observed = {"role": role, "subjects": subjects, "not_allowed": outsiders}
    if outsiders:
        return Result.failed(
            f"{how}; bound {_reach(attrs)} to subjects not allow-listed: {', '.join(outsiders)}",
            **observed,
        )
    return Result.passed(f"{how}; bound only to allow-listed subjects", **observed)


class SecretsReadParams(K8sParams):
    allowed_subjects: list[str] = Field(
        default_factory=lambda: [
            "Group:system:masters",
            "User:system:kube-controller-manager",
            "ServiceAccount:kube-system/*",
        ],
        description="Subjects allowed to read Secrets, as globs over User:name, Group:name "
        "and ServiceAccount:namespace/name.",
    )


@check(
    "k8s.rbac.secrets_read",
    resource=BINDING,
    permissions=BINDING_PERMISSIONS,
    params=SecretsReadParams,
)
def secrets_read(resource: dict[str, Any], params: SecretsReadParams) -> Result:
    """Fail when a binding lets a subject not allow-listed get, list or watch Secrets
    (through any rule of its role, wildcards included; `resourceNames` narrows the
    Secrets but is still read access, and is shown)."""
    if (skip := applicable(resource, params)) is not None:
        return skip
    rules = _rules(resource)
    if isinstance(rules, Result):
        return rules
    attrs = resource["attributes"]
    reading: list[dict[str, Any]] = [
        {
            "rule": i,
            "verbs": sorted(set(r.get("verbs") or ()) & (READ_VERBS | {"*"})),
            "resource_names": r.get("resourceNames") or [],
        }
        for i, r in enumerate(rules)
        if grants(r, "", "secrets", READ_VERBS)
    ]
    if not reading:
        return Result.passed("the binding grants no read access to Secrets", rules=len(rules))
    subjects = attrs["subjects"]
    outsiders = [s for s in subjects if not matches(s, params.allowed_subjects)]
    observed = {"grants": reading, "subjects": subjects, "not_allowed": outsiders}
    how = ", ".join(f"rules[{g['rule']}] ({'/'.join(g['verbs'])})" for g in reading)
    if outsiders:
        return Result.failed(
            f"reads Secrets {_reach(attrs)} through {how}; subjects not allow-listed: "
            f"{', '.join(outsiders)}",
            **observed,
        )
    return Result.passed(
        f"reads Secrets {_reach(attrs)} through {how}, only for allow-listed subjects", **observed
    )


class WildcardParams(K8sParams):
    exempt_roles: list[str] = Field(
        default_factory=lambda: ["cluster-admin", "system:*"],
        description="Role names (globs) that are Kubernetes' own and reported not_applicable.",
    )
    fields: list[WildcardField] = Field(
        default_factory=lambda: list(_VERBS_AND_RESOURCES),
        min_length=1,
        description="Rule fields in which `*` fails: verbs, resources, apiGroups, nonResourceURLs.",
    )


@check("k8s.rbac.no_wildcards", resource=ROLE, permissions=ROLE_PERMISSIONS, params=WildcardParams)
def no_wildcards(resource: dict[str, Any], params: WildcardParams) -> Result:
    """Fail when any rule of a non-system Role or ClusterRole uses `*` in `fields`
    (in resources, a subresource wildcard such as ``*/scale`` counts too)."""
    if (skip := applicable(resource, params)) is not None:
        return skip
    attrs = resource["attributes"]
    if matches(attrs["name"], params.exempt_roles):
        return Result.not_applicable(
            f"{attrs['kind']} {attrs['name']} is a Kubernetes default role (param exempt_roles)"
        )
    found: list[str] = []
    for i, rule in enumerate(attribute(resource, "rules")):
        hits = [
            f"rules[{i}].{field} {value}"
            for field in params.fields
            for value in rule.get(field) or ()
            if value == "*" or (field == "resources" and "*" in value)
        ]
        if hits:
            found += hits
    if found:
        return Result.failed(f"wildcards in rules: {', '.join(found)}", wildcards=found)
    return Result.passed("no rule uses a wildcard", fields=list(params.fields))


DEFAULT_ACCOUNT = "default"
# Groups that hold every ServiceAccount of the cluster, or of one namespace.
_ALL_ACCOUNTS = "Group:system:serviceaccounts"


class DefaultAccountParams(K8sParams):
    allowed_roles: list[str] = Field(
        default_factory=lambda: ["ClusterRole/system:service-account-issuer-discovery"],
        description="Roles (globs over Kind/name) that may be bound to default "
        "ServiceAccounts: by default Kubernetes' own grant of the token issuer's discovery "
        "document to every ServiceAccount.",
    )


def default_accounts(subjects: list[str], system_namespaces: list[str]) -> list[str]:
    """The subjects that include a non-system namespace's `default` ServiceAccount: the
    account itself, or a group of every ServiceAccount (of the cluster, or of a namespace)."""
    found = []
    for s in subjects:
        if s == _ALL_ACCOUNTS:
            found.append(s)
        elif s.startswith(_ALL_ACCOUNTS + ":"):
            if not matches(s[len(_ALL_ACCOUNTS) + 1 :], system_namespaces):
                found.append(s)
        elif s.startswith("ServiceAccount:"):
            namespace, _, name = s[len("ServiceAccount:") :].partition("/")
            if name == DEFAULT_ACCOUNT and not matches(namespace, system_namespaces):
                found.append(s)
    return found


@check(
    "k8s.rbac.default_service_account",
    resource=BINDING,
    permissions=BINDING_PERMISSIONS,
    params=DefaultAccountParams,
)
def default_service_account(resource: dict[str, Any], params: DefaultAccountParams) -> Result:
    """Fail when a binding grants a role to a non-system namespace's `default`
    ServiceAccount, which every pod naming no account of its own runs as, whether it names
    the account or a group holding it. Judged by the account's namespace, wherever the
    binding lives; what the role grants does not matter, the binding is the finding."""
    # Only the placeholder of an unlisted kind is decided here: system_namespaces apply
    # to the accounts, not to the namespace the binding is in.
    if (skip := applicable(resource, K8sParams(system_namespaces=[]))) is not None:
        return skip
    attrs = resource["attributes"]
    ref = attrs["role_ref"]
    role = f"{ref['kind']}/{ref['name']}"
    found = default_accounts(attrs["subjects"], params.system_namespaces)
    observed = {"role": role, "default_accounts": found}
    if not found:
        return Result.passed("the binding names no default ServiceAccount", **observed)
    if matches(role, params.allowed_roles):
        return Result.passed(
            f"{role} is allowed for default ServiceAccounts (param allowed_roles)", **observed
        )
    return Result.failed(
        f"binds {role} {_reach(attrs)} to {', '.join(found)}: pods that name no "
        "ServiceAccount of their own get it",
        **observed,
    )
