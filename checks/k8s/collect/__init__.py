"""Kubernetes collectors, one module per family of resource types; importing this package
registers them all."""

from assay.checks.k8s.collect import cluster, namespaces, rbac, workloads

__all__ = ["cluster", "namespaces", "rbac", "workloads"]
