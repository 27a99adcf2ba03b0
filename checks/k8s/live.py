"""A live cluster through the official client: kubeconfig or in-cluster config, paged lists.

Each target gets its own `ApiClient` (never the process-wide default the client's
`load_kube_config` sets), with urllib3 retries off and a request timeout, so a broken
endpoint fails in one round trip instead of hanging a run. Lists are read as raw JSON
(`_preload_content=False`): checks judge the API's own JSON, and skipping the client's
model classes is many times faster on large clusters.
"""

from __future__ import annotations

import json
from typing import Any

import urllib3
import yaml
from kubernetes import client, config  # type: ignore[import-untyped]
from kubernetes.client.exceptions import ApiException  # type: ignore[import-untyped]
from kubernetes.config.config_exception import ConfigException  # type: ignore[import-untyped]
from kubernetes.config.kube_config import (  # type: ignore[import-untyped]
    KUBE_CONFIG_DEFAULT_LOCATION,
    KubeConfigMerger,
)

from assay.checks.k8s.connection import EKS_ARN, K8sConnection, ListDenied
from assay.checks.k8s.kinds import Kind
from assay.checks.k8s.redact import scrub

IN_CLUSTER = "in-cluster"
_CONNECT_TIMEOUT = 10.0
# Asked without credentials: a server that refuses anonymous requests answers 401; one
# that accepts them answers as `system:anonymous` (200 under the default RBAC, else 403).
ANONYMOUS_PATH = "/version"
_ROUTE = (
    "host",
    "ssl_ca_cert",
    "verify_ssl",
    "assert_hostname",
    "tls_server_name",
    "proxy",
    "proxy_headers",  # the proxy's own credentials, not the user's
)


class LiveCluster(K8sConnection):
    """One context of a kubeconfig, or the in-cluster service account."""

    def __init__(
        self,
        api: Any,
        kube_context: str,
        *,
        user: str,
        page_size: int,
        timeout: float,
        label: str | None = None,
    ) -> None:
        """`label` names the cluster in resource ids; the kubeconfig context name by default."""
        super().__init__(label or kube_context)
        self.api = api
        self.kube_context = kube_context
        self.user = user
        self.page_size = page_size
        self.timeout = (min(_CONNECT_TIMEOUT, timeout), timeout)

    @property
    def offline(self) -> bool:
        return False

    def identity(self) -> dict[str, Any]:
        """Context, server, user and the server's version (one request: reachability too)."""
        try:
            resp = client.VersionApi(self.api).get_code(
                _preload_content=False, _request_timeout=self.timeout
            )
        except ApiException as exc:
            raise RuntimeError(f"GET /version: {_api_error(exc)}") from None
        version = json.loads(resp.data).get("gitVersion", "unknown")
        return {
            "context": self.kube_context,
            "server": self.api.configuration.host,
            "user": self.user,
            "server_version": version,
        }

    def api_server(self) -> dict[str, Any]:
        """The host, the version (with the target's credentials) and the status the same
        request gets without any credentials: two requests."""
        facts: dict[str, Any] = {"host": self.api.configuration.host}
        try:
            resp = client.VersionApi(self.api).get_code(
                _preload_content=False, _request_timeout=self.timeout
            )
            facts["version"] = json.loads(resp.data).get("gitVersion")
        except ApiException as exc:
            facts["version"] = None
            facts["version_error"] = f"GET /version: {_api_error(exc)}"
        facts["anonymous"] = self._anonymous_request()
        return facts

    def _anonymous_request(self) -> dict[str, Any]:
        """``{"path", "status"}``, or ``{"path", "error"}`` when no HTTP answer came."""
        ours = self.api.configuration
        bare = _settings()
        # The server's address, how to trust it and the way there; no token, client
        # certificate or exec plugin, so the server sees no credentials at all.
        for name in _ROUTE:
            setattr(bare, name, getattr(ours, name))
        out: dict[str, Any] = {"path": ANONYMOUS_PATH}
        with client.ApiClient(configuration=bare) as anonymous:
            try:
                client.VersionApi(anonymous).get_code(
                    _preload_content=False, _request_timeout=self.timeout
                )
                out["status"] = 200
            except ApiException as exc:
                out["status"] = exc.status
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                out["error"] = f"{type(exc).__name__}: {exc}"
        return out

    def _list(self, kind: Kind) -> list[dict[str, Any]]:
        call = getattr(getattr(client, kind.api)(self.api), kind.method)
        items: list[dict[str, Any]] = []
        token = None
        while True:
            options: dict[str, Any] = {
                "limit": self.page_size,
                "_preload_content": False,
                "_request_timeout": self.timeout,
            }
            if token:
                options["_continue"] = token
            try:
                resp = call(**options)
            except ApiException as exc:
                raise _translate(kind, exc) from None
            body = json.loads(resp.data)
            api_version = body.get("apiVersion", "")
            for item in body.get("items") or ():
                # List items carry no kind or apiVersion of their own.
                item.setdefault("kind", kind.kind)
                item.setdefault("apiVersion", api_version)
                items.append(scrub(item))
            # An empty token ends the list; sending it back would restart it.
            token = (body.get("metadata") or {}).get("continue")
            if not token:
                return items


