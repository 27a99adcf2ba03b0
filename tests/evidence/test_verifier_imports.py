"""Verifying a SQLite ledger loads only what verification needs: the verifier's memory is
mostly modules, so a PostgreSQL driver or a TSA client loaded for nothing shows in every
auditor's peak (bench/ledger.py measures it; this checks what is imported)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from assay.evidence import SigningKey, open_ledger

# Needed to write to PostgreSQL, or to ask or check timestamps and cosignatures online.
UNNEEDED = ("psycopg", "rfc3161_client", "cryptography.x509", "urllib.request", "http.client")

VERIFY = """
import json, sys
from assay.engine.cli.main import cli
try:
    cli(sys.argv[1:], prog_name="assay")
except SystemExit as exc:
    print(json.dumps({"code": exc.code, "modules": sorted(sys.modules)}))
"""


def test_verifying_a_sqlite_ledger_loads_no_driver_or_online_client(tmp_path: Path) -> None:
    key = SigningKey.generate("imports.example/evidence")
    (tmp_path / "key.pub").write_text(f"{key.verifier}\n")
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with open_ledger(url) as ledger:
        ledger.append([{"kind": "result", "n": i} for i in range(3)], key=key)
    argv = ["evidence", "verify", "--ledger", url, "--key", str(tmp_path / "key.pub")]
    out = subprocess.run(
        [sys.executable, "-c", VERIFY, *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["code"] == 0, out.stdout
    loaded = [m for m in result["modules"] if m.startswith(UNNEEDED)]
    assert loaded == []
