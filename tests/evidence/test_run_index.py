"""The run index agrees with a full scan of the records, on every backend: after runs
over different targets, an interrupted run, a run whose shards append in batches of
their own between other runs, a migration of a ledger written before the index, and a
dropped or tampered index. It is never evidence: verification ignores it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from evidence_backends import Backend
from schema_versions import set_back, version_before

from assay.engine.changes import ledger_baseline, ledger_history, run_index
from assay.evidence import Ledger, SigningKey, sign_checkpoint, verify_ledger
from assay.evidence.backends import postgres_schema, sqlite_schema
from assay.evidence.backends.run_index import RunEntry


def started(run: str, targets: Sequence[str], at: str, profile: str = "nightly") -> dict[str, Any]:
    return {
        "kind": "run_started",
        "at": at,
        "run": run,
        "profile": profile,
        "targets": [{"name": t} for t in targets],
    }


def result(run: str, fp: str, status: str, at: str) -> dict[str, Any]:
    """A result as runs write them now, its dates carried (here: as if first seen now)."""
    return {
        "kind": "result",
        "at": at,
        "run": run,
        "control": {"id": "c1"},
        "resource": {"id": f"r:{fp}"},
        "status": status,
        "fingerprint": fp,
        "first_seen": at,
        "fail_since": at if status == "fail" else None,
    }


def finished(run: str, at: str, failed: int) -> dict[str, Any]:
    counts = {
        "by_status": {"fail": failed},
        "waived": 0,
        "expired_waivers": [],
        "criteria": [
            {"framework": "soc2", "criterion": "CC6.1", "passed": 0, "failed": failed,
             "waived": 0, "errors": 0},
        ],
    }  # fmt: skip
    return {"kind": "run_finished", "at": at, "run": run, "counts": counts}


def whole_run(
    run: str, targets: Sequence[str], at: str, statuses: dict[str, str]
) -> list[dict[str, Any]]:
    return [
        started(run, targets, at),
        *(result(run, fp, status, at) for fp, status in statuses.items()),
        finished(run, at, sum(s == "fail" for s in statuses.values())),
    ]


def scan(ledger: Ledger) -> list[RunEntry]:
    """The index as a full scan of the records says it should be, newest first."""
    found: dict[str, dict[str, Any]] = {}
    for stored in ledger.records():
        rec = stored.record
        if not isinstance(rec.get("run"), str):
            continue
        run = found.setdefault(rec["run"], {"seqs": [], "starts": [], "ends": [], "results": 0})
        run["seqs"].append(stored.seq)
        if rec["kind"] == "run_started":
            run["starts"].append(rec)
        elif rec["kind"] == "run_finished":
            run["ends"].append(rec)
        elif rec["kind"] == "result":
            run["results"] += 1
    entries = [
        RunEntry(
            run=run_id,
            profile=run["starts"][0]["profile"] if run["starts"] else None,
            targets=tuple(sorted({t["name"] for s in run["starts"] for t in s["targets"]})),
            first_seq=run["seqs"][0],
            last_seq=run["seqs"][-1],
            records=len(run["seqs"]),
            results=run["results"],
            starts=len(run["starts"]),
            finishes=len(run["ends"]),
            started_at=run["starts"][0]["at"] if run["starts"] else None,
            finished_at=run["ends"][-1]["at"] if run["ends"] else None,
            counts=tuple(end["counts"] for end in run["ends"]),
        )
        for run_id, run in found.items()
    ]
    return sorted(entries, key=lambda e: e.last_seq, reverse=True)


def agrees_with_a_scan(ledger: Ledger) -> None:
    indexed = run_index(ledger)
    assert indexed.runs() == scan(ledger)
    for entry in scan(ledger):
        expected = [s for s in ledger.records() if s.record.get("run") == entry.run]
        assert list(indexed.run_records(entry.run)) == expected


def plain_runs(ledger: Ledger) -> None:
    """Runs over {x, y} and {z}, an interrupted one, a record of no run."""
    ledger.append(
        whole_run("a-1", ["x", "y"], "2024-05-01T00:00:00Z", {"f1": "fail", "f2": "pass"})
    )
    ledger.append([{"kind": "note", "at": "2024-05-01T00:30:00Z"}])
    ledger.append(whole_run("b-1", ["z"], "2024-05-01T01:00:00Z", {"f3": "fail"}))
    interrupted = whole_run("c-1", ["x", "y"], "2024-05-02T00:00:00Z", {"f1": "pass"})[:-1]
    ledger.append(interrupted)
    ledger.append([started("d-1", ["z"], "2024-05-03T00:01:00Z")])
    ledger.append([result("d-1", "f3", "fail", "t"), finished("d-1", "2024-05-03T00:03:00Z", 1)])
    ledger.append(
        whole_run("e-1", ["y", "x"], "2024-05-04T00:00:00Z", {"f1": "fail", "f5": "pass"})
    )


def several_runs(ledger: Ledger) -> None:
    """`plain_runs`, and among them a run sharded over {x, y} and {z} whose two shards
    append in batches of their own between the batches of other runs."""
    ledger.append(
        whole_run("a-1", ["x", "y"], "2024-05-01T00:00:00Z", {"f1": "fail", "f2": "pass"})
    )
    ledger.append([{"kind": "note", "at": "2024-05-01T00:30:00Z"}])  # of no run
    ledger.append(whole_run("b-1", ["z"], "2024-05-01T01:00:00Z", {"f3": "fail"}))
    interrupted = whole_run("c-1", ["x", "y"], "2024-05-02T00:00:00Z", {"f1": "pass"})[:-1]
    ledger.append(interrupted)
    ledger.append(
        [started("s-1", ["x", "y"], "2024-05-03T00:00:00Z"), result("s-1", "f1", "fail", "t")]
    )
    ledger.append([started("d-1", ["z"], "2024-05-03T00:01:00Z")])
    ledger.append([started("s-1", ["z"], "2024-05-03T00:02:00Z"), result("s-1", "f3", "pass", "t")])
    ledger.append([result("d-1", "f3", "fail", "t"), finished("d-1", "2024-05-03T00:03:00Z", 1)])
    ledger.append([result("s-1", "f2", "pass", "t"), finished("s-1", "2024-05-03T00:04:00Z", 1)])
    ledger.append([result("s-1", "f4", "fail", "t")])
    ledger.append([finished("s-1", "2024-05-03T00:05:00Z", 1)])
    ledger.append(
        whole_run("e-1", ["y", "x"], "2024-05-04T00:00:00Z", {"f1": "fail", "f5": "pass"})
    )


def test_the_index_agrees_with_a_full_scan_after_several_runs(backend: Backend) -> None:
    with backend.open() as ledger:
        several_runs(ledger)
        agrees_with_a_scan(ledger)
        index = run_index(ledger)
        # Names as a set: order and repeats do not make other targets.
        done = index.runs(targets=["x", "y", "x"], finished=True)
        assert [e.run for e in done] == ["e-1", "a-1"]  # c-1 never finished
        assert [e.run for e in index.runs(targets=["x", "y"])] == ["e-1", "c-1", "a-1"]
        assert [e.run for e in index.runs(targets=["z"], finished=True, limit=1)] == ["d-1"]
        assert [e.run for e in index.runs(limit=2)] == ["e-1", "s-1"]
        assert index.runs(profile="weekly") == []
        # The sharded run: both shards' targets, results and counts, finished once both are.
        [sharded] = index.runs(targets=["x", "y", "z"])
        assert (sharded.starts, sharded.finishes, sharded.results) == (2, 2, 4)
        assert sharded.finished and len(sharded.counts) == 2
        assert [e.run for e in index.runs_with_prefix("s", 10)] == ["s-1"]
        assert [e.run for e in index.runs_with_prefix("", 3)] == ["a-1", "b-1", "c-1"]
        assert index.runs_with_prefix("s-1x", 10) == []
        assert list(index.run_records("no-such-run")) == []


def test_the_baseline_and_trend_from_the_index_are_the_streamed_ones(backend: Backend) -> None:
    with backend.open() as ledger:
        plain_runs(ledger)
        agrees_with_a_scan(ledger)
        records = [s.record for s in ledger.records()]
        for targets in ({"x", "y"}, {"z"}, {"w"}):
            for keep in (1, 2, 5):
                base, trend = ledger_baseline(run_index(ledger), targets, keep)
                streamed, streamed_trend = ledger_history(records, keep, targets)
                assert (base.run_id, base.at, base.results) == (
                    streamed.run_id,
                    streamed.at,
                    streamed.results,
                )
                assert trend == streamed_trend


def test_a_sharded_run_is_one_baseline_with_every_shards_results(backend: Backend) -> None:
    with backend.open() as ledger:
        several_runs(ledger)
        # A scan by run_started records would see shard 1 as a run over {x, y} alone.
        base, trend = ledger_baseline(run_index(ledger), {"x", "y", "z"}, 5)
        assert base.run_id == "s-1" and base.at == "2024-05-03T00:05:00Z"
        assert {fp: seen.status for fp, seen in base.results.items()} == {
            "f1": "fail", "f2": "pass", "f3": "pass", "f4": "fail"
        }  # fmt: skip
        [point] = trend
        assert point.counts["by_status"] == {"fail": 2}
        assert point.counts["criteria"][0]["failed"] == 2


def test_a_run_in_flight_is_not_a_baseline_until_every_shard_finishes(backend: Backend) -> None:
    with backend.open() as ledger:
        ledger.append(whole_run("old", ["x"], "2024-05-01T00:00:00Z", {"f1": "pass"}))
        ledger.append([started("new", ["x"], "2024-05-02T00:00:00Z")])
        ledger.append([started("new", ["x"], "2024-05-02T00:00:01Z")])
        ledger.append([finished("new", "2024-05-02T00:00:02Z", 0)])
        index = run_index(ledger)
        assert [e.run for e in index.runs(targets=["x"], finished=True)] == ["old"]
        ledger.append([finished("new", "2024-05-02T00:00:03Z", 0)])
        assert [e.run for e in index.runs(targets=["x"], finished=True)] == ["new", "old"]
        agrees_with_a_scan(ledger)


def big_history(ledger: Ledger) -> None:
    """More records than a page of either backend's backfill, one run over many batches
    interleaved with another's, so stretches of one run cross pages."""
    ledger.append([started("big", ["x"], "2024-05-01T00:00:00Z")])
    for batch in range(6):
        ledger.append([result("big", f"f{batch}-{i}", "pass", "t") for i in range(1000)])
        ledger.append([started(f"small-{batch}", ["y"], "t"), finished(f"small-{batch}", "t", 0)])
    ledger.append([finished("big", "2024-05-01T01:00:00Z", 0)])


