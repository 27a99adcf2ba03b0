"""Live collection through the official client, over HTTP, against a stand-in API server.

No kube-apiserver can run here, so `ApiServer` is a small stdlib HTTP server of our own
on 127.0.0.1 that answers what the client asks of a real one: List responses paged with
`limit`/`continue`, Status objects for 401/403/404, `/version`. Every object it serves is
SYNTHETIC (built by factories, labelled ``fixture: synthetic``), not recorded from a cluster.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from click.testing import CliRunner

from assay.checks import Status, registry
from assay.checks.k8s import K8sTarget, connect, identity
from assay.checks.k8s import factories as k
from assay.checks.k8s.kinds import KINDS, Kind
from assay.checks.k8s.redact import LAST_APPLIED
from assay.engine.cli.main import cli
from assay.engine.collect import collect
from assay.engine.evaluate import evaluate
from assay.engine.planner import make_plan
from assay.testing import run_check

pytestmark = pytest.mark.integration

SYNTHETIC = {"fixture": "synthetic"}
LEAKED = "synthetic-password-in-last-applied"
TYPES = ("k8s.workload", "k8s.namespace", "k8s.role", "k8s.rbac_binding")
# Pods with every server default, from controllers of each kind (SYNTHETIC; see its header).
FOLDING_DUMP = (
    Path(__file__).parents[1] / "checks" / "k8s" / "dump_pods_folding_into_controllers.yaml"
)


def path_of(kind: Kind) -> str:
    return f"/apis/{kind.group}/v1/{kind.plural}" if kind.group else f"/api/v1/{kind.plural}"


@dataclass
class ApiServer:
    """Serves `objects` by kind; `forbidden`/`missing` kinds answer 403/404."""

    token: str
    objects: dict[str, list[dict[str, Any]]]
    forbidden: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    url: str = ""
    version: str = "v1.31.2-synthetic"
    # How a request without credentials is answered: 401 (anonymous auth off), or as
    # system:anonymous, 200 for /version under the default RBAC (403 under a stricter one).
    anonymous: int = 401
    anonymous_requests: list[str] = field(default_factory=list)

    def handle(self, path: str, query: dict[str, str], auth: str) -> tuple[int, dict[str, Any]]:
        self.requests.append((path, query))
        version = {"major": "1", "minor": "31", "gitVersion": self.version}
        if not auth:
            self.anonymous_requests.append(path)
            if self.anonymous == 200 and path.rstrip("/") == "/version":
                return 200, version
            if self.anonymous == 403 or self.anonymous == 200:
                return 403, status(403, "Forbidden", f'User "system:anonymous" cannot get {path}')
        if auth != f"Bearer {self.token}":
            return 401, status(401, "Unauthorized", "Unauthorized")
        if path.rstrip("/") == "/version":  # the client asks for /version/
            return 200, version
        kind = next((kd for kd in KINDS.values() if path_of(kd) == path), None)
        if kind is None or kind.kind in self.missing:
            return 404, status(404, "NotFound", "the server could not find the requested resource")
        if kind.kind in self.forbidden:
            group = f'"{kind.group}"'
            return 403, status(
                403,
                "Forbidden",
                f'{kind.resource} is forbidden: User "auditor" cannot list resource '
                f'"{kind.plural}" in API group {group} at the cluster scope',
            )
        items = self.objects.get(kind.kind, [])
        start = int(query.get("continue", "0") or "0")
        limit = int(query.get("limit", "0") or "0") or len(items)
        page = items[start : start + limit]
        more = start + limit < len(items)
        # Real list items carry no kind/apiVersion; the List does.
        body_items = [
            {k2: v for k2, v in o.items() if k2 not in ("kind", "apiVersion")} for o in page
        ]
        return 200, {
            "kind": f"{kind.kind}List",
            "apiVersion": f"{kind.group}/v1" if kind.group else "v1",
            "metadata": {"resourceVersion": "42", "continue": str(start + limit) if more else ""},
            "items": body_items,
        }

    def lists(self, kind: str) -> list[dict[str, str]]:
        """The query of every request made for `kind`'s list."""
        return [q for p, q in self.requests if p == path_of(KINDS[kind])]


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


