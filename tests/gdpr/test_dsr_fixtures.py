"""Schemas beside the shipped example, each with its expected results written down first
(`fixtures/*/expected.yaml`), run through the command line on SQLite and PostgreSQL:
access finds the expected rows, a dry run changes nothing, an erasure deletes and changes
exactly the expected rows and cells (every other cell stays), and an access afterwards
finds only what stays (held and shared rows). Where a case writes down a rectification,
it changes exactly the cells listed, and the corrections it must refuse are refused with
nothing written."""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from click.testing import CliRunner, Result

from assay.engine.cli.main import cli
from assay.evidence import open_ledger

FIXTURES = Path(__file__).parent / "fixtures"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "expected.yaml").is_file())
RECTIFIED = [
    c
    for c in CASES
    if "rectification" in yaml.safe_load((FIXTURES / c / "expected.yaml").read_text())
]


class Database:
    def __init__(self, kind: str, dsn: str) -> None:
        self.kind, self.dsn = kind, dsn

    def load(self, script: str) -> None:
        if self.kind == "sqlite":
            con = sqlite3.connect(self.dsn)
            con.executescript(script)
            con.close()
            return
        with psycopg.connect(self.dsn, autocommit=True) as con:
            con.execute(script.encode())

    def dump(self) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
        """Every table: its column names and its rows, sorted."""
        if self.kind == "sqlite":
            con = sqlite3.connect(self.dsn)
            try:
                names = [
                    r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
                ]
                out = {}
                for n in names:
                    cur = con.execute(f'SELECT * FROM "{n}"')
                    out[n] = ([d[0] for d in cur.description], sorted(cur.fetchall(), key=repr))
                return out
            finally:
                con.close()
        with psycopg.connect(self.dsn) as con:
            names = [
                r[0]
                for r in con.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            ]
            out = {}
            for n in names:
                cur = con.execute(f'SELECT * FROM "{n}"')
                cols = [d.name for d in cur.description or []]
                out[n] = (cols, sorted(cur.fetchall(), key=repr))
            return out


def matches(columns: list[str], row: tuple[Any, ...], where: dict[str, Any]) -> bool:
    return all(str(row[columns.index(c)]) == str(v) for c, v in where.items())


def expected_after(before: dict[str, Any], erasure: dict[str, Any]) -> dict[str, Any]:
    """`before` with the expected deletions and changes applied; each must hit a row."""
    after = {t: (cols, list(rows)) for t, (cols, rows) in before.items()}
    for d in erasure["delete"]:
        cols, rows = after[d["table"]]
        kept = [r for r in rows if not matches(cols, r, d["where"])]
        assert len(kept) < len(rows), f"expected deletion matches no row: {d}"
        after[d["table"]] = (cols, kept)
    for c in erasure["change"]:
        cols, rows = after[c["table"]]
        hit = [i for i, r in enumerate(rows) if matches(cols, r, c["where"])]
        assert len(hit) == 1, f"expected change matches {len(hit)} rows: {c}"
        row = list(rows[hit[0]])
        for col, value in c["set"].items():
            row[cols.index(col)] = value
        rows[hit[0]] = tuple(row)
    return {t: (cols, sorted(rows, key=repr)) for t, (cols, rows) in after.items()}


def comparable(dump: dict[str, Any]) -> dict[str, Any]:
    """Values as text (engines return dates and numbers as different types)."""
    return {
        t: sorted([None if v is None else str(v) for v in r] for r in rows)
        for t, (_, rows) in dump.items()
    }


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if request.param == "sqlite":
        return Database("sqlite", str(tmp_path / "fixture.db"))
    return Database("postgresql", request.getfixturevalue("pg_dsn"))


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["dsr", *args], catch_exceptions=False)


def request(kind: str, identity: str) -> str:
    res = run("new", "--type", kind, "--identity", identity)
    assert res.exit_code == 0, res.output
    rid = re.match(r"(DSR-\S+) received", res.output)
    assert rid, res.output
    assert run("verify", rid.group(1), "--method", "test").exit_code == 0
    return rid.group(1)


def access_rows(identity: str, out: Path) -> dict[str, int]:
    rid = request("access", identity)
    res = run("access", "--request", rid, "--identity", identity, "--out", str(out), "-f", "json")
    assert res.exit_code == 0, res.output
    return {t["table"]: t["rows"] for t in json.loads(res.stdout)["tables"] if t["rows"]}


