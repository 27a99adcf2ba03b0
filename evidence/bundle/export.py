"""Exporting records of a ledger as a bundle an auditor verifies offline.

`export_bundle` writes the zip `bundle.format` describes: the stored bodies of a
contiguous range of records, the signed checkpoints from the last one at or before the
range's start to the first one at or after its end, the proofs tying them together,
the OSCAL and Markdown views, and a manifest signed with the key of the latest of those
checkpoints. Records are streamed; the OSCAL document is spooled to a temporary file;
memory does not grow with the ledger or the range. The same ledger and range give the
same bytes: entries have fixed times and order, and Ed25519 signatures are
deterministic.
"""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, wait
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import IO, Any

import orjson

from assay.evidence import merkle
from assay.evidence.attest import AttachmentStore, kept_beside
from assay.evidence.bundle.format import (
    MANIFEST,
    OSCAL,
    PROOFS,
    PUBLIC_KEY,
    RECORDS,
    SIGNATURE,
    SUMMARY,
    FileDigest,
    Manifest,
    Proofs,
    attachment_file,
    checkpoint_file,
    sign_manifest,
    stored_digest,
    zip_entry,
)
from assay.evidence.bundle.views import OscalWriter, Summary, ViewContext, Views, cited
from assay.evidence.canonical import canonical
from assay.evidence.checkpoint import Checkpoint
from assay.evidence.keys import SigningKey
from assay.evidence.ledger import Ledger
from assay.evidence.note import NoteError, open_note
from assay.evidence.record import LedgerError
from assay.evidence.signed_append import check_stored_tree
from assay.evidence.verify_parallel import PARALLEL_MIN, context
from assay.files import atomic_write

_WRITE = 1 << 20  # bytes of records handed to the compressor at once
APART_MIN = PARALLEL_MIN
"""Below this many records, a process for the OSCAL view costs more than it saves."""


