"""The PostgreSQL provider through the engine: profile -> plan -> collect -> evaluate,
on the demo schema, with the DSN's password kept out of everything written."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from assay.demo.local_postgres import LocalPostgres
from assay.demo.postgres import DEMO_SCHEMA, demo_target, seed_demo
from assay.engine.collect import collect, write_snapshot
from assay.engine.evaluate import evaluate
from assay.engine.planner import make_plan
from assay.errors import ConfigErrors

pytestmark = pytest.mark.integration

SECRET = "pw-" + uuid.uuid4().hex


@pytest.fixture
def app_role(pg_dsn: str) -> Iterator[str]:
    """A unique application role for the demo schema (roles are server-wide)."""
    role = "demo_app_" + uuid.uuid4().hex[:8]
    yield role
    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute(f"DROP OWNED BY {role}")
        con.execute(f"DROP ROLE {role}")


def write_profile(path: Path, targets: list[dict[str, Any]], app_role: str) -> Path:
    profile = {
        "controls": {"tags": ["postgres"]},
        "targets": targets,
        "params": {"postgres-tenant-app-role": {"app_role": app_role}},
    }
    path.write_text(yaml.safe_dump(profile), encoding="utf-8")
    return path


def test_the_demo_schema_through_the_engine(
    tmp_path: Path, postgres_server: LocalPostgres, pg_dsn: str, app_role: str
) -> None:
    seeded = seed_demo(pg_dsn, app_role)
    seed_demo(pg_dsn, app_role)  # seeding again rebuilds the same schema
    assert seeded["tables"]["leaking"] == f"{DEMO_SCHEMA}.projects"
    profile = write_profile(tmp_path / "assay.yaml", [demo_target(pg_dsn)], app_role)
    plan = make_plan(profile)
    snap = collect(plan, workers=4, timeout=30)
    assert snap.failures == []
    assert snap.targets[0]["identity"]["user"] == "postgres"
    verdicts = {
        (f.control.control.id, f.resource["name"]): f.status.value for f in evaluate(plan, snap)
    }
    tables = seeded["tables"]
    for control, expected in {
        "postgres-tenant-rls-forced": ("pass", "fail", "not_applicable"),
        "postgres-tenant-policy": ("pass", "fail", "not_applicable"),
        "postgres-tenant-app-role": ("pass", "fail", "not_applicable"),
    }.items():
        found = tuple(
            verdicts[(control, tables[kind])] for kind in ("isolated", "leaking", "not_tenant")
        )
        assert found == expected, control
    server = f"127.0.0.1:{postgres_server.port}/{pg_dsn.rsplit('/', 1)[1]}"
    assert verdicts[("postgres-ssl", server)] == "fail"
    assert verdicts[("postgres-superusers-allowlisted", "postgres")] == "pass"


def test_a_password_in_the_environment_never_reaches_the_snapshot(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    postgres_server: LocalPostgres,
    pg_dsn: str,
    app_role: str,
) -> None:
    seed_demo(pg_dsn, app_role)
    dbname = pg_dsn.rsplit("/", 1)[1]
    # The session server trusts loopback, so the password is carried but never checked.
    monkeypatch.setenv("ASSAY_TEST_PG_DSN", postgres_server.dsn_for("postgres", SECRET, dbname))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("ASSAY_TEST_PG_DOWN", f"postgresql://postgres:{SECRET}@127.0.0.1:{closed}/x")
    targets = [
        {"name": "db", "provider": "postgres", "dsn_env": "ASSAY_TEST_PG_DSN"},
        {"name": "down", "provider": "postgres", "dsn_env": "ASSAY_TEST_PG_DOWN"},
    ]
    plan = make_plan(write_profile(tmp_path / "assay.yaml", targets, app_role))
    snap = collect(plan, workers=4, timeout=30)
    path = tmp_path / "snapshot.jsonl"
    write_snapshot(snap, path)
    text = path.read_text()
    assert SECRET not in text
    assert any(r["scope"]["target"] == "db" for r in snap.resources)
    [down] = [t for t in snap.targets if t["name"] == "down"]
    assert "cannot connect to" in down["error"] and "password=***" in down["error"]
    findings = evaluate(plan, snap)
    assert all(SECRET not in f.result.reason for f in findings)


def test_a_profile_with_a_password_in_a_literal_dsn_is_refused(tmp_path: Path) -> None:
    targets = [{"name": "db", "provider": "postgres", "dsn": f"postgresql://a:{SECRET}@h/db"}]
    with pytest.raises(ConfigErrors) as info:
        make_plan(write_profile(tmp_path / "assay.yaml", targets, "app"))
    [error] = info.value.errors
    assert error.field == "targets[0].dsn"
    assert "profiles get committed" in error.message
    assert SECRET not in str(info.value)