@pytest.mark.parametrize("case", CASES)
def test_a_schema_gives_exactly_the_results_written_down_for_it(
    case: str, engine: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = FIXTURES / case
    expected = yaml.safe_load((folder / "expected.yaml").read_text())
    engine.load((folder / "schema.sql").read_text())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FIXTURE_DB", engine.dsn)
    monkeypatch.setenv("ASSAY_DATAMAP", str(folder / "datamap.yaml"))
    subject = expected["subject"]

    lint = run("lint", "-f", "json")
    assert lint.exit_code == 0, lint.output
    assert access_rows(subject, tmp_path / "before.zip") == expected["access"]

    before = engine.dump()
    rid = request("erasure", subject)
    dry = run("erase", "--request", rid, "--identity", subject, "--dry-run", "-f", "json")
    assert dry.exit_code == 0, dry.output
    assert engine.dump() == before
    unreadable = [
        {"table": t["table"], **u}
        for t in json.loads(dry.stdout)["plan"]["tables"]
        for u in t["unreadable_anchors"]
    ]
    assert sorted(unreadable, key=repr) == sorted(
        expected["erasure"]["unreadable_anchors"], key=repr
    )

    done = run("erase", "--request", rid, "--identity", subject, "-f", "json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["state"] == "completed"
    assert comparable(engine.dump()) == comparable(expected_after(before, expected["erasure"]))

    again = expected["reaccess"]
    assert access_rows(again["subject"], tmp_path / "after.zip") == again["rows"]


@pytest.mark.parametrize("case", RECTIFIED)
def test_a_rectification_changes_exactly_the_cells_written_down(
    case: str, engine: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = FIXTURES / case
    spec = yaml.safe_load((folder / "expected.yaml").read_text())["rectification"]
    engine.load((folder / "schema.sql").read_text())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FIXTURE_DB", engine.dsn)
    monkeypatch.setenv("ASSAY_DATAMAP", str(folder / "datamap.yaml"))
    subject = spec["subject"]
    changes = [*(("--set", a) for a in spec.get("set", [])),
               *(("--clear", c) for c in spec.get("clear", []))]  # fmt: skip
    args = ["--identity", subject, *(word for pair in changes for word in pair)]
    # What the command says per table: the columns it sets, and how many rows.
    columns: dict[str, list[str]] = {}
    for _, target in changes:
        table, column = target.partition("=")[0].split(".")
        columns.setdefault(table, []).append(column)
    rows = Counter(c["table"] for c in spec["change"])

    left = spec.get("left", {})

    def said(verb: str) -> set[str]:
        lines = set()
        for t, cols in columns.items():
            line = f"{t}: {', '.join(cols)}: {rows[t]} row{'s' if rows[t] != 1 else ''} {verb}"
            if left.get(t):
                line += f"; {left[t]} row{'s' if left[t] != 1 else ''} left: the column is"
                line += " another person's there"
            lines.add(line)
        return lines

    before = engine.dump()
    rid = request("rectification", subject)
    dry = run("rectify", "--request", rid, *args, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert set(dry.stdout.splitlines()) == said("would change")
    assert engine.dump() == before

    done = run("rectify", "--request", rid, *args)
    assert done.exit_code == 0, done.output
    assert set(done.stdout.splitlines()) == said("updated")
    after = engine.dump()
    expected = expected_after(before, {"delete": [], "change": spec["change"]})
    assert comparable(after) == comparable(expected)
    with open_ledger("sqlite:///.assay/ledger.db") as ledger:
        steps = [s.record for s in ledger.records() if s.record.get("request") == rid]
        bodies = b"".join(s.body for s in ledger.records())
    assert [s["event"] for s in steps][-3:] == ["planned", "executed", "completed"]
    for _, target in changes:
        value = target.partition("=")[2]
        assert not value or value.encode() not in bodies  # digests only, never the values

    warned = {f["where"]: f["message"] for f in json.loads(run("lint", "-f", "json").stdout)}
    for refusal in spec.get("refused", []):
        if "lint" in refusal:  # lint warns of the column beforehand
            assert refusal["lint"] in warned[refusal["set"].partition("=")[0]]
        who = refusal.get("subject", subject)
        other = request("rectification", who)
        res = run("rectify", "--request", other, "--identity", who, "--set", refusal["set"])
        assert res.exit_code == 2, res.output
        assert refusal["message"] in res.stderr
        assert engine.dump() == after
        status = json.loads(run("status", "-f", "json").stdout)
        assert {r["request"]: r["state"] for r in status}[other] == "verified"