@pytest.fixture
def start_server() -> Iterator[Any]:
    started: list[ThreadingHTTPServer] = []

    def start(api: ApiServer) -> ApiServer:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the client expects
            disable_nagle_algorithm = True  # else each keep-alive request waits ~40 ms

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {key: v[-1] for key, v in parse_qs(url.query).items()}
                code, body = api.handle(url.path, query, self.headers.get("Authorization", ""))
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        started.append(server)
        api.url = f"http://127.0.0.1:{server.server_address[1]}"
        return api

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def synthetic(obj: dict[str, Any]) -> dict[str, Any]:
    obj["metadata"]["labels"] = {**obj["metadata"].get("labels", {}), **SYNTHETIC}
    return obj


def cluster_objects(tenant: str) -> dict[str, list[dict[str, Any]]]:
    """A small synthetic cluster: 7 pods (2 of them root), a Deployment, RBAC, a tenant."""
    pods = [k.workload("Pod", f"web-{i}", tenant) for i in range(5)]
    pods += [
        k.workload("Pod", "root-0", tenant, spec=k.pod_spec(k.container(security_context=None))),
        k.workload(
            "Pod",
            "inherits-token",
            tenant,
            spec=k.pod_spec(serviceAccountName="api", automountServiceAccountToken=None),
        ),
    ]
    deployment = k.workload("Deployment", "web", tenant)
    deployment["metadata"]["annotations"] = {LAST_APPLIED: json.dumps({"stringData": LEAKED})}
    deployment["metadata"]["managedFields"] = [{"manager": "kubectl", "operation": "Apply"}]
    objects = {
        "Pod": pods,
        "Deployment": [deployment],
        "ServiceAccount": [k.service_account("api", tenant, automount=True)],
        "Namespace": [k.namespace(tenant), k.namespace("kube-system")],
        "ResourceQuota": [k.resource_quota("compute", tenant)],
        "NetworkPolicy": [k.network_policy("default-deny", tenant)],
        "ClusterRole": [k.role("ops", [k.rule(["get"], ["pods"]), k.rule(["*"], ["secrets"])])],
        "ClusterRoleBinding": [
            k.binding("ops", "ops", [k.user("carol")]),
            k.binding("dangling", "deleted-role", [k.user("dave")]),
        ],
    }
    return {kind: [synthetic(o) for o in objs] for kind, objs in objects.items()}


def kubeconfig(path: Path, servers: dict[str, ApiServer], current: str | None = None) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": current or next(iter(servers)),
                "clusters": [{"name": n, "cluster": {"server": s.url}} for n, s in servers.items()],
                "users": [
                    {"name": f"{n}-auditor", "user": {"token": s.token}} for n, s in servers.items()
                ],
                "contexts": [
                    {"name": n, "context": {"cluster": n, "user": f"{n}-auditor"}} for n in servers
                ],
            }
        )
    )
    return path


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def collect_all(conn: Any) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for t in TYPES for r in registry.collectors()[t].func(conn)}


def test_identity_reads_the_version_with_the_contexts_token(
    start_server: Any, tmp_path: Path
) -> None:
    east = start_server(ApiServer("east-token", cluster_objects("tenant-a")))
    config = kubeconfig(tmp_path / "config", {"east": east})
    conn = connect(K8sTarget(kubeconfig=str(config)), 5.0)  # current-context
    assert identity(conn) == {
        "context": "east",
        "server": east.url,
        "user": "east-auditor",
        "server_version": "v1.31.2-synthetic",
    }


def test_lists_are_paged_with_limit_and_continue(start_server: Any, tmp_path: Path) -> None:
    east = start_server(ApiServer("east-token", cluster_objects("tenant-a")))
    config = kubeconfig(tmp_path / "config", {"east": east})
    conn = connect(K8sTarget(kubeconfig=str(config), context="east", page_size=3), 5.0)
    found = collect_all(conn)
    pods = sorted(i for i in found if "/Pod/" in i)
    assert len(pods) == 7 and pods[0] == "east/tenant-a/Pod/inherits-token"
    assert east.lists("Pod") == [
        {"limit": "3"},
        {"limit": "3", "continue": "3"},
        {"limit": "3", "continue": "6"},
    ]
    # each kind listed once per target, however many collectors need it
    assert len(east.lists("ClusterRole")) == 1
    assert len(east.lists("Namespace")) == 1


