"""PostgreSQL collectors, one module per family of resource types; importing this package
registers them all."""

from assay.checks.postgres.collect import roles, server, tables

__all__ = ["roles", "server", "tables"]
