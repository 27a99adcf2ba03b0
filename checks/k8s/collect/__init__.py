"""Kubernetes collectors, one module per family of resource types; importing this package
registers them all."""

from assay.checks.k8s.collect import namespaces, rbac, workloads

__all__ = ["namespaces", "rbac", "workloads"]
