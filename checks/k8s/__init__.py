"""Kubernetes provider: collectors and checks (being written)."""
