"""Shared fixtures: a small third-party-style check, registered through the public API."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from pydantic import BaseModel, ConfigDict
from widgets import WIDGET_CONTROL

from assay.checks import Result, attribute, check
from assay.demo.local_postgres import LocalPostgres, local_postgres


class LockParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_level: int = 1


@check(
    "test.widget.locked", resource="test.widget", permissions=["test:Describe"], params=LockParams
)
def widget_locked(resource: dict[str, Any], params: LockParams) -> Result:
    level = attribute(resource, "lock_level")
    if level is None:
        return Result.failed("widget has no lock", lock_level=None)
    if level >= params.min_level:
        return Result.passed(f"lock level {level} >= {params.min_level}", lock_level=level)
    return Result.failed(f"lock level {level} < {params.min_level}", lock_level=level)


@check("test.widget.explodes", resource="test.widget", permissions=["test:Describe"])
def widget_explodes(resource: dict[str, Any], params: Any) -> Result:
    raise RuntimeError("boom")


@pytest.fixture
def controls_dir(tmp_path: Path) -> Path:
    d = tmp_path / "controls"
    d.mkdir()
    (d / "test-widget-locked.yaml").write_text(WIDGET_CONTROL)
    return d


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of Debian's chromium; the test is skipped without it (failed in CI)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs it")
        pytest.skip("chromium is not installed")
    return path


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    """One real PostgreSQL server for the whole test session (initdb + pg_ctl on a temp dir)."""
    with local_postgres() as server:
        yield server


@pytest.fixture
def pg_dsn(postgres_server: LocalPostgres, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty database on the session's server; dropped after the test."""
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_server.dsn, autocommit=True) as con:
        con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield postgres_server.dsn_for("postgres", dbname=name)
    with psycopg.connect(postgres_server.dsn, autocommit=True) as con:
        con.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
