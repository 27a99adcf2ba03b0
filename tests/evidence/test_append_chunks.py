"""A batch larger than an append's chunk: one transaction, one chain, one tree, one index,
each entry read once; on every backend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

import pytest
from evidence_backends import Backend

from assay.evidence import CanonicalError, SigningKey, verify_ledger
from assay.evidence.backends.dbapi import _APPEND_CHUNK
from assay.evidence.merkle import Frontier, leaf_hash
from assay.evidence.record import GENESIS_PREV, seal_batch

SIZE = 2 * _APPEND_CHUNK + 7  # two whole chunks and a part


def run_entries(run: str, results: int) -> list[dict[str, Any]]:
    at = "2024-05-01T02:00:00Z"
    return [
        {"kind": "run_started", "at": at, "run": run, "profile": "p.yaml", "targets": []},
        *({"kind": "result", "at": at, "run": run, "n": i} for i in range(results)),
        {"kind": "run_finished", "at": at, "run": run, "counts": {"pass": results}},
    ]


class Reads(Sequence[dict[str, Any]]):
    """`entries`, noting which index each read asked for."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.entries = entries
        self.read: list[int] = []

    def __len__(self) -> int:
        return len(self.entries)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        wanted = range(len(self))[index]
        if isinstance(wanted, int):
            self.read.append(wanted)
            return self.entries[wanted]
        self.read += wanted
        return [self.entries[i] for i in wanted]


def test_a_batch_of_several_chunks_is_the_batch_sealed_whole(
    backend: Backend, log_key: SigningKey
) -> None:
    before = run_entries("r-0", 3)
    entries = run_entries("r-1", SIZE - 2)
    with backend.open() as ledger:
        ledger.append(before, key=log_key)
        reads = Reads(entries)
        appended = ledger.append(reads, key=log_key)
        # Read once each, in order: a sequence that builds entries is never held whole.
        assert reads.read == list(range(SIZE))
        # The same records as sealing the batch in one go after the earlier ones...
        first = seal_batch(before, 0, GENESIS_PREV)
        expected = seal_batch(entries, len(before), first[-1].hash)
        stored = list(ledger.records())
        assert (appended.first, appended.count) == (len(before), SIZE)
        assert [(r.seq, r.hash, r.body) for r in stored[len(before) :]] == [
            (r.seq, r.hash, r.body) for r in expected
        ]
        assert appended.head == expected[-1].hash
        assert [r.body for r in stored] == [r.body for r in first + expected]
        # ...one tree over all of them, signed at the batch's end...
        tree = Frontier()
        for record in stored:
            tree.append(leaf_hash(record.body))
        checkpoint = appended.checkpoint
        assert checkpoint is not None
        assert (checkpoint.size, checkpoint.root) == (len(stored), tree.root())
        assert verify_ledger(ledger, [log_key.verifier]).ok
        # ...and one run in the index, as a rebuild from the records makes it.
        [run] = ledger.runs(profile="p.yaml", limit=1)
        assert (run.run, run.first_seq, run.last_seq) == ("r-1", len(before), len(stored) - 1)
        assert (run.records, run.results, run.starts, run.finishes) == (SIZE, SIZE - 2, 1, 1)
        assert [r.seq for r in ledger.run_records("r-1")] == [r.seq for r in expected]
        indexed = ledger.runs()
        ledger.rebuild_run_index()
        assert ledger.runs() == indexed


def test_a_bad_entry_past_the_first_chunk_is_named_and_nothing_is_written(
    backend: Backend, log_key: SigningKey
) -> None:
    entries = run_entries("r-1", SIZE - 2)
    bad = _APPEND_CHUNK + 3
    entries[bad] = {**entries[bad], "score": 0.5}
    with backend.open() as ledger:
        ledger.append(run_entries("r-0", 1), key=log_key)
        nodes = ledger.node_count()
        with pytest.raises(CanonicalError, match=rf"^entry {bad} of the batch: .*float"):
            ledger.append(entries, key=log_key)
        assert ledger.count() == 3
        assert [r.run for r in ledger.runs()] == ["r-0"]
        assert ledger.node_count() == nodes
        assert len(ledger.checkpoints()) == 1
        assert verify_ledger(ledger, [log_key.verifier]).ok
