"""Kubernetes check functions, one module per family of controls; importing this package
registers them all."""

from assay.checks.k8s.checks import cluster, credentials, images, namespaces, pods, rbac

__all__ = ["cluster", "credentials", "images", "namespaces", "pods", "rbac"]