def connect_kubeconfig(
    path: str | None,
    context: str | None,
    *,
    page_size: int,
    timeout: float,
    label: str | None = None,
) -> LiveCluster:
    """A client for `context` of the kubeconfig at `path` (default: $KUBECONFIG, ~/.kube/config).

    Without `context`, the kubeconfig's current-context. No request is made here.
    """
    where = path or KUBE_CONFIG_DEFAULT_LOCATION
    try:
        merged = KubeConfigMerger(where).config
    except (ConfigException, OSError, yaml.YAMLError) as exc:
        raise LookupError(f"cannot read kubeconfig {where}: {exc}") from None
    if merged is None:
        raise LookupError(f"no kubeconfig at {where}; set `kubeconfig`, or $KUBECONFIG")
    # Merged entries are the client's ConfigNode wrappers; `.value` is the plain mapping.
    contexts = [getattr(c, "value", c) for c in merged.value.get("contexts") or ()]
    names = [str(c.get("name")) for c in contexts]
    if context is None:
        current = merged.value.get("current-context")
        if not current:
            raise LookupError(
                f"kubeconfig {where} has no current-context; "
                f"set `context` to one of {', '.join(names)}"
            )
        context = str(current)
    chosen = next((c for c in contexts if c.get("name") == context), None)
    if chosen is None:
        raise LookupError(
            f"context {context!r} is not in kubeconfig {where}; "
            f"expected one of {', '.join(names) or 'no contexts at all'}"
        )
    settings = _settings()
    try:
        api = config.new_client_from_config(
            config_file=path,
            context=context,
            persist_config=False,
            client_configuration=settings,
        )
    except (ConfigException, OSError) as exc:
        raise LookupError(f"context {context!r} of {path or 'the kubeconfig'}: {exc}") from None
    user = str((chosen.get("context") or {}).get("user") or "unknown")
    live = LiveCluster(api, context, user=user, page_size=page_size, timeout=timeout, label=label)
    # `aws eks update-kubeconfig` names the cluster entry after the EKS cluster's ARN.
    cluster = str((chosen.get("context") or {}).get("cluster") or "")
    live.eks_cluster = cluster if EKS_ARN.match(cluster) else None
    return live


def connect_in_cluster(*, page_size: int, timeout: float, label: str | None = None) -> LiveCluster:
    """A client from the service account Kubernetes mounts into the pod assay runs in."""
    settings = _settings()
    try:
        config.load_incluster_config(client_configuration=settings)
    except ConfigException as exc:
        raise LookupError(f"not running inside a Kubernetes pod: {exc}") from None
    return LiveCluster(
        client.ApiClient(configuration=settings),
        IN_CLUSTER,
        user="in-cluster service account",
        page_size=page_size,
        timeout=timeout,
        label=label,
    )


def _settings() -> Any:
    settings = client.Configuration()
    # urllib3 would retry a refused connection three times with backoff; a run must not wait.
    settings.retries = 0
    return settings


def _api_error(exc: ApiException) -> str:
    """``HTTP 403 Forbidden: <the Status message>`` (the message is in the body, not `reason`)."""
    try:
        message = str(json.loads(exc.body or b"{}").get("message", ""))
    except (ValueError, AttributeError):  # not JSON, or JSON but not a Status object
        message = ""
    return f"HTTP {exc.status} {exc.reason}" + (f": {message}" if message else "")


def _translate(kind: Kind, exc: ApiException) -> Exception:
    detail = _api_error(exc)
    if exc.status == 403:
        return ListDenied(
            kind,
            "Forbidden",
            f"RBAC does not allow list on {kind.resource} at cluster scope ({detail})",
            kind.permission,
        )
    if exc.status == 404:
        return ListDenied(
            kind, "NotFound", f"the API server does not serve {kind.resource} ({detail})", None
        )
    return RuntimeError(f"list {kind.resource}: {detail}")
