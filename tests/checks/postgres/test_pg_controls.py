"""The PostgreSQL control files: valid, bound to registered checks, covering every check."""

from __future__ import annotations

from pathlib import Path

from assay.checks import registry
from assay.controls import catalog_root
from assay.engine.catalog import Catalog, load_catalog

POSTGRES_CONTROLS = {
    "postgres-connection-logging",
    "postgres-log-retention",
    "postgres-pgaudit",
    "postgres-privileged-attributes",
    "postgres-remote-tls",
    "postgres-scram-authentication",
    "postgres-ssl",
    "postgres-superusers-allowlisted",
    "postgres-tenant-app-role",
    "postgres-tenant-policy",
    "postgres-tenant-rls-forced",
    "postgres-wal-archiving",
}


def postgres_catalog() -> Catalog:
    """Only the shipped postgres/ folder, validated the way the engine loads any control."""
    return load_catalog([Path(str(catalog_root())) / "postgres"], builtin=False)


def test_the_catalog_ships_the_postgres_controls() -> None:
    assert set(postgres_catalog().controls) == POSTGRES_CONTROLS


def test_every_postgres_check_and_collector_is_used_by_a_control() -> None:
    controls = [lc.control for lc in postgres_catalog().controls.values()]
    used = {c.check for c in controls}
    types = {c.resource for c in controls}
    ours = {
        n
        for n, s in registry.checks().items()
        if s.func.__module__.startswith("assay.checks.postgres")
    }
    assert ours == used
    assert {t for t in registry.collectors() if t.startswith("postgres.")} == types


def test_every_postgres_control_maps_to_soc2_and_says_how_to_fix_it() -> None:
    for cid, lc in postgres_catalog().controls.items():
        assert lc.control.frameworks["soc2"], cid
        assert lc.control.description and lc.control.remediation, cid
        assert lc.control.provider == "postgres", cid
        assert "postgres" in lc.control.tags, cid


def test_permissions_name_grants_a_dba_can_give() -> None:
    perms = {p for lc in postgres_catalog().controls.values() for p in lc.permissions}
    assert perms == {
        "postgres:CONNECT",
        "postgres:pg_read_all_settings",
        "postgres:SELECT ON pg_hba_file_rules",
        "postgres:EXECUTE ON FUNCTION pg_hba_file_rules()",
    }
