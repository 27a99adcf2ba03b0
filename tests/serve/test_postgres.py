"""The console over a PostgreSQL ledger: the same pages and proofs as over SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIRST, SECOND, record_runs
from starlette.testclient import TestClient

from assay.engine.collect import now_rfc3339
from assay.serve.app import create_app
from assay.serve.console import open_console
from assay.serve.tokens import Role, TokenStore

pytestmark = pytest.mark.integration


def test_runs_findings_and_proofs_from_a_postgres_ledger(pg_dsn: str, tmp_path: Path) -> None:
    evidence = record_runs(tmp_path / "ws", FIRST, SECOND, ledger_url=pg_dsn)
    store = TokenStore(tmp_path / "tokens.json")
    token, _ = store.create("auditor", Role.AUDITOR, now_rfc3339())
    console = open_console(
        pg_dsn, keys=[evidence.key.verifier], tokens=store, profile=evidence.profile
    )
    auth = {"Authorization": f"Bearer {token}"}
    try:
        with TestClient(create_app(console), base_url="http://127.0.0.1") as client:
            runs = client.get("/api/v1/runs", headers=auth).json()
            assert [r["run"] for r in runs] == evidence.runs[::-1]
            assert runs[0]["checkpoint"].startswith("example.com/evidence/console@")
            run = client.get(f"/api/v1/runs/{evidence.runs[1]}", headers=auth).json()
            assert run["changes"]["new_failure"] == 2 and run["baseline"] == evidence.runs[0]
            new = client.get(
                f"/api/v1/runs/{evidence.runs[1]}/findings?change=new_failure", headers=auth
            ).json()
            assert sorted(f["resource_name"] for f in new["findings"]) == ["w1", "w4"]
            seq = new["findings"][0]["seq"]
            proof = client.get(f"/api/v1/records/{seq}", headers=auth).json()
            assert proof["verdict"] == "verified"
            page = client.get(f"/runs/{evidence.runs[1]}", headers=auth)
            assert page.status_code == 200 and "2 new failures" in page.text
    finally:
        console.close()
