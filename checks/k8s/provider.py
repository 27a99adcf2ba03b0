"""The Kubernetes provider: target options, and the connection every collector receives.

A target reads exactly one source:

- a kubeconfig context (`kubeconfig` and/or `context`; neither means the current
  context of $KUBECONFIG or ~/.kube/config). Several contexts are several targets;
- the in-cluster service account (`in_cluster: true`), when assay runs as a pod;
- `manifests`: a manifest file or a folder of them, checked before deploy;
- `dump`: the output of ``kubectl get ... -A -o json`` (or ``-o yaml``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from assay.checks.k8s import offline
from assay.checks.k8s.connection import EKS_ARN, K8sConnection
from assay.checks.registry import provider

DEFAULT_PAGE_SIZE = 500
DEFAULT_NAMESPACE = "default"
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]*$")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class K8sTarget(BaseModel):
    """How to reach one cluster, or which files stand for it."""

    model_config = ConfigDict(extra="forbid")

    kubeconfig: str | None = Field(
        default=None, description="Kubeconfig file; default $KUBECONFIG, else ~/.kube/config."
    )
    context: str | None = Field(
        default=None, description="Kubeconfig context; default the current-context."
    )
    in_cluster: bool = Field(
        default=False, description="Use the service account of the pod assay runs in."
    )
    manifests: str | None = Field(default=None, description="A manifest file or folder.")
    dump: str | None = Field(default=None, description="A `kubectl get -o json|yaml` file.")
    cluster: str | None = Field(
        default=None,
        description="The cluster's name in resource ids; default the context name, "
        "`in-cluster`, or the manifests/dump file or folder name.",
    )
    default_namespace: str | None = Field(
        default=None,
        description="Offline input: namespace of objects that name none (default `default`).",
    )
    eks_cluster: str | None = Field(
        default=None,
        description="The ARN of the EKS cluster this is: its audit logging and secrets "
        "encryption are then left to the AWS controls on that aws.eks.cluster. Default: the "
        "kubeconfig's cluster name when it is an EKS ARN (as `aws eks update-kubeconfig` "
        "writes it).",
    )
    page_size: int | None = Field(
        default=None,
        ge=1,
        le=10_000,
        description=f"Live: objects per list request (default {DEFAULT_PAGE_SIZE}).",
    )

    @field_validator("kubeconfig", "dump")
    @classmethod
    def _file(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).expanduser().is_file():
            raise ValueError(f"expected an existing file; {value!r} is not one")
        return value

    @field_validator("manifests")
    @classmethod
    def _file_or_folder(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).expanduser().exists():
            raise ValueError(f"expected an existing manifest file or folder; {value!r} is neither")
        return value

    @field_validator("cluster")
    @classmethod
    def _label(cls, value: str | None) -> str | None:
        if value is not None and not _LABEL.match(value):
            raise ValueError(
                f"expected letters, digits and _.:@- (no `/`: it separates id parts); got {value!r}"
            )
        return value

    @field_validator("eks_cluster")
    @classmethod
    def _eks_arn(cls, value: str | None) -> str | None:
        if value is not None and not EKS_ARN.match(value):
            raise ValueError(
                "expected an EKS cluster ARN (arn:aws:eks:REGION:ACCOUNT:cluster/NAME); "
                f"got {value!r}"
            )
        return value

    @field_validator("default_namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        if value is not None and not _NAMESPACE.match(value):
            raise ValueError(f"expected a namespace name (lowercase, digits, -); got {value!r}")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> K8sTarget:
        sources = [
            name
            for name, used in (
                ("kubeconfig/context", self.kubeconfig is not None or self.context is not None),
                ("in_cluster", self.in_cluster),
                ("manifests", self.manifests is not None),
                ("dump", self.dump is not None),
            )
            if used
        ]
        if len(sources) > 1:
            raise ValueError(f"expected exactly one source; got {' and '.join(sources)}")
        if self.is_offline and self.page_size is not None:
            raise ValueError("page_size applies to a live cluster, not to manifests or a dump")
        if not self.is_offline and self.default_namespace is not None:
            raise ValueError("default_namespace applies to manifests or a dump, not to a cluster")
        return self

    @property
    def is_offline(self) -> bool:
        return self.manifests is not None or self.dump is not None


def identity(conn: K8sConnection) -> dict[str, Any]:
    """Live: ``{context, server, user, server_version}`` (makes one request); offline:
    ``{context, source, path, objects}``."""
    return conn.identity()


@provider("k8s", options=K8sTarget, identity=identity)
def connect(options: K8sTarget, timeout: float) -> K8sConnection:
    """A live client (no request made yet), or the offline input read and checked in full."""
    conn = _connect(options, timeout)
    if options.eks_cluster is not None:
        conn.eks_cluster = options.eks_cluster
    return conn


def _connect(options: K8sTarget, timeout: float) -> K8sConnection:
    file = options.manifests or options.dump
    if file is not None:
        path = Path(file).expanduser()
        return offline.load(
            path,
            context=options.cluster or (path.stem if path.is_file() else path.name),
            default_namespace=options.default_namespace or DEFAULT_NAMESPACE,
            source="manifests" if options.manifests else "dump",
        )
    # The client takes ~0.4 s to import: offline runs and `assay controls` never pay for it.
    from assay.checks.k8s import live

    page_size = options.page_size or DEFAULT_PAGE_SIZE
    if options.in_cluster:
        return live.connect_in_cluster(page_size=page_size, timeout=timeout, label=options.cluster)
    return live.connect_kubeconfig(
        str(Path(options.kubeconfig).expanduser()) if options.kubeconfig else None,
        options.context,
        page_size=page_size,
        timeout=timeout,
        label=options.cluster,
    )
