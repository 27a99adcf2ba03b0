"""Streaming a bundle's records.jsonl through the record checks, in parallel when large.

The file is read once, in chunks of whole lines that end at multiples of a power of two
of records (`chunk_records`: `verify_parallel.MIN_CHUNK`, fewer when the manifest's size
says records are large, so a chunk stays near CHUNK_BYTES), so every chunk after the
first is one complete Merkle subtree; worker processes and this one walk the chunks
(`verify.walk`, `_Walkers`) and the results are stitched in order as they come
(`verify_parallel.Stitch`), as one walk over the whole would give. The first chunk is
walked with the tree left of the range, so every frontier is absolute. A chunk cannot
see the line before it, so the ``prev`` of its first record is checked against the
previous chunk's last hash when stitching.
"""

from __future__ import annotations

import fcntl
import zipfile
import zlib
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Iterator
from contextlib import nullcontext, suppress
from itertools import count, repeat
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any, Protocol, cast

import orjson
from isal import isal_zlib

from assay.errors import AssayError
from assay.evidence._scan import line_end
from assay.evidence.bundle.format import MANIFEST, RECORDS, Manifest
from assay.evidence.merkle import Frontier
from assay.evidence.record import GENESIS_PREV, Batch, Row, Take
from assay.evidence.verify import LogVerificationError, VerificationError, Walk, walk
from assay.evidence.verify_parallel import MIN_CHUNK, Stitch, context

if TYPE_CHECKING:
    from assay.evidence.proven_time import TimeBounds

READ = 1 << 18
CHUNK_BYTES = 1 << 19
"""About how much of records.jsonl one chunk holds in memory: the verifier holds a few
copies of it at once (the lines read, then split), a large share of its peak."""
CHUNK_BYTES_MAX = 16 << 20
"""More than this in one chunk is refused: records skewed to defeat the estimate (above
`verify.LINE_MAX`, so a single record of the most a line may hold still fits)."""
# isal's stubs give its error as an instance; it is the class ISA-L's inflate raises.
_ISAL_ERROR = cast(type[Exception], isal_zlib.error)
UNREADABLE = (
    zipfile.BadZipFile,
    zlib.error,
    _ISAL_ERROR,
    EOFError,
    OSError,
    NotImplementedError,
)
"""What reading a damaged zip member may raise (the last: an unknown compression)."""


def chunk_records(manifest: Manifest) -> int:
    """Records a chunk: MIN_CHUNK, halved while the records' average size (the signed
    manifest's) would make a chunk hold more than CHUNK_BYTES."""
    count = max(manifest.end - manifest.start, 1)
    average = manifest.files[RECORDS].size / count
    chunk = MIN_CHUNK
    while chunk > 1 and chunk * average > CHUNK_BYTES:
        chunk //= 2
    return chunk


class _LineCounting(Protocol):
    """records.jsonl as the verifier opens it: read in blocks, its newlines counted as read."""

    @property
    def lines(self) -> int: ...

    def read(self, size: int = -1, /) -> bytes: ...


