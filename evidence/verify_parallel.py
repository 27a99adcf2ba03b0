"""`verify.walk` over a large ledger in parallel: aligned chunks in worker processes.

The log is cut at multiples of a power of two, so each chunk is one complete Merkle
subtree (but the last). A worker opens the ledger by URL, verifies its chunk starting
from the hash of the record before it, and returns the chunk's frontier at the sizes
asked for. Stitching the chunks in order gives exactly what one `walk` over the whole
ledger gives, including which record is the first bad one. Bundles are verified the
same way (`bundle_records`), from chunks of their records.jsonl.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

from assay.evidence.merkle import Frontier, node_hash
from assay.evidence.record import GENESIS_PREV, record_hash
from assay.evidence.verify import LogVerificationError, TreeLevel, VerificationError, Walk, walk

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

    from assay.evidence.proven_time import TimeBounds

MIN_CHUNK = 1 << 15
PARALLEL_MIN = 4 * MIN_CHUNK
"""Below this many records, starting worker processes costs more than it saves."""
CHUNKS_PER_WORKER = 4  # smaller chunks than workers, so a slow one does not hold the rest


def chunk_size(size: int, workers: int) -> int:
    """A power of two giving about CHUNKS_PER_WORKER chunks per worker, at least MIN_CHUNK."""
    target = max(size // (workers * CHUNKS_PER_WORKER), 1)
    return max(1 << (target.bit_length() - 1), MIN_CHUNK)


def _walk_chunk(
    url: str, start: int, stop: int, sizes: list[int], bounds: TimeBounds | None
) -> Walk:
    # Imported here: bundles are verified with this module too, and need no database.
    from assay.evidence.ledger import open_ledger

    with open_ledger(url, create=False) as ledger:
        prev = GENESIS_PREV
        if start > 0:
            before = ledger.record(start - 1)
            # A missing record before the chunk is the previous chunk's finding.
            prev = record_hash(before.body) if before is not None else "(missing)"
        return walk(
            ledger.batch,
            sizes,
            start=start,
            prev=prev,
            stop=stop,
            tree=ledger,
            bounds=bounds,
        )


def walk_parallel(
    url: str,
    size: int,
    root_sizes: Collection[int],
    workers: int,
    chunk: int | None = None,
    bounds: TimeBounds | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> Walk:
    """What `walk(ledger.batch, root_sizes, tree=ledger)` returns, for the
    `size` records at `url`, except that stored tree nodes above the chunks' level
    (``chunk_size(size, workers)``) are not compared: `check_upper_tree` does that.
    With `bounds`, each chunk checks claimed times against a fresh copy.

    Rows beyond seq ``size - 1`` are not read. `chunk` (a power of two) overrides
    `chunk_size`. `meanwhile` runs here while the workers walk.
    """
    chunk = chunk or chunk_size(size, workers)
    if chunk & (chunk - 1):
        raise ValueError(f"chunk {chunk} is not a power of two")
    level = chunk.bit_length() - 1
    starts = range(0, size, chunk)
    stops = [min(start + chunk, size) for start in starts]
    # Imported here: a verification that starts no worker never loads it.
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers, mp_context=context()) as pool:
        futures = [
            pool.submit(
                _walk_chunk,
                url,
                start,
                stop,
                [s for s in root_sizes if start < s <= stop or s == start == 0],
                None if bounds is None else bounds.fresh(),
            )
            for start, stop in zip(starts, stops, strict=True)
        ]
        if meanwhile is not None:
            meanwhile()
        parts = [future.result() for future in futures]
    return stitch(parts, stops, level)


def context() -> BaseContext:
    """How verification workers start: by fork when that is safe, else by spawn."""
    # fork starts workers at once and never re-imports __main__ (spawn re-runs an entry
    # module that lacks a main guard); it is only safe while no other thread runs.
    import multiprocessing

    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


class Stitch:
    """Consecutive chunks' `Walk`s joined as they come, as if a single walk had gone
    through them all; only the joined state is kept, however many chunks there are.

    The first part holds absolute frontiers (it starts at 0, or was walked with the
    tree before it); every later one starts at a multiple of ``2**level`` and, but the
    last, covers ``2**level`` records, up to its `stop`. A part but the last that ends
    before its stop means a missing row.
    """

    def __init__(self, level: int) -> None:
        self.level = level
        self.merged: Walk | None = None
        self.done = False
        self._tree: Frontier | None = None
        self._short: int | None = None  # where the previous part ended before its stop

    def add(self, part: Walk, stop: int) -> None:
        """Join the next part (ignored once `done`: an error was found)."""
        if self.done:
            return
        merged = self.merged
        if merged is None:
            merged = self.merged = Walk(start=part.start)
        elif self._short is not None:
            merged.error = VerificationError(
                self._short, "row missing: the ledger ends before its last record"
            )
            self.done = True
            return
        before = [] if self._tree is None else self._tree.hashes()
        for size, stack in part.stacks.items():
            merged.stacks[size] = before + stack
        merged.rotations += part.rotations
        merged.adoptions += part.adoptions
        merged.tree_error = merged.tree_error or part.tree_error
        if part.times is not None:
            if merged.times is None:
                merged.times = part.times
            else:
                merged.times.merge(part.times)
        end = part.start + part.records
        merged.records = end - merged.start
        merged.head = part.head or merged.head
        merged.final = before + part.final
        if part.error is not None:
            merged.error = part.error
            self.done = True
            return
        if end < stop:
            self._short = end
        elif self._tree is None:
            self._tree = Frontier(end, part.final)
        elif part.records == 1 << self.level:  # not the last part, shorter than a chunk
            self._tree.append_subtree(self.level, part.final[0])


def stitch(parts: list[Walk], stops: list[int], level: int) -> Walk:
    """`Stitch` over a list of parts."""
    joined = Stitch(level)
    for part, stop in zip(parts, stops, strict=True):
        joined.add(part, stop)
    assert joined.merged is not None, "no parts to stitch"
    return joined.merged


def check_upper_tree(level_of: TreeLevel, size: int, above: int) -> LogVerificationError | None:
    """Compare the stored tree nodes of levels above `above` with the ones their stored
    children give (those children already checked), level by level in flat memory."""
    for level in range(above + 1, size.bit_length()):
        children = level_of(level - 1, 0)
        parents = level_of(level, 0)
        for index in range(size >> level):
            left, right = next(children, None), next(children, None)
            stored = next(parents, None)
            if left is None or right is None:
                return LogVerificationError(
                    "tree", f"tree node (level {level - 1}) below index {index} is missing"
                )
            value = node_hash(left[1], right[1])
            if stored is None or stored[0] != index:
                message = "is missing"
            elif stored[1] != value:
                message = f"got {stored[1].hex()}, expected {value.hex()}"
            else:
                continue
            return LogVerificationError(
                "tree",
                f"tree node (level {level}, index {index}) {message} (from the nodes below it)",
            )
    return None