def test_live_objects_are_judged_and_scrubbed(start_server: Any, tmp_path: Path) -> None:
    east = start_server(ApiServer("east-token", cluster_objects("tenant-a")))
    conn = connect(K8sTarget(kubeconfig=str(kubeconfig(tmp_path / "c", {"east": east}))), 5.0)
    found = collect_all(conn)
    assert LEAKED not in json.dumps(found)
    assert "managedFields" not in json.dumps(conn.objects("Deployment"))
    assert run_check("k8s.pod.run_as_non_root", found["east/tenant-a/Pod/root-0"]).status is (
        Status.FAIL
    )
    assert run_check("k8s.pod.run_as_non_root", found["east/tenant-a/Pod/web-0"]).status is (
        Status.PASS
    )
    inherits = run_check("k8s.pod.service_account_token", found["east/tenant-a/Pod/inherits-token"])
    assert inherits.status is Status.FAIL
    assert "ServiceAccount api sets automountServiceAccountToken: true" in inherits.reason
    assert run_check("k8s.namespace.default_deny", found["east/-/Namespace/tenant-a"]).status is (
        Status.PASS
    )
    assert run_check("k8s.rbac.no_wildcards", found["east/-/ClusterRole/ops"]).status is (
        Status.FAIL
    )
    ops = run_check("k8s.rbac.secrets_read", found["east/-/ClusterRoleBinding/ops"])
    assert ops.status is Status.FAIL and ops.observed["not_allowed"] == ["User:carol"]
    # in a live cluster a binding to a role that does not exist grants nothing
    dangling = found["east/-/ClusterRoleBinding/dangling"]
    assert dangling["attributes"]["role"] == {"found": False, "rules": [], "source": "cluster"}
    assert run_check("k8s.rbac.secrets_read", dangling).status is Status.PASS


def test_a_forbidden_list_becomes_an_error_naming_verb_and_resource(
    start_server: Any, tmp_path: Path
) -> None:
    api = ApiServer("t", cluster_objects("tenant-a"), forbidden={"Deployment", "ServiceAccount"})
    east = start_server(api)
    conn = connect(K8sTarget(kubeconfig=str(kubeconfig(tmp_path / "c", {"east": east}))), 5.0)
    found = collect_all(conn)
    placeholder = found["east/*/Deployment/*"]
    result = run_check("k8s.pod.privileged", placeholder)
    assert result.status is Status.ERROR
    assert "Deployment objects could not be listed: Forbidden" in result.reason
    assert "list on deployments.apps" in result.reason
    assert "missing permission list:deployments.apps" in result.reason
    assert 'User "auditor" cannot list resource "deployments"' in result.reason
    # pods were listed, and are judged
    assert run_check("k8s.pod.privileged", found["east/tenant-a/Pod/web-0"]).status is Status.PASS
    # without ServiceAccounts, only pods that leave the token to their account are unknown
    decided = run_check("k8s.pod.service_account_token", found["east/tenant-a/Pod/web-0"])
    assert decided.status is Status.PASS
    unknown = run_check("k8s.pod.service_account_token", found["east/tenant-a/Pod/inherits-token"])
    assert unknown.status is Status.ERROR
    assert "list:serviceaccounts" in unknown.reason


def test_a_kind_the_server_does_not_serve_is_an_error_too(
    start_server: Any, tmp_path: Path
) -> None:
    east = start_server(ApiServer("t", cluster_objects("tenant-a"), missing={"CronJob"}))
    conn = connect(K8sTarget(kubeconfig=str(kubeconfig(tmp_path / "c", {"east": east}))), 5.0)
    result = run_check("k8s.pod.privileged", collect_all(conn)["east/*/CronJob/*"])
    assert result.status is Status.ERROR
    assert "NotFound: the API server does not serve cronjobs.batch" in result.reason