class _Lines:
    """Reads records.jsonl in chunks of whole lines that end at multiples of `chunk`."""

    def __init__(self, member: _LineCounting, manifest: Manifest, chunk: int) -> None:
        self.member = member
        self.chunk = chunk
        self.start, self.end = manifest.start, manifest.end
        self.extra = False
        self.unterminated = False

    def chunks(self) -> Iterator[tuple[int, int, bytes]]:
        """(first seq, stop, bytes of the lines) per chunk; the last may fall short."""
        blocks: list[bytes] = []
        seq, held = self.start, 0
        stop = min(self.end, (seq // self.chunk + 1) * self.chunk)
        while True:
            block = self.member.read(READ)
            # The lines read and not yet handed out (the member counts them as it reads).
            lines = self.member.lines - (seq - self.start)
            if block:
                blocks.append(block)
                held += len(block)
                if held > CHUNK_BYTES_MAX and lines < stop - seq:
                    raise LogVerificationError(
                        RECORDS,
                        f"records {seq}..{stop - 1} take more than {CHUNK_BYTES_MAX >> 20} MiB, "
                        f"where the manifest's size gives them about {CHUNK_BYTES >> 10} KiB: "
                        "read no further",
                    )
            while seq < self.end and lines >= stop - seq:
                data = b"".join(blocks)
                cut = line_end(data, 0, stop - seq)
                yield seq, stop, data[:cut]
                blocks, lines = [data[cut:]], lines - (stop - seq)
                held = len(blocks[0])
                seq, stop = stop, min(self.end, stop + self.chunk)
            if not block:
                break
        rest = b"".join(blocks)
        self.unterminated = bool(rest) and not rest.endswith(b"\n")
        if seq < self.end:
            yield seq, stop, rest
        else:
            self.extra = bool(rest)


def line_batches(data: bytes, stop: int) -> Take:
    """A chunk of records.jsonl's lines, records up to seq `stop`, as batches (a `Take`):
    cut at newlines, never copied; the batch that reaches `stop` runs to the chunk's end.
    The lines carry no stored hash: they are hashed as read."""
    view = memoryview(data)
    at = 0

    def take(first: int, wanted: int) -> Batch | None:
        nonlocal at
        begin = at
        if begin >= len(data):
            return None
        if first + wanted >= stop or (end := line_end(data, begin, wanted)) < 0:
            end = len(data)
        at = end

        def rows() -> list[Row]:
            lines = data[begin:end].split(b"\n")
            if not lines[-1]:
                lines.pop()
            return list(zip(count(first), repeat(b""), lines))

        return Batch(wanted, view[begin:end], rows)

    return take


def walk_lines(
    data: bytes,
    start: int,
    stop: int,
    sizes: list[int],
    left: list[bytes] | None,
    genesis: bool,
    bounds: TimeBounds | None = None,
) -> tuple[str | None, Walk]:
    """`verify.walk` over lines of records.jsonl holding records `start`.. (before `stop`).

    With `left` (the tree before `start`) the result's frontiers are absolute. The
    first record's ``prev`` cannot be checked here unless `genesis`; it is returned so
    the caller can check it against the chunk before. With `bounds`, claimed times are
    checked too (`Walk.times`).
    """
    first_prev: str | None = GENESIS_PREV
    if not genesis:
        try:
            value = orjson.loads(data.split(b"\n", 1)[0]) if data else None
        except orjson.JSONDecodeError:
            value = None
        first_prev = value.get("prev") if isinstance(value, dict) else None
        first_prev = first_prev if isinstance(first_prev, str) else None
    tree = Frontier(start, left) if left is not None else None
    found = walk(
        line_batches(data, stop),
        sizes,
        start=start,
        prev=first_prev or "",
        stop=stop,
        frontier=tree,
        hashed=False,
        bounds=bounds,
    )
    if found.error is not None:
        # Its traceback, and the one of the error it was raised in handling, would keep
        # this chunk's lines alive as long as the result is: a chunk for every failure.
        found.error.__traceback__ = found.error.__context__ = found.error.__cause__ = None
    return first_prev, found


_PIPE_SIZE = 1 << 20  # Linux's most for an unprivileged process: two chunks of CHUNK_BYTES


class WorkerLost(AssayError):
    """A worker process verifying a bundle's records died or never started: the
    verification did not finish, which says nothing of the bundle."""

    def __init__(self, problem: str) -> None:
        super().__init__(
            f"{problem}: the bundle's verification did not finish",
            remediation="run it again, or in one process with --workers 1",
        )


_Chunk = tuple[int, int, list[int], "list[bytes] | None", bool, "TimeBounds | None"]
"""`walk_lines`'s arguments after the lines: start, stop, sizes, left, genesis, bounds."""
_Result = tuple["str | None", Walk]


def _walker(down: Connection, up: Connection) -> None:
    """A worker: walks the chunks sent `down` and sends each result `up`, until it is
    sent None."""
    try:
        while (args := down.recv()) is not None:
            data = down.recv_bytes()
            try:
                result: tuple[bool, object] = (True, walk_lines(data, *args))
            except Exception as exc:  # a bug, not bad data: raised again where it was sent
                result = (False, exc)
            up.send(result)
    except (EOFError, OSError):
        pass  # the verification was given up: no one is listening


class _Walkers:
    """Worker processes walking chunks of records.jsonl beside this process, which walks
    a chunk itself when every worker has `QUEUED` (so as many processes as cores keep
    them all busy); the results come out in chunk order.

    A chunk's bytes go down a pipe as they are: an executor's pickling and threads cost
    the process that inflates the records about as much again as inflating. Where
    Linux lets it, a pipe holds the chunks queued, so writing one never waits for the
    worker to read.
    """

    QUEUED = 2  # the chunk a worker walks and the next, read as soon as it is done

    def __init__(self, workers: int) -> None:
        ctx = cast(Any, context())  # typeshed's BaseContext lacks Process and Pipe
        self._processes: list[BaseProcess] = []
        self._down: dict[Connection, Connection] = {}  # from a worker: to it
        try:
            for _ in range(workers):
                down_theirs, down = ctx.Pipe(duplex=False)
                up, up_theirs = ctx.Pipe(duplex=False)
                self._down[up] = down
                with suppress(AttributeError, OSError):
                    fcntl.fcntl(down.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
                process = ctx.Process(target=_walker, args=(down_theirs, up_theirs), daemon=True)
                process.start()
                self._processes.append(process)
                down_theirs.close()
                up_theirs.close()
        except OSError as exc:  # not the bundle's fault: kept apart from `UNREADABLE`
            self.__exit__()
            raise WorkerLost(f"could not start a worker to verify the records ({exc})") from None
        # A worker's chunks sent and not answered yet: their indexes and stops, in order.
        self._queued: dict[Connection, deque[tuple[int, int]]] = {up: deque() for up in self._down}
        self._free = [up for up in self._down for _ in range(self.QUEUED)]
        self._done: dict[int, tuple[_Result, int]] = {}
        self._walked = self._received = 0

    def __enter__(self) -> _Walkers:
        return self

    def __exit__(self, *exc: object) -> None:
        # Results still coming are let through (a worker that cannot send one would not
        # stop), and left unread.
        for down in self._down.values():
            with suppress(OSError):
                down.send(None)
            down.close()
        for process in self._processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
        for up in self._down:
            up.close()

    def walk(self, data: bytes, args: _Chunk) -> None:
        """Send the next chunk to a worker with room for it, else walk it here."""
        if not self._free:
            self._collect(0)
        if self._free:
            up = self._free.pop()
            down = self._down[up]
            try:
                down.send(args)
                down.send_bytes(data)
            except OSError:  # not the bundle's fault: kept apart from `UNREADABLE`
                raise WorkerLost("a worker verifying the records died") from None
            self._queued[up].append((self._walked, args[1]))
        else:
            self._done[self._walked] = (walk_lines(data, *args), args[1])
        self._walked += 1

    def results(self, *, wait_all: bool = False) -> Iterator[tuple[_Result, int]]:
        """(result, stop) of the chunks walked, in order, as far as they go on without
        a gap; with `wait_all`, of every chunk."""
        while wait_all and len(self._free) < self.QUEUED * len(self._down):
            self._collect()
        while self._received in self._done:
            yield self._done.pop(self._received)
            self._received += 1

    def _collect(self, timeout: float | None = None) -> None:
        """Receive a result from each worker that has sent one, waiting for one unless
        `timeout`."""
        waiting = [up for up, queued in self._queued.items() if queued]
        for up in cast(list[Connection], wait(waiting, timeout)):
            index, stop = self._queued[up].popleft()
            try:
                done, value = up.recv()
            except (EOFError, OSError):
                raise WorkerLost("a worker verifying the records died") from None
            if not done:
                raise value
            self._done[index] = (value, stop)
            self._free.append(up)


class _Joined:
    """The chunks' walks stitched as they come (`Stitch`), each chunk's first ``prev``,
    which its walk could not see, checked against the previous chunk's last hash."""

    def __init__(self, level: int) -> None:
        self.stitch = Stitch(level)
        self._previous: Walk | None = None

    def add(self, result: tuple[str | None, Walk], stop: int) -> None:
        first_prev, part = result
        before = self._previous
        if before is not None and before.error is None:
            complete = before.records == part.start - before.start
            if complete and first_prev != before.head:
                got = "nothing" if first_prev is None else repr(first_prev)
                part = Walk(
                    start=part.start,
                    error=VerificationError(
                        part.start,
                        f"body prev got {got}, expected {before.head} (hash of record "
                        f"{part.start - 1})",
                    ),
                )
        self._previous = part
        self.stitch.add(part, stop)


def walk_records(
    zf: zipfile.ZipFile,
    manifest: Manifest,
    left: list[bytes],
    sizes: set[int],
    workers: int,
    bounds: TimeBounds | None = None,
) -> Walk:
    """`verify.walk` over the bundle's records, with roots at `sizes` (absolute), and
    claimed times checked against `bounds` when given.

    `left` is the tree before the first record. With `workers` > 1, chunks are walked
    in that many processes, this one and `workers` - 1 others (`_Walkers`). `zf` opens
    records.jsonl so that reading it to its end checks it against the manifest
    (`verify._Stored`), which raises LogVerificationError before any record error.
    """
    start, end = manifest.start, manifest.end
    ordered = sorted(sizes)
    chunk = chunk_records(manifest)
    joined = _Joined(chunk.bit_length() - 1)
    try:
        with (
            _Walkers(workers - 1) if workers > 1 else nullcontext() as walkers,
            zf.open(RECORDS) as member,
        ):
            lines = _Lines(cast(_LineCounting, member), manifest, chunk)
            for first, stop, data in lines.chunks():
                if joined.stitch.done:
                    continue  # read on for the file's digest, which is checked first
                # The sizes in (first, stop], and `start` itself in the first chunk.
                low = bisect_left(ordered, first if first == start else first + 1)
                chunk_sizes = ordered[low : bisect_right(ordered, stop)]
                args: _Chunk = (
                    first,
                    stop,
                    chunk_sizes,
                    left if first == start else None,
                    first == 0,
                    None if bounds is None else bounds.fresh(),
                )
                if walkers is None:
                    joined.add(walk_lines(data, *args), stop)
                    continue
                walkers.walk(data, args)
                for result, done_stop in walkers.results():
                    joined.add(result, done_stop)
            if walkers is not None:
                for result, done_stop in walkers.results(wait_all=True):
                    joined.add(result, done_stop)
    except UNREADABLE as exc:
        raise LogVerificationError(RECORDS, f"unreadable: {exc}") from None
    found = joined.stitch.merged
    if found is None:
        return Walk(start=start, error=VerificationError(start, f"{RECORDS} is empty"))
    if found.error is None and found.records < end - start:
        found.error = VerificationError(
            start + found.records,
            f"{RECORDS} ends after {found.records} records, expected {end - start} "
            f"({MANIFEST}: records {start}..{end - 1})",
        )
    if found.error is None and lines.extra:
        found.error = VerificationError(
            end, f"{RECORDS} holds more lines than the {end - start} records {MANIFEST} names"
        )
    if found.error is None and lines.unterminated:
        raise LogVerificationError(RECORDS, "the last line does not end with a newline")
    return found
