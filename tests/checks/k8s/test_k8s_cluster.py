"""Cluster-level controls on offline input: the API server's flags, anonymous bindings,
Pod Security Admission labels and roles bound to default ServiceAccounts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from assay.checks import Status, registry
from assay.checks.k8s import K8sTarget, OfflineObjects, connect
from assay.checks.k8s import factories as k
from assay.checks.k8s.checks.cluster import EKS_AUDIT_CONTROL, EKS_ENCRYPTION_CONTROL
from assay.checks.k8s.collect.cluster import flags
from assay.checks.k8s.connection import ListDenied
from assay.checks.k8s.kinds import KINDS, Kind
from assay.controls import catalog_root
from assay.testing import run_check

P, F, E, N = Status.PASS, Status.FAIL, Status.ERROR, Status.NOT_APPLICABLE
ARN = "arn:aws:eks:eu-west-1:123456789012:cluster/prod"
AUDITED = (
    "--audit-policy-file=/etc/kubernetes/audit-policy.yaml",
    "--audit-log-path=/var/log/kubernetes/audit/audit.log",
)
ENCRYPTED = ("--encryption-provider-config=/etc/kubernetes/enc/config.yaml",)
NO_ANONYMOUS = ("--anonymous-auth=false",)
HARDENED = (*AUDITED, *ENCRYPTED, *NO_ANONYMOUS)


def cluster(
    *objects: dict[str, Any], source: str = "dump", eks_cluster: str | None = None
) -> dict[str, Any]:
    """The `k8s.cluster` resource of `objects`, read as a dump (or manifests)."""
    conn = OfflineObjects(
        ((f"object {i}", o) for i, o in enumerate(objects)),
        context="test",
        about={"source": source},
    )
    conn.eks_cluster = eks_cluster
    [resource] = registry.collectors()["k8s.cluster"].func(conn)
    return resource


def anonymous_binding(name: str, role: str, namespace: str | None = None) -> dict[str, Any]:
    return k.binding(name, role, [k.group("system:unauthenticated")], namespace)


# --- what the collector reads -------------------------------------------------------


def test_flags_in_every_form_the_api_server_accepts() -> None:
    words = [
        "kube-apiserver",
        "--audit-log-path",
        "-",  # stdout is a value, not a flag
        "--audit-policy-file",
        "/etc/a.yaml",
        "--anonymous-auth",  # a boolean alone is true; it takes no separate value
        "false",
        "--encryption-provider-config=/etc/first.yaml",
        "--encryption-provider-config=/etc/last.yaml",
        "--audit-webhook-config-file",
        "--token-auth-file=/etc/tokens.csv",
        "--oidc-client-id=synthetic-client",
    ]
    assert flags(words) == {
        "audit-log-path": "-",
        "audit-policy-file": "/etc/a.yaml",
        "anonymous-auth": "true",
        "encryption-provider-config": "/etc/last.yaml",
        "audit-webhook-config-file": "",
    }


def test_the_cluster_resource_keeps_only_the_judged_flags() -> None:
    pod = k.apiserver_pod("cp-1", *HARDENED, "--etcd-keyfile=/etc/kubernetes/pki/etcd.key")
    resource = cluster(pod)
    assert resource["id"] == "test/-/Cluster/test"
    assert resource["name"] == "Cluster/test"
    attrs = resource["attributes"]
    assert attrs["input"] == "dump" and attrs["server"] is None and attrs["managed"] is None
    assert attrs["apiserver"] == [
        {
            "pod": "kube-system/kube-apiserver-cp-1",
            "flags": {
                "audit-policy-file": "/etc/kubernetes/audit-policy.yaml",
                "audit-log-path": "/var/log/kubernetes/audit/audit.log",
                "encryption-provider-config": "/etc/kubernetes/enc/config.yaml",
                "anonymous-auth": "false",
            },
        }
    ]
    assert "etcd.key" not in str(resource)


def test_api_server_pods_are_found_by_container_program_or_label() -> None:
    by_program = k.obj(
        "Pod",
        "apiserver-a",
        "kube-system",
        spec=k.pod_spec(k.container("main", command=["/usr/local/bin/kube-apiserver", *AUDITED])),
    )
    by_label = k.obj(
        "Pod",
        "apiserver-b",
        "kube-system",
        labels={"component": "kube-apiserver"},
        spec=k.pod_spec(k.container("server", command=["/bin/server"], args=list(AUDITED))),
    )
    elsewhere = k.apiserver_pod("cp-9", namespace="tenant-a")  # not the control plane
    unrelated = k.workload("Pod", "kube-proxy-x", "kube-system")
    found = cluster(by_program, by_label, elsewhere, unrelated)["attributes"]["apiserver"]
    assert [p["pod"] for p in found] == ["kube-system/apiserver-a", "kube-system/apiserver-b"]
    assert all(p["flags"]["audit-log-path"] for p in found)


# --- audit logging and encryption ---------------------------------------------------


def test_audit_logging_passes_with_a_policy_and_a_backend() -> None:
    result = run_check("k8s.cluster.audit_logging", cluster(k.apiserver_pod("cp", *AUDITED)))
    assert result.status is P
    webhook = k.apiserver_pod(
        "cp", "--audit-policy-file=/p.yaml", "--audit-webhook-config-file=/w.yaml"
    )
    assert run_check("k8s.cluster.audit_logging", cluster(webhook)).status is P


def test_audit_logging_fails_on_each_api_server_missing_a_part() -> None:
    ha = cluster(
        k.apiserver_pod("cp-1", *AUDITED),
        k.apiserver_pod("cp-2", "--audit-log-path=/var/log/audit.log"),  # no policy: no events
        k.apiserver_pod("cp-3", "--audit-policy-file=/p.yaml"),  # nowhere to write
    )
    result = run_check("k8s.cluster.audit_logging", ha)
    assert result.status is F
    assert "kube-apiserver-cp-1" not in result.reason
    assert "kube-system/kube-apiserver-cp-2 lacks --audit-policy-file" in result.reason
    assert (
        "kube-system/kube-apiserver-cp-3 lacks --audit-log-path or --audit-webhook-config-file"
        in result.reason
    )
    assert result.observed["apiservers"] == [
        "kube-system/kube-apiserver-cp-1",
        "kube-system/kube-apiserver-cp-2",
        "kube-system/kube-apiserver-cp-3",
    ]


def test_secrets_encryption_passes_only_with_a_provider_config_on_every_api_server() -> None:
    one = cluster(k.apiserver_pod("cp-1", *ENCRYPTED))
    passed = run_check("k8s.cluster.secrets_encryption", one)
    assert passed.status is P
    assert "/etc/kubernetes/enc/config.yaml" in passed.reason
    assert "not visible through the API" in passed.reason
    ha = cluster(k.apiserver_pod("cp-1", *ENCRYPTED), k.apiserver_pod("cp-2", *AUDITED))
    failed = run_check("k8s.cluster.secrets_encryption", ha)
    assert failed.status is F
    assert failed.reason.startswith("kube-system/kube-apiserver-cp-2 runs without")


@pytest.mark.parametrize(
    ("check", "aws_control"),
    [
        ("k8s.cluster.audit_logging", EKS_AUDIT_CONTROL),
        ("k8s.cluster.secrets_encryption", EKS_ENCRYPTION_CONTROL),
    ],
)
def test_an_eks_control_plane_points_to_the_aws_control(check: str, aws_control: str) -> None:
    result = run_check(check, cluster(k.namespace("tenant-a"), eks_cluster=ARN))
    assert result.status is N
    assert f"judged by {aws_control} on aws.eks.cluster {ARN}" in result.reason
    assert result.observed == {"managed_by": "eks", "eks_cluster": ARN, "judged_by": aws_control}
    # The AWS control exists, judges aws.eks.cluster, whose ids are cluster ARNs.
    control = yaml.safe_load(catalog_root().joinpath("aws", f"{aws_control}.yaml").read_text())
    assert control["resource"] == "aws.eks.cluster"


@pytest.mark.parametrize("check", ["k8s.cluster.audit_logging", "k8s.cluster.secrets_encryption"])
def test_without_an_api_server_pod_a_dump_is_an_error_and_manifests_not_applicable(
    check: str,
) -> None:
    dump = run_check(check, cluster(k.namespace("tenant-a")))
    assert dump.status is E
    assert "no kube-apiserver pod in kube-system" in dump.reason
    assert "eks_cluster" in dump.reason
    manifests = run_check(check, cluster(k.namespace("tenant-a"), source="manifests"))
    assert manifests.status is N
    assert "the manifests hold no kube-apiserver pod" in manifests.reason
    # manifests that hold one are judged like a cluster
    judged = run_check(check, cluster(k.apiserver_pod("cp"), source="manifests"))
    assert judged.status is F


class PodsDenied(OfflineObjects):
    def _list(self, kind: Kind) -> list[dict[str, Any]]:
        if kind.kind == "Pod":
            raise ListDenied(kind, "Forbidden", "RBAC does not allow list on pods", "list:pods")
        return super()._list(kind)


def test_unlisted_pods_are_an_error_naming_the_grant() -> None:
    conn = PodsDenied([("x", k.namespace("tenant-a"))], context="test")
    [resource] = registry.collectors()["k8s.cluster"].func(conn)
    result = run_check("k8s.cluster.audit_logging", resource)
    assert result.status is E
    assert "missing permission list:pods" in result.reason
    assert KINDS["Pod"].permission == "list:pods"


# --- anonymous requests -------------------------------------------------------------


def test_anonymous_auth_off_by_flag_passes() -> None:
    result = run_check("k8s.cluster.anonymous_auth", cluster(k.apiserver_pod("cp", *HARDENED)))
    assert result.status is P
    assert result.observed["accepts_anonymous"] is False


def test_anonymous_auth_defaults_to_on() -> None:
    on = cluster(k.apiserver_pod("cp-1", *HARDENED), k.apiserver_pod("cp-2", *AUDITED))
    result = run_check("k8s.cluster.anonymous_auth", on)
    assert result.status is F
    assert "kube-system/kube-apiserver-cp-2 runs without --anonymous-auth=false" in result.reason
    assert "cp-1" not in result.reason
    # accepted when only the default public-info grant reaches anonymous users
    defaults = anonymous_binding("system:public-info-viewer", "system:public-info-viewer")
    lenient = cluster(k.apiserver_pod("cp", *AUDITED), defaults)
    assert run_check("k8s.cluster.anonymous_auth", lenient, require_disabled=False).status is P


def test_a_binding_granting_anonymous_users_more_fails_even_with_anonymous_auth_off() -> None:
    exposed = cluster(
        k.apiserver_pod("cp", *HARDENED),
        anonymous_binding("system:public-info-viewer", "system:public-info-viewer"),
        k.binding("anon-view", "view", [k.user("system:anonymous")], "tenant-a"),
    )
    result = run_check("k8s.cluster.anonymous_auth", exposed)
    assert result.status is F
    assert result.reason == (
        "anonymous users are granted more than allowed_roles: "
        "RoleBinding/tenant-a/anon-view grants ClusterRole/view"
    )
    assert result.observed["bindings"] == [
        "ClusterRoleBinding/system:public-info-viewer -> ClusterRole/system:public-info-viewer",
        "RoleBinding/tenant-a/anon-view -> ClusterRole/view",
    ]
    allowed = run_check(
        "k8s.cluster.anonymous_auth",
        exposed,
        allowed_roles=["ClusterRole/system:public-info-viewer", "ClusterRole/view"],
    )
    assert allowed.status is P


def test_the_discovery_grants_of_clusters_older_than_1_14_are_the_only_others_allowed() -> None:
    hardened = k.apiserver_pod("cp", *HARDENED)
    discovery = anonymous_binding("system:discovery", "system:discovery")
    assert run_check("k8s.cluster.anonymous_auth", cluster(hardened, discovery)).status is P
    basic_user = anonymous_binding("system:basic-user", "system:basic-user")
    result = run_check("k8s.cluster.anonymous_auth", cluster(hardened, discovery, basic_user))
    assert result.status is F
    assert "ClusterRoleBinding/system:basic-user grants ClusterRole/system:basic-user" in (
        result.reason
    )


def test_anonymous_auth_that_cannot_be_observed() -> None:
    # set in an AuthenticationConfiguration file the API does not show
    configured = cluster(k.apiserver_pod("cp", "--authentication-config=/etc/authn.yaml"))
    result = run_check("k8s.cluster.anonymous_auth", configured)
    assert result.status is E
    assert "--authentication-config" in result.reason
    # a dump without the API server: unknown, so error unless the setting is not required
    bare = cluster(k.namespace("tenant-a"))
    assert run_check("k8s.cluster.anonymous_auth", bare).status is E
    assert run_check("k8s.cluster.anonymous_auth", bare, require_disabled=False).status is P
    # manifests: a cluster's setting, not theirs; their bindings are still judged
    manifests = cluster(k.namespace("tenant-a"), source="manifests")
    assert run_check("k8s.cluster.anonymous_auth", manifests).status is N
    granted = cluster(anonymous_binding("anon-admin", "cluster-admin"), source="manifests")
    assert run_check("k8s.cluster.anonymous_auth", granted).status is F


# --- Pod Security Admission ---------------------------------------------------------


def namespace(labels: dict[str, str] | None = None, name: str = "tenant-a") -> dict[str, Any]:
    found = k.snapshots(k.namespace(name, labels), resource="k8s.namespace")
    return next(r for r in found if r["attributes"]["namespace"] == name)


ENFORCE = "pod-security.kubernetes.io/enforce"


@pytest.mark.parametrize(
    ("labels", "minimum", "status", "reason"),
    [
        ({ENFORCE: "baseline"}, "baseline", P, "Pod Security Admission enforces baseline"),
        ({ENFORCE: "restricted"}, "baseline", P, "Pod Security Admission enforces restricted"),
        ({ENFORCE: "restricted"}, "restricted", P, "enforces restricted"),
        ({ENFORCE: "baseline"}, "restricted", F, "admits pods below restricted"),
        ({ENFORCE: "privileged"}, "baseline", F, "admits pods below baseline"),
        ({ENFORCE: "Baseline"}, "baseline", F, "is not a Pod Security level"),
        (None, "baseline", F, f"no {ENFORCE} label"),
        # warn and audit only report; they do not enforce
        (
            {"pod-security.kubernetes.io/warn": "restricted"},
            "baseline",
            F,
            f"no {ENFORCE} label",
        ),
    ],
)
def test_pod_security_enforce_label(
    labels: dict[str, str] | None, minimum: str, status: Status, reason: str
) -> None:
    result = run_check("k8s.namespace.pod_security", namespace(labels), minimum_level=minimum)
    assert result.status is status
    assert reason in result.reason


def test_pod_security_in_system_and_undeclared_namespaces() -> None:
    system = run_check("k8s.namespace.pod_security", namespace(name="kube-system"))
    assert system.status is N
    deployment = k.workload("Deployment", "api", "tenant-z")
    [dumped] = k.snapshots(deployment, resource="k8s.namespace")
    result = run_check("k8s.namespace.pod_security", dumped)
    assert result.status is E  # the dump left the namespace out
    assert "no Namespace object in the input" in result.reason
    manifests = OfflineObjects([("x", deployment)], context="test", about={"source": "manifests"})
    [deployed_into] = registry.collectors()["k8s.namespace"].func(manifests)
    result = run_check("k8s.namespace.pod_security", deployed_into)
    assert result.status is N  # the manifests deploy into a namespace created elsewhere
    assert "without declaring it" in result.reason
    with pytest.raises(ValidationError):
        run_check("k8s.namespace.pod_security", namespace(), minimum_level="privileged")


# --- roles bound to default ServiceAccounts -----------------------------------------


def binding_result(obj: dict[str, Any], **params: Any) -> Any:
    [resource] = k.snapshots(obj, resource="k8s.rbac_binding")
    return run_check("k8s.rbac.default_service_account", resource, **params)


def test_a_role_bound_to_a_default_service_account_fails() -> None:
    sa = k.service_account_subject
    result = binding_result(k.binding("viewer", "view", [sa("default", "tenant-a")], "tenant-a"))
    assert result.status is F
    assert result.reason.startswith(
        "binds ClusterRole/view in namespace tenant-a to ServiceAccount:tenant-a/default"
    )
    # a subject without a namespace is the binding's own namespace's account
    implicit = {"kind": "ServiceAccount", "name": "default"}
    assert binding_result(k.binding("v", "view", [implicit], "tenant-b")).status is F
    # judged by the account's namespace, wherever the binding is
    reach = k.binding("reach", "edit", [sa("default", "tenant-a")], "kube-system")
    assert binding_result(reach).status is F
    # another account, or a system namespace's default one, passes
    assert binding_result(k.binding("api", "view", [sa("api", "tenant-a")], "tenant-a")).status is P
    assert binding_result(k.binding("ks", "view", [sa("default", "kube-system")])).status is P


def test_groups_that_hold_default_service_accounts_count() -> None:
    every = binding_result(k.binding("all", "view", [k.group("system:serviceaccounts")]))
    assert every.status is F
    assert every.observed["default_accounts"] == ["Group:system:serviceaccounts"]
    one = k.binding("ns", "edit", [k.group("system:serviceaccounts:tenant-a")], "tenant-a")
    assert binding_result(one).status is F
    system = k.binding("ks", "view", [k.group("system:serviceaccounts:kube-system")])
    assert binding_result(system).status is P
    # Kubernetes' own grant to every ServiceAccount
    issuer = k.binding(
        "system:service-account-issuer-discovery",
        "system:service-account-issuer-discovery",
        [k.group("system:serviceaccounts")],
    )
    assert binding_result(issuer).status is P
    assert binding_result(issuer, allowed_roles=[]).status is F


# --- the target option ---------------------------------------------------------------


def test_the_eks_cluster_option_names_the_cluster_offline(tmp_path: Path) -> None:
    dump = tmp_path / "prod.yaml"
    dump.write_text(yaml.safe_dump(k.object_list([k.namespace("tenant-a")])))
    conn = connect(K8sTarget(dump=str(dump), eks_cluster=ARN), 5.0)
    [resource] = registry.collectors()["k8s.cluster"].func(conn)
    assert resource["attributes"]["eks_cluster"] == ARN
    assert resource["attributes"]["managed"] == {
        "provider": "eks",
        "evidence": f"EKS cluster {ARN}",
    }
    with pytest.raises(ValidationError, match="expected an EKS cluster ARN"):
        K8sTarget(dump=str(dump), eks_cluster="prod")