def previous_version(backend: Backend) -> int:
    """The schema version before the run index's migration."""
    return version_before(backend, sqlite_schema.create_run_index, postgres_schema.fill_run_index)


def test_a_ledger_written_before_the_index_gains_it_on_open(backend: Backend) -> None:
    with backend.open() as ledger:
        big_history(ledger)
        several_runs(ledger)
        expected = scan(ledger)
    # What an older assay left: the same tables and records, no index, the version before.
    # checkpoint_attachments: a later migration's
    set_back(backend, previous_version(backend), ("run_segments", "runs", "checkpoint_attachments"))
    with backend.open() as ledger:
        assert run_index(ledger).runs() == expected
        agrees_with_a_scan(ledger)
        [big] = run_index(ledger).runs_with_prefix("big", 2)
        assert big.results == 6000 and big.first_seq == 0
        assert len(list(run_index(ledger).run_records("big"))) == 6002
        # And appends keep it from there.
        ledger.append(whole_run("after", ["x"], "2024-06-01T00:00:00Z", {"f1": "fail"}))
        agrees_with_a_scan(ledger)


@pytest.mark.parametrize("dropped", [("runs",), ("run_segments",), ("run_segments", "runs")])
def test_a_dropped_index_is_rebuilt_on_open(backend: Backend, dropped: tuple[str, ...]) -> None:
    with backend.open() as ledger:
        several_runs(ledger)
    for table in dropped:
        backend.execute(f"DROP TABLE {table}")
    with backend.open() as ledger:
        agrees_with_a_scan(ledger)