def parse_when(text: str, *, end: bool = False) -> datetime:
    """A period bound: ``YYYY-MM-DD`` (the whole day, UTC) or an RFC 3339 time.

    With `end`, a date means the end of that day. Raises ValueError naming the text.
    """
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return moment + timedelta(days=1) - timedelta(microseconds=1) if end else moment
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date (YYYY-MM-DD) or an RFC 3339 time (e.g. 2024-06-30T23:59:59Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Selection:
    """Which records to export: those of one run, those recorded in a period (bounds
    inclusive), or, with neither, every record the latest checkpoint covers."""

    run: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class ExportResult:
    """What `export_bundle` wrote: records ``[start, end)`` and the checkpoints."""

    path: Path
    start: int
    end: int
    checkpoints: list[Checkpoint]
    sha256: str

    @property
    def latest(self) -> Checkpoint:
        return self.checkpoints[-1]

    @property
    def latest_file(self) -> str:
        """Where the latest checkpoint is in the bundle: the one an auditor pins."""
        return checkpoint_file(len(self.checkpoints) - 1, self.latest.size)


def _recorded_at(body: dict[str, Any]) -> datetime | None:
    at = body.get("at")
    if not isinstance(at, str):
        return None
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def find_range(ledger: Ledger, selection: Selection, covered: int) -> tuple[int, int]:
    """Records ``[start, end)`` that `selection` names; the whole signed log by default.

    A run's records, or those recorded in the period, may be interleaved with others:
    the range runs from the first to the last of them, with everything in between.
    Raises LedgerError if none match.
    """
    if selection.run is None and selection.since is None and selection.until is None:
        if covered == 0:
            raise LedgerError(
                "the ledger has no signed checkpoint to export against",
                remediation="sign one: assay evidence checkpoint --sign (with --adopt-tail "
                "for records appended without a key; a key comes from assay evidence keygen)",
            )
        return 0, covered
    first = last = None
    # The run id as its body spells it, quotes and escapes included.
    needle = canonical(selection.run) if selection.run is not None else None
    for record in ledger.records():
        if needle is not None and needle not in record.body:
            continue  # a cheap test first: most records are not of the run
        body = _parse(record.seq, record.body)
        if selection.run is not None:
            matches = body.get("run") == selection.run
        else:
            at = _recorded_at(body)
            matches = (
                at is not None
                and (selection.since is None or at >= selection.since)
                and (selection.until is None or at <= selection.until)
            )
        if matches:
            first = record.seq if first is None else first
            last = record.seq
    if first is None or last is None:
        what = (
            f"of run {selection.run}"
            if selection.run is not None
            else f"recorded from {selection.since or 'the start'} to {selection.until or 'now'}"
        )
        raise LedgerError(f"no records {what} in the ledger")
    return first, last + 1


def _parse(seq: int, data: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        raise LedgerError(
            f"record {seq} is not a JSON object: run assay evidence verify on the ledger"
        )
    return body


def choose_checkpoints(
    ledger: Ledger, start: int, end: int, since: Checkpoint | None = None
) -> list[Checkpoint]:
    """The checkpoints a bundle of records ``[start, end)`` carries, in order of size.

    From the last one at or before `start` to the first one at or after `end` (every
    checkpoint of those sizes, as a key rotation signs one size twice); with `since`
    (an auditor's pinned checkpoint, which must match this ledger), from that one on.
    """
    stored = sorted(ledger.checkpoints(), key=lambda c: c.size)  # stable: stored order
    covering = [c.size for c in stored if c.size >= end]
    if not covering:
        latest = stored[-1].label if stored else "none"
        raise LedgerError(
            f"records up to {end - 1} are not covered by a signed checkpoint (latest: "
            f"{latest}); sign one first: assay evidence checkpoint --sign"
        )
    before = [c.size for c in stored if c.size <= start]
    low = max(before) if before else stored[0].size
    chosen = [c for c in stored if low <= c.size <= covering[0]]
    if since is not None and not any(_same(c, since) for c in chosen):
        if since.size > covering[0]:
            raise LedgerError(
                f"checkpoint {since.label} is beyond the range exported (up to "
                f"{covering[0]} records): export a later range"
            )
        check_stored_tree(since, ledger.nodes, "it is not this ledger's history")
        at = sum(1 for c in chosen if c.size <= since.size)
        chosen.insert(at, since)
    return chosen


def _same(a: Checkpoint, b: Checkpoint) -> bool:
    return (a.origin, a.size, a.root) == (b.origin, b.size, b.root)


def _proofs(ledger: Ledger, start: int, end: int, chosen: list[Checkpoint]) -> Proofs:
    consistency = [
        [] if old.size == 0 else merkle.consistency_proof(ledger.nodes, old.size, new.size)
        for old, new in pairwise(chosen)
    ]
    return Proofs(
        left=ledger.nodes(merkle.subtree_keys(0, start)),
        right=ledger.nodes(merkle.subtree_keys(end, chosen[-1].size)),
        consistency=consistency,
    )


class _Files:
    """Writes zip members to `raw`, remembering each one's size and the SHA-256 of its
    stored bytes (read back once written) for the manifest."""

    def __init__(self, zf: zipfile.ZipFile, raw: IO[bytes]) -> None:
        self.zf, self.raw = zf, raw
        self.digests: dict[str, FileDigest] = {}

    def add(self, name: str, data: bytes) -> None:
        self.zf.writestr(zip_entry(name), data)
        self._listed(name, len(data))

    def stream(self, name: str, chunks: Iterator[bytes]) -> None:
        size = 0
        # Always zip64, so the bytes do not depend on whether the member grew past 4 GiB.
        with self.zf.open(zip_entry(name), "w", force_zip64=True) as member:
            for chunk in chunks:
                member.write(chunk)
                size += len(chunk)
        self._listed(name, size)

    def _listed(self, name: str, size: int) -> None:
        self.raw.flush()
        sha256, stored = stored_digest(self.raw.fileno(), self.zf.getinfo(name))
        self.digests[name] = FileDigest(sha256, size, stored)


def _records(ledger: Ledger, start: int, end: int) -> Iterator[tuple[int, bytes]]:
    """Records ``[start, end)`` as (seq, body); LedgerError at a gap or a short ledger."""
    expected = start
    for seq, _, body in ledger.rows(start):
        if seq >= end:
            break
        if seq != expected:
            raise LedgerError(
                f"record {expected} is missing (found {seq}): run assay evidence verify"
            )
        yield seq, body
        expected += 1
    if expected < end:
        raise LedgerError(f"the ledger ends at record {expected - 1}, before record {end - 1}")


def _record_lines(ledger: Ledger, start: int, end: int, views: Views | Summary) -> Iterator[bytes]:
    """The records' bodies as lines, in chunks of about `_WRITE` bytes; feeds `views`."""
    pending, size = [], 0
    for seq, body in _records(ledger, start, end):
        views.add(seq, body, _parse(seq, body))
        pending.append(body)
        size += len(body) + 1
        if size >= _WRITE:
            yield b"\n".join(pending) + b"\n"
            pending, size = [], 0
    if pending:
        yield b"\n".join(pending) + b"\n"


def _oscal_apart(url: str, context: ViewContext, spool: str) -> None:
    """Write the OSCAL view of records ``[context.start, context.end)`` of the ledger at
    `url` to the file `spool`: the larger half of the views, in a process of its own."""
    from assay.evidence.ledger import open_ledger

    with open_ledger(url, create=False) as ledger, open(spool, "wb") as out:
        oscal = OscalWriter(out, context)
        for seq, body in _records(ledger, context.start, context.end):
            oscal.add(seq, body, _parse(seq, body))
        oscal.close()


def _copy(source: IO[bytes], writer: Future[None] | None = None) -> Iterator[bytes]:
    """`source` from its start, in chunks. Given the `writer` still appending to it (the
    OSCAL view's process), read on as it grows until the writer is done, so its bytes
    are compressed while the rest are still being built."""
    source.seek(0)
    while True:
        finished = writer is None or writer.done()
        chunk = source.read(_WRITE)
        if chunk:
            yield chunk
        elif finished:
            if writer is not None:
                writer.result()  # its error, if it failed
            return
        else:
            assert writer is not None
            wait([writer], timeout=0.05)


def _attachments(ledger: Ledger, chosen: list[Checkpoint], names: list[str]) -> dict[str, bytes]:
    """The timestamp tokens and cosignatures kept beside the chosen checkpoints (in the
    ledger, and in its checkpoint log), by their file names in the bundle."""
    stores: list[AttachmentStore] = [ledger]
    if ledger.checkpoint_log is not None:
        stores.append(ledger.checkpoint_log)
    found: dict[str, bytes] = {}
    for name, checkpoint in zip(names, chosen, strict=True):
        for kind, data in kept_beside(checkpoint, stores).items():
            found[attachment_file(name, kind)] = data
    return found


def export_bundle(
    ledger: Ledger,
    out: Path,
    key: SigningKey,
    selection: Selection = Selection(),
    *,
    since: Checkpoint | None = None,
    workers: int = 1,
) -> ExportResult:
    """Write the bundle of the records `selection` names to `out` (`assay.files.atomic_write`).

    `key` signs the manifest and must be the key of the bundle's latest checkpoint.
    The timestamp tokens and witness cosignatures kept beside the checkpoints (in the
    ledger or its checkpoint log) go beside them in the bundle; the OSCAL view cites them.
    With `workers` > 1, a large range's OSCAL view is built in a process of its own
    (which reopens `ledger.url`) while this one writes the records and the summary; the
    bytes are the same.
    Raises LedgerError when nothing matches, when the range is not covered by a signed
    checkpoint yet, when `since` is not this ledger's, or when the key does not fit.
    """
    latest = ledger.latest_checkpoint()
    start, end = find_range(ledger, selection, latest.size if latest else 0)
    chosen = choose_checkpoints(ledger, start, end, since)
    try:
        open_note(chosen[-1].note, [key.verifier])
    except NoteError:
        raise LedgerError(
            f"the bundle's latest checkpoint {chosen[-1].label} is not signed by "
            f"{key.verifier}: export with the key that signed it"
        ) from None
    proofs = _proofs(ledger, start, end, chosen)
    apart = workers > 1 and end - start >= APART_MIN
    with (
        atomic_write(out, binary=True) as raw,
        tempfile.TemporaryDirectory() as tmp,
        ProcessPoolExecutor(1, mp_context=context()) if apart else nullcontext() as pool,
        zipfile.ZipFile(raw, "w", allowZip64=True) as zf,
    ):
        files = _Files(zf, raw)
        names = [checkpoint_file(i, c.size) for i, c in enumerate(chosen)]
        attached = _attachments(ledger, chosen, names)
        views_context = ViewContext(start, end, chosen, cited(attached))
        spool_path = f"{tmp}/oscal.json"
        built: Future[None] | None = None
        if pool is not None:
            Path(spool_path).touch()  # followed from here on while the process writes it
            built = pool.submit(_oscal_apart, ledger.url, views_context, spool_path)
            tally = Summary(views_context)
            files.stream(RECORDS, _record_lines(ledger, start, end, tally))
            summary = tally.render()
        else:
            with open(spool_path, "wb") as written:
                views = Views(written, views_context)
                files.stream(RECORDS, _record_lines(ledger, start, end, views))
                summary = views.close()
        for name, checkpoint in zip(names, chosen, strict=True):
            files.add(name, checkpoint.note.encode())
        for name, data in attached.items():
            files.add(name, data)
        files.add(PROOFS, proofs.to_bytes())
        with open(spool_path, "rb") as spool:
            files.stream(OSCAL, _copy(spool, built))
        files.add(SUMMARY, summary)
        files.add(PUBLIC_KEY, f"{key.verifier}\n".encode())
        manifest = Manifest(start, end, names, files.digests).to_bytes()
        zf.writestr(zip_entry(MANIFEST), manifest)
        zf.writestr(zip_entry(SIGNATURE), sign_manifest(manifest, key))
    with out.open("rb") as written:
        digest = hashlib.file_digest(written, "sha256").hexdigest()
    return ExportResult(out, start, end, chosen, digest)
