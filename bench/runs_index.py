"""Finding the baseline and trend: one streamed pass over every record vs the run index.

    python bench/runs_index.py [--records 1000000] [--run-size 5000] [--trend 10]
                               [--open-run 10000] [--pg-records 200000] [--no-pg]

Builds a SQLite ledger of about --records records: runs of --run-size results each
(with their run_started and run_finished records, results carrying first_seen and
fail_since), alternating between two sets of targets, appended in batches of 1,000 the
way a run is. Then, for the next run over one of the sets, times finding its baseline
and the last --trend runs' counts the old way (`ledger_history` streaming and decoding
every record) and through the index (`ledger_baseline`: the index, then the baseline's
own records by seq range), checks both found the same, and prints both times and their
ratio. It also times opening one run of --open-run results (index lookup by id prefix,
then its records read and decoded), listing the 50 newest runs, and rebuilding the
index from the records (what the migration of an older ledger costs).

The same on a throwaway local PostgreSQL server with --pg-records, when its binaries
are installed. Targets: the indexed baseline grows with the runs, not the records; a
run of 10,000 results opens in < 300 ms on a 1,000,000-record ledger.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assay.demo.local_postgres import find_bindir, local_postgres
from assay.engine.changes import ledger_baseline, ledger_history, run_index
from assay.evidence import SigningKey, open_ledger

AT = "2024-05-01T02:00:00Z"
TARGET_SETS = (["prod-aws", "prod-k8s"], ["staging-aws"])
BATCH = 1000


def run_entries(run: str, targets: list[str], results: int, offset: int) -> list[dict[str, Any]]:
    """A run as `assay evaluate` writes it, result records about 600 bytes each."""
    entries: list[dict[str, Any]] = [
        {
            "kind": "run_started",
            "at": AT,
            "run": run,
            "assay_version": "bench",
            "profile": "nightly",
            "snapshot_created_at": AT,
            "targets": [{"name": name, "provider": "aws"} for name in targets],
            "controls": ["aws-s3-default-encryption"],
        }
    ]
    for i in range(results):
        failed = (i + offset) % 7 == 0
        entries.append(
            {
                "kind": "result",
                "at": AT,
                "run": run,
                "control": {
                    "id": "aws-s3-default-encryption",
                    "severity": "high",
                    "frameworks": {"soc2": ["CC6.1", "CC6.7"]},
                    "check": "aws.s3.default_encryption",
                    "params": {},
                },
                "resource": {
                    "type": "aws.s3.bucket",
                    "id": f"arn:aws:s3:::bucket-{i}",
                    "name": f"bucket-{i}",
                    "scope": {"provider": "aws", "account": "123456789012", "target": targets[0]},
                },
                "status": "fail" if failed else "pass",
                "reason": "default encryption is aws:kms",
                "observed": {"algorithm": "aws:kms", "bucket_key": True},
                "waiver": None,
                "fingerprint": f"{i:032x}",
                "first_seen": AT,
                "fail_since": AT if failed else None,
            }
        )
    failed = sum(e.get("status") == "fail" for e in entries)
    entries.append(
        {
            "kind": "run_finished",
            "at": AT,
            "run": run,
            "fail_on": "high",
            "exit_code": 1,
            "counts": {
                "by_status": {"pass": results - failed, "fail": failed},
                "waived": 0,
                "expired_waivers": [],
                "criteria": [],
            },
            "collection_failures": [],
        }
    )
    return entries


def build(
    url: str, records: int, run_size: int, open_run: int, key: SigningKey | None = None
) -> tuple[int, str]:
    """Append runs until about `records` records, the last of `open_run` results, each
    batch signed with `key` if given; returns (records appended, the last run's id)."""
    appended, number, run = 0, 0, ""
    with open_ledger(url) as ledger:
        while appended < records:
            size = open_run if appended + run_size + 2 >= records else run_size
            run = str(uuid.uuid4())
            entries = run_entries(run, TARGET_SETS[number % 2], size, number)
            for start in range(0, len(entries), BATCH):
                ledger.append(entries[start : start + BATCH], key=key)
            appended += len(entries)
            number += 1
    return appended, run


def timed(action: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """The median seconds of `repeat` calls, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def compare(label: str, url: str, records: int, trend: int, last_run: str) -> None:
    targets = set(TARGET_SETS[0])
    with open_ledger(url, create=False) as opened:
        ledger = run_index(opened)
        streamed_s, (old_base, old_trend) = timed(
            lambda: ledger_history((r.record for r in ledger.records()), trend, targets)
        )
        indexed_s, (base, points) = timed(lambda: ledger_baseline(ledger, targets, trend), 5)
        assert (base.run_id, base.results, points) == (
            old_base.run_id,
            old_base.results,
            old_trend,
        ), "the index and the stream disagree"
        print(
            f"{label}, {records:,} records, {ledger.count():,} stored: baseline "
            f"({len(base.results):,} results) + trend of {len(points)} runs: streamed "
            f"{streamed_s * 1e3:,.0f} ms, indexed {indexed_s * 1e3:,.1f} ms "
            f"({streamed_s / indexed_s:,.0f}x)"
        )

        def open_run() -> int:
            [entry] = ledger.runs_with_prefix(last_run[:8], 2)
            return sum(1 for r in ledger.run_records(entry.run) if r.record["kind"] == "result")

        open_s, results = timed(open_run, 5)
        print(f"{label}: open a run of {results:,} results by id prefix: {open_s * 1e3:,.0f} ms")
        listed_s, runs = timed(lambda: ledger.runs(limit=50), 5)
        print(f"{label}: list the {len(runs)} newest runs: {listed_s * 1e3:,.2f} ms")
        rebuilt_s, _ = timed(ledger.rebuild_run_index)
        print(f"{label}: rebuild the index from every record: {rebuilt_s:,.1f} s")


def postgres(records: int, run_size: int, trend: int, open_run: int) -> None:
    if find_bindir() is None:
        print("PostgreSQL: server binaries not found (set PG_BIN); skipped")
        return
    with local_postgres() as server:
        appended, last = build(server.dsn, records, run_size, open_run)
        compare("PostgreSQL", server.dsn, appended, trend, last)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--run-size", type=int, default=5000)
    parser.add_argument("--trend", type=int, default=10)
    parser.add_argument("--open-run", type=int, default=10_000)
    parser.add_argument("--pg-records", type=int, default=200_000)
    parser.add_argument("--no-pg", action="store_true", help="Skip the PostgreSQL figures.")
    parser.add_argument("--dir", type=Path, help="Where to put the ledger (default: a temp dir).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        url = f"sqlite:///{Path(tmp) / 'ledger.db'}"
        started = time.perf_counter()
        appended, last = build(url, args.records, args.run_size, args.open_run)
        print(f"SQLite: built {appended:,} records in {time.perf_counter() - started:,.0f} s")
        compare("SQLite", url, appended, args.trend, last)
    if not args.no_pg:
        postgres(args.pg_records, args.run_size, args.trend, args.open_run)


if __name__ == "__main__":
    main()
