"""The connection every Kubernetes collector receives: objects by kind, listed once per target."""

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from typing import Any

from assay.checks.k8s.kinds import KINDS, Kind
from assay.checks.result import collection_error
from assay.errors import AssayError

# The id of an `aws.eks.cluster` resource, and the cluster name `aws eks update-kubeconfig`
# writes into a kubeconfig.
EKS_ARN = re.compile(r"^arn:aws[a-z-]*:eks:[a-z0-9-]+:\d{12}:cluster/[A-Za-z0-9][A-Za-z0-9_-]*$")


class ListDenied(AssayError):
    """A list call the API server refused (403) or does not serve (404).

    Collectors turn it into evidence that could not be collected, so the controls that
    needed those objects report `error` naming the verb and resource, and the rest run.
    """

    def __init__(self, kind: Kind, code: str, message: str, permission: str | None) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.message = message
        self.permission = permission

    def marker(self) -> dict[str, Any]:
        """The `collection_error` marker a snapshot stores in place of what was denied."""
        return collection_error(self.code, self.message, self.permission)


class K8sConnection(ABC):
    """Objects of one cluster, or of one set of files, shared by the collectors of a run.

    `objects(kind)` lists a kind at most once, however many collectors ask for it and from
    however many threads; a denial is remembered and raised again to each later caller.
    Every object has passed `redact.scrub` before it is stored.
    """

    def __init__(self, context: str) -> None:
        self.context = context
        # The EKS cluster this is (its ARN), when the target or the kubeconfig names one.
        self.eks_cluster: str | None = None
        self._lock = threading.Lock()
        self._kind_locks: dict[str, threading.Lock] = {}
        self._listed: dict[str, list[dict[str, Any]]] = {}
        self._denied: dict[str, tuple[str, str, str | None]] = {}

    @property
    @abstractmethod
    def offline(self) -> bool:
        """True for files (manifests, dumps): what they leave out may exist in the cluster."""

    @abstractmethod
    def identity(self) -> dict[str, Any]:
        """Who or what we read: the context, server and user, or the files."""

    @abstractmethod
    def _list(self, kind: Kind) -> list[dict[str, Any]]:
        """Every object of `kind`, scrubbed; raises ListDenied."""

    def inferred_namespaces(self) -> set[str]:
        """Namespaces that objects live in without a Namespace object (offline input only)."""
        return set()

    def api_server(self) -> dict[str, Any] | None:
        """Live: what the API server shows of itself, ``{"host", "version", "anonymous"}``
        (`anonymous` is how it answers a request without credentials); offline input: None."""
        return None

    def source_of(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        """The file and line an object was read from (offline input only), for reports."""
        return None

    def objects(self, kind: str) -> list[dict[str, Any]]:
        """Every object of `kind` (a key of `KINDS`); raises ListDenied."""
        with self._lock:
            lock = self._kind_locks.setdefault(kind, threading.Lock())
        with lock:
            if kind not in self._listed and kind not in self._denied:
                try:
                    self._listed[kind] = self._list(KINDS[kind])
                except ListDenied as exc:
                    self._denied[kind] = (exc.code, exc.message, exc.permission)
        if kind in self._denied:
            raise ListDenied(KINDS[kind], *self._denied[kind])
        return self._listed[kind]