def tamper_with_the_index(backend: Backend) -> None:
    backend.execute("UPDATE runs SET finishes = 0, counts = '[]', targets_key = 'forged'")
    backend.execute("DELETE FROM run_segments WHERE run = 'e-1'")
    backend.execute(
        "INSERT INTO runs VALUES ('forged', NULL, '[]', 'k', 0, 1, 2, 2, 1, 1, NULL, NULL, '[]')"
    )


def test_a_tampered_index_is_rebuilt_from_the_records(backend: Backend) -> None:
    with backend.open() as ledger:
        several_runs(ledger)
    tamper_with_the_index(backend)
    with backend.open() as ledger:
        assert run_index(ledger).runs() != scan(ledger)
        run_index(ledger).rebuild_run_index()
        agrees_with_a_scan(ledger)


def test_a_tampered_index_neither_passes_nor_fails_verification(
    backend: Backend, log_key: SigningKey
) -> None:
    keys = [log_key.verifier]
    with backend.open() as ledger:
        several_runs(ledger)
        sign_checkpoint(ledger, log_key, adopt_tail=True, at="2024-06-01T00:00:00Z")
        honest = verify_ledger(ledger, keys)
    assert honest.ok
    tamper_with_the_index(backend)
    with backend.open() as ledger:
        assert verify_ledger(ledger, keys) == honest
    # A forged record fails however faithful the index is to it.
    backend.execute("UPDATE records SET body = ? WHERE seq = 1", (b'{"kind":"note"}',))
    with backend.open() as ledger:
        run_index(ledger).rebuild_run_index()
        broken = verify_ledger(ledger, keys)
    assert not broken.ok and "seq 1" in str(broken.error)
