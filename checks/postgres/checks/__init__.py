"""PostgreSQL check functions, one module per family of controls; importing this package
registers them all."""

from assay.checks.postgres.checks import hba, roles, settings, tenancy

__all__ = ["hba", "roles", "settings", "tenancy"]
