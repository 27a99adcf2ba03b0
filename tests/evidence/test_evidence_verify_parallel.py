"""Verifying in aligned chunks across processes gives what one streaming pass gives."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from evidence_backends import Backend

from assay.evidence.verify import Walk, walk
from assay.evidence.verify_parallel import chunk_size, walk_parallel

SIZE = 53
SIZES = {0, 5, 8, 16, 17, 40, 53}


def whole(backend: Backend) -> Walk:
    with backend.open() as ledger:
        return walk(ledger.batch, SIZES)


def chunked(backend: Backend, chunk: int) -> Walk:
    return walk_parallel(backend.url, SIZE, SIZES, workers=2, chunk=chunk)


def same(a: Walk, b: Walk) -> None:
    # Frontiers may group subtrees differently at a chunk edge; the roots may not differ.
    assert (a.records, a.head, a.rotations) == (b.records, b.head, b.rotations)
    assert len(b.rotations) == (2 if b.records > 30 else 1 if b.records > 3 else 0)
    assert (a.root, a.roots) == (b.root, b.roots)
    assert (a.error is None) == (b.error is None)
    if a.error is not None:
        assert (a.error.seq, a.error.message) == (b.error.seq, b.error.message)  # type: ignore[union-attr]


TAMPERING: dict[str, Callable[[Backend], None]] = {
    "untouched": lambda b: None,
    "edited body": lambda b: b.execute("UPDATE records SET body = body || ' ' WHERE seq = 21"),
    "row at a chunk edge deleted": lambda b: b.execute("DELETE FROM records WHERE seq = 15"),
    "row after a chunk edge deleted": lambda b: b.execute("DELETE FROM records WHERE seq = 16"),
    "first row deleted": lambda b: b.execute("DELETE FROM records WHERE seq = 0"),
}


@pytest.mark.parametrize("tamper", sorted(TAMPERING))
@pytest.mark.parametrize("chunk", [8, 16])
def test_chunks_stitch_into_the_single_pass_result(
    backend: Backend, tamper: str, chunk: int
) -> None:
    with backend.open() as ledger:
        kinds = ["key_rotated" if i in (3, 30) else "result" for i in range(SIZE)]
        ledger.append([{"kind": kind, "n": i} for i, kind in enumerate(kinds)])
    TAMPERING[tamper](backend)
    same(chunked(backend, chunk), whole(backend))


def test_chunk_sizes_are_aligned_powers_of_two() -> None:
    assert chunk_size(1_000_000, 2) == 1 << 16
    assert chunk_size(10, 2) == 1 << 15
    with pytest.raises(ValueError, match="not a power of two"):
        walk_parallel("sqlite:///x.db", 10, (), 2, chunk=12)