def test_several_contexts_in_one_run(
    start_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    east = start_server(ApiServer("east-token", cluster_objects("tenant-a")))
    west = start_server(ApiServer("west-token", cluster_objects("tenant-b")))
    config = kubeconfig(tmp_path / "kubeconfig", {"east": east, "west": west})
    monkeypatch.chdir(tmp_path)
    profile = tmp_path / "assay.yaml"
    profile.write_text(
        yaml.safe_dump(
            {
                "controls": {"ids": ["k8s-pod-run-as-non-root", "k8s-rbac-cluster-admin"]},
                "targets": [
                    {"name": n, "provider": "k8s", "kubeconfig": str(config), "context": n}
                    for n in ("east", "west")
                ],
            }
        )
    )
    snap = collect(make_plan(profile), workers=4, timeout=10)
    assert snap.failures == []
    assert [t["identity"]["user"] for t in snap.targets] == ["east-auditor", "west-auditor"]
    by_target = {
        t: {r["id"] for r in snap.resources if r["scope"]["target"] == t} for t in ("east", "west")
    }
    assert "east/tenant-a/Pod/web-0" in by_target["east"]
    assert "west/tenant-b/Pod/web-0" in by_target["west"]
    assert all(i.startswith("east/") for i in by_target["east"])
    assert east.lists("Pod") and west.lists("Pod")


def test_an_unreachable_cluster_fails_fast(tmp_path: Path) -> None:
    dead = ApiServer("t", {}, url=f"http://127.0.0.1:{closed_port()}")
    config = kubeconfig(tmp_path / "kubeconfig", {"dead": dead})
    conn = connect(K8sTarget(kubeconfig=str(config)), 30.0)
    started = time.monotonic()
    with pytest.raises(Exception, match=r"Connection refused|Max retries"):
        identity(conn)
    assert time.monotonic() - started < 2.0


def test_a_broken_endpoint_is_tried_once(tmp_path: Path) -> None:
    """An endpoint that hangs up on every request: retries are off, so one attempt."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []

    def hang_up() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(1)
            conn.close()

    threading.Thread(target=hang_up, daemon=True).start()
    try:
        broken = ApiServer("t", {}, url=f"http://127.0.0.1:{listener.getsockname()[1]}")
        config = kubeconfig(tmp_path / "kubeconfig", {"broken": broken})
        conn = connect(K8sTarget(kubeconfig=str(config)), 30.0)
        with pytest.raises(Exception, match=r"RemoteDisconnected|Connection aborted|Max retries"):
            identity(conn)
        assert len(accepted) == 1
    finally:
        listener.close()


def test_doctor_names_the_missing_rbac_grant(
    start_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    east = start_server(ApiServer("t", cluster_objects("tenant-a"), forbidden={"Deployment"}))
    config = kubeconfig(tmp_path / "kubeconfig", {"east": east})
    monkeypatch.chdir(tmp_path)
    (tmp_path / "assay.yaml").write_text(
        f"targets:\n  - {{name: east, provider: k8s, kubeconfig: {config}}}\n"
    )
    res = CliRunner().invoke(cli, ["doctor"], catch_exceptions=False)
    assert "✓ east (k8s): connected as context=east" in res.output
    assert "missing list:deployments.apps" in res.output
    assert res.exit_code == 3


def served_dump(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The items of a `kubectl get -o yaml` List, by kind, for the server to list."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for item in yaml.safe_load(path.read_text())["items"]:
        assert item["metadata"]["labels"]["fixture"] == "synthetic"
        by_kind.setdefault(item["kind"], []).append(item)
    return by_kind


def test_live_pods_fold_into_the_controllers_whose_template_they_run(
    start_server: Any, tmp_path: Path
) -> None:
    shop = start_server(ApiServer("t", served_dump(FOLDING_DUMP)))
    config = kubeconfig(tmp_path / "c", {"shop": shop})
    conn = connect(K8sTarget(kubeconfig=str(config), page_size=2), 5.0)
    found = {r["name"]: r for r in registry.collectors()["k8s.workload"].func(conn)}
    assert sorted(found) == [
        "CronJob/shop/report",
        "Deployment/shop/api",
        "Pod/shop/api-7d9f8b6c5d-q9t5v",
        "Pod/shop/worker-6b8d9c7f4-h4j2k",
        "StatefulSet/shop/db",
    ]
    assert len(shop.lists("Pod")) == 4  # 8 pods, 2 a page: paging and folding together
    pods = {n: r["attributes"]["pods"] for n, r in found.items() if r["attributes"]["pods"]}
    assert pods == {
        "CronJob/shop/report": {"matching": 1, "differing": []},
        "Deployment/shop/api": {"matching": 3, "differing": ["api-7d9f8b6c5d-q9t5v"]},
        "StatefulSet/shop/db": {"matching": 2, "differing": []},
    }
    sidecar = run_check("k8s.pod.privileged", found["Pod/shop/api-7d9f8b6c5d-q9t5v"])
    assert sidecar.status is Status.FAIL
    assert "container istio-proxy; differs from Deployment/api's template: " in sidecar.reason
    assert 'container "istio-proxy" added (privileged)' in sidecar.reason
    worker = found["Pod/shop/worker-6b8d9c7f4-h4j2k"]  # its ReplicaSet is not served
    assert worker["attributes"]["template"] is None
    assert run_check("k8s.pod.privileged", worker).status is Status.PASS


def test_a_live_run_gives_three_replicas_one_result_per_control(
    start_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = start_server(ApiServer("t", served_dump(FOLDING_DUMP)))
    config = kubeconfig(tmp_path / "kubeconfig", {"shop": shop})
    monkeypatch.chdir(tmp_path)
    profile = tmp_path / "assay.yaml"
    profile.write_text(
        yaml.safe_dump(
            {
                "controls": {"ids": ["k8s-pod-privileged", "k8s-pod-run-as-non-root"]},
                "targets": [{"name": "shop", "provider": "k8s", "kubeconfig": str(config)}],
            }
        )
    )
    plan = make_plan(profile)
    findings = evaluate(plan, collect(plan, workers=2, timeout=10))
    api = [f for f in findings if "/api" in f.resource["name"]]
    assert sorted((f.resource["name"], f.control.control.id, f.status.value) for f in api) == [
        ("Deployment/shop/api", "k8s-pod-privileged", "pass"),
        ("Deployment/shop/api", "k8s-pod-run-as-non-root", "pass"),
        ("Pod/shop/api-7d9f8b6c5d-q9t5v", "k8s-pod-privileged", "fail"),
        ("Pod/shop/api-7d9f8b6c5d-q9t5v", "k8s-pod-run-as-non-root", "fail"),
    ]
    assert all(f.result.observed["pods"] == 3 for f in api if f.resource["name"].startswith("D"))


def test_pods_whose_replicasets_cannot_be_listed_are_judged_alone(
    start_server: Any, tmp_path: Path
) -> None:
    shop = start_server(ApiServer("t", served_dump(FOLDING_DUMP), forbidden={"ReplicaSet"}))
    conn = connect(K8sTarget(kubeconfig=str(kubeconfig(tmp_path / "c", {"shop": shop}))), 5.0)
    found = {r["id"]: r for r in registry.collectors()["k8s.workload"].func(conn)}
    api_pods = [i for i in found if "/Pod/api-" in i]
    assert len(api_pods) == 4
    assert all(found[i]["attributes"]["template"] is None for i in api_pods)
    assert found["shop/shop/Deployment/api"]["attributes"]["pods"]["matching"] == 0
    assert run_check("k8s.pod.privileged", found["shop/*/ReplicaSet/*"]).status is Status.ERROR
    # the CronJob's chain does not pass through a ReplicaSet
    assert found["shop/shop/CronJob/report"]["attributes"]["pods"]["matching"] == 1


# --- cluster-level controls ---------------------------------------------------------

ARN = "arn:aws:eks:eu-west-1:123456789012:cluster/prod"


def control_plane(*flags: str) -> dict[str, list[dict[str, Any]]]:
    """A self-managed cluster: the kube-apiserver's mirror pod with `flags`, two tenants
    (one enforcing a Pod Security Standard), a role bound to tenant-b's default account."""
    objects = {
        "Pod": [k.apiserver_pod("cp-1", *flags), k.workload("Pod", "web", "tenant-a")],
        "Namespace": [
            k.namespace("kube-system"),
            k.namespace("tenant-a", {"pod-security.kubernetes.io/enforce": "restricted"}),
            k.namespace("tenant-b"),
        ],
        "RoleBinding": [
            k.binding(
                "default-edit",
                "edit",
                [k.service_account_subject("default", "tenant-b")],
                "tenant-b",
            ),
        ],
        "ClusterRoleBinding": [
            k.binding(
                "system:public-info-viewer",
                "system:public-info-viewer",
                [k.group("system:authenticated"), k.group("system:unauthenticated")],
            ),
        ],
    }
    return {kind: [synthetic(o) for o in objs] for kind, objs in objects.items()}


def cluster_resource(conn: Any) -> dict[str, Any]:
    [resource] = registry.collectors()["k8s.cluster"].func(conn)
    return resource


def test_a_server_refusing_anonymous_requests_passes(start_server: Any, tmp_path: Path) -> None:
    east = start_server(ApiServer("t", control_plane("--anonymous-auth=true"), anonymous=401))
    conn = connect(K8sTarget(kubeconfig=str(kubeconfig(tmp_path / "c", {"east": east}))), 5.0)
    resource = cluster_resource(conn)
    attrs = resource["attributes"]
    assert attrs["input"] == "cluster"
    assert attrs["server"] == {"host": east.url, "version": "v1.31.2-synthetic"}
    assert attrs["anonymous_request"] == {"path": "/version", "status": 401}
    # asked once without any credentials; every other request carried the token
    assert [p.rstrip("/") for p in east.anonymous_requests] == ["/version"]
    result = run_check("k8s.cluster.anonymous_auth", resource)
    # what the server answers wins over a flag that says otherwise
    assert result.status is Status.PASS
    assert "refused (401)" in result.reason


@pytest.mark.parametrize("answer", [200, 403])
def test_a_server_taking_requests_as_anonymous_fails(
    answer: int, start_server: Any, tmp_path: Path
) -> None:
    east = start_server(ApiServer("t", control_plane("--anonymous-auth=false"), anonymous=answer))
    conn = connect(K8sTarget(kubeconfig=str(kubeconfig(tmp_path / "c", {"east": east}))), 5.0)
    resource = cluster_resource(conn)
    result = run_check("k8s.cluster.anonymous_auth", resource)
    assert result.status is Status.FAIL
    assert f"taken as system:anonymous ({answer})" in result.reason
    # only Kubernetes' own public-info grant reaches anonymous users: accepted when asked
    lenient = run_check("k8s.cluster.anonymous_auth", resource, require_disabled=False)
    assert lenient.status is Status.PASS


def test_a_self_managed_control_plane_is_judged_from_its_api_server_pod(
    start_server: Any, tmp_path: Path
) -> None:
    flags = ("--audit-policy-file=/etc/kubernetes/audit.yaml", "--audit-log-path=-")
    east = start_server(ApiServer("t", control_plane(*flags)))
    conn = connect(K8sTarget(kubeconfig=str(kubeconfig(tmp_path / "c", {"east": east}))), 5.0)
    resource = cluster_resource(conn)
    assert resource["attributes"]["managed"] is None
    assert run_check("k8s.cluster.audit_logging", resource).status is Status.PASS
    unencrypted = run_check("k8s.cluster.secrets_encryption", resource)
    assert unencrypted.status is Status.FAIL
    assert "kube-system/kube-apiserver-cp-1 runs without" in unencrypted.reason


def test_an_eks_cluster_is_left_to_the_aws_controls(start_server: Any, tmp_path: Path) -> None:
    objects = control_plane()
    objects["Pod"] = objects["Pod"][1:]  # EKS shows no API server pod
    east = start_server(ApiServer("t", objects, version="v1.30.4-eks-a737599", anonymous=403))
    config = kubeconfig(tmp_path / "c", {"east": east})
    conn = connect(K8sTarget(kubeconfig=str(config)), 5.0)
    resource = cluster_resource(conn)
    assert resource["attributes"]["managed"] == {
        "provider": "eks",
        "evidence": "server version v1.30.4-eks-a737599",
    }
    audit = run_check("k8s.cluster.audit_logging", resource)
    assert audit.status is Status.NOT_APPLICABLE
    assert "judged by aws-eks-control-plane-logging on the aws.eks.cluster resources" in (
        audit.reason
    )
    # named as `aws eks update-kubeconfig` names it, the cluster entry is the ARN
    doc = yaml.safe_load(config.read_text())
    doc["clusters"][0]["name"] = doc["contexts"][0]["context"]["cluster"] = ARN
    config.write_text(yaml.safe_dump(doc))
    named = cluster_resource(connect(K8sTarget(kubeconfig=str(config)), 5.0))
    assert named["attributes"]["eks_cluster"] == ARN
    encryption = run_check("k8s.cluster.secrets_encryption", named)
    assert encryption.status is Status.NOT_APPLICABLE
    assert f"judged by aws-eks-secrets-encryption on aws.eks.cluster {ARN}" in encryption.reason
    # anonymous requests are the server's to answer, EKS or not
    assert run_check("k8s.cluster.anonymous_auth", named).status is Status.FAIL


def test_a_server_without_an_api_server_pod_cannot_show_its_audit_log(
    start_server: Any, tmp_path: Path
) -> None:
    objects = control_plane()
    objects["Pod"] = objects["Pod"][1:]
    east = start_server(ApiServer("t", objects))
    conn = connect(K8sTarget(kubeconfig=str(kubeconfig(tmp_path / "c", {"east": east}))), 5.0)
    result = run_check("k8s.cluster.audit_logging", cluster_resource(conn))
    assert result.status is Status.ERROR
    assert "no kube-apiserver pod in kube-system" in result.reason


def test_a_live_run_judges_the_cluster_namespaces_and_default_accounts(
    start_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flags = (
        "--anonymous-auth=false",
        "--audit-policy-file=/etc/kubernetes/audit.yaml",
        "--audit-log-path=/var/log/audit.log",
        "--encryption-provider-config=/etc/kubernetes/enc.yaml",
    )
    shop = start_server(ApiServer("t", control_plane(*flags)))
    config = kubeconfig(tmp_path / "kubeconfig", {"shop": shop})
    monkeypatch.chdir(tmp_path)
    profile = tmp_path / "assay.yaml"
    controls = [
        "k8s-cluster-audit-logging",
        "k8s-cluster-secrets-encryption",
        "k8s-cluster-anonymous-auth",
        "k8s-namespace-pod-security",
        "k8s-rbac-default-service-account",
    ]
    profile.write_text(
        yaml.safe_dump(
            {
                "controls": {"ids": controls},
                "targets": [{"name": "shop", "provider": "k8s", "kubeconfig": str(config)}],
            }
        )
    )
    plan = make_plan(profile)
    findings = evaluate(plan, collect(plan, workers=2, timeout=10))
    assert sorted((f.control.control.id, f.resource["name"], f.status.value) for f in findings) == [
        ("k8s-cluster-anonymous-auth", "Cluster/shop", "pass"),
        ("k8s-cluster-audit-logging", "Cluster/shop", "pass"),
        ("k8s-cluster-secrets-encryption", "Cluster/shop", "pass"),
        ("k8s-namespace-pod-security", "Namespace/kube-system", "not_applicable"),
        ("k8s-namespace-pod-security", "Namespace/tenant-a", "pass"),
        ("k8s-namespace-pod-security", "Namespace/tenant-b", "fail"),
        (
            "k8s-rbac-default-service-account",
            "ClusterRoleBinding/system:public-info-viewer",
            "pass",
        ),
        ("k8s-rbac-default-service-account", "RoleBinding/tenant-b/default-edit", "fail"),
    ]
