"""Verifying a bundle offline, with nothing but the bundle and the log's public key.

`verify_bundle` checks, in order, stopping at the first failure:

1. the zip and the manifest: no name twice; the manifest's signature, when a given key
   made it, before anything else is read (a key the records rotate to is known only
   after them, so step 4 checks the signer in any case); exactly the files the manifest
   lists, each stored as the bytes whose SHA-256 the manifest gives (a member read is
   also inflated to exactly its listed size; the others need not be inflated);
2. the records: streamed once (in worker processes for a large bundle), each line
   canonical with unique keys, ``v`` 1, seq contiguous from the manifest's start,
   ``prev`` the hash of the line before; the Merkle root recomputed at every
   checkpoint in the range, from ``proofs.json``'s left subtrees and the records;
3. the checkpoints, in order of size: the root each signs equals the recomputed one
   (for the last, extended by ``proofs.json``'s right subtrees), each is signed by a
   trusted key (keys may change only through ``key_rotated`` records the old key
   endorses), and each is consistent with the one before (RFC 9162);
4. the manifest's signature, by the key that signed the latest checkpoint;
5. with a trusted checkpoint (one the auditor pinned before): the bundle holds a
   checkpoint of its size with the same root, or recomputes that root from its
   records, so the history it signed is still there, unrewritten;
6. with a time policy (`proven_time`): the timestamp tokens and trusted witness
   cosignatures beside the checkpoints verify, the latest checkpoint carries what the
   policy asks, and no record claims a time after its checkpoints' proven time;
7. with `check_views`: the OSCAL document and the summary, rebuilt from the verified
   records, equal the bundle's byte for byte.

The bundle's own ``public.vkey`` is never trusted; keys come from the caller.

Memory stays bounded whatever a bundle claims: every member read is inflated as a stream
that stops one byte past the size the manifest lists (and past a fixed cap for the manifest,
its signature, the checkpoints and ``proofs.json``, which are read whole), whatever the
zip's own headers say; a record line longer than `LINE_MAX` is refused where it starts.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, NoReturn, cast

import orjson
from isal import isal_zlib

from assay.evidence import merkle
from assay.evidence._scan import count_lines, line_end
from assay.evidence.bundle.format import (
    MANIFEST,
    OSCAL,
    PROOFS,
    RECORDS,
    SIGNATURE,
    SUMMARY,
    FileDigest,
    Manifest,
    Proofs,
    attachments_of,
    check_manifest_signature,
    stored_blocks,
    stored_digest,
)
from assay.evidence.bundle.records import READ, UNREADABLE, walk_records
from assay.evidence.bundle.views import ViewContext, Views, cited
from assay.evidence.checkpoint import Checkpoint, CheckpointError
from assay.evidence.keys import VerifierKey
from assay.evidence.merkle import Frontier, ProofError
from assay.evidence.note import NoteError, parse_note
from assay.evidence.proven_time import (
    CheckpointTime,
    TimeBounds,
    TimePolicy,
    check_times,
    late_error,
)
from assay.evidence.trust import Trust
from assay.evidence.verify import (
    LogVerificationError,
    Outcome,
    VerificationError,
    Walk,
    brief,
)
from assay.evidence.verify_parallel import PARALLEL_MIN

LINE_MAX = 4 << 20
"""The longest record line (without its newline) a bundle may hold: records are KiB."""
# Caps on the members read whole, whatever the manifest says: the manifest and
# proofs.json grow by a few hundred bytes a checkpoint, a signed note is its text
# and at most `note.MAX_SIGNATURES` lines.
_JSON_MAX = 8 << 20
_NOTE_MAX = 64 << 10
_PIECE = 1 << 20  # inflated per read of the zip, so a line is checked within 1 MiB of its end
_STORED_PIECE = 1 << 15  # stored bytes inflated at a time: what is left over is copied
UNBUILT = (
    f"{OSCAL} and {SUMMARY} are covered by the manifest's signature but were not "
    "rebuilt from the records (check_views)"
)


@dataclass(frozen=True)
class BundleReport(Outcome):
    """The outcome of `verify_bundle`; `error` is set exactly when `ok` is False.

    `records` counts the records, from `start`, that passed the record checks;
    `checkpoints` counts checkpoints verified before any failure; `latest` is the last
    of them and `signer` the key that signed it (and the manifest).
    """

    ok: bool
    start: int | None
    end: int | None
    records: int
    head: str | None
    checkpoints: int
    latest: Checkpoint | None
    signer: str | None
    trusted: Checkpoint | None = None
    error: VerificationError | LogVerificationError | None = None
    notes: list[str] = field(default_factory=list)
    latest_file: str | None = None
    """Where `latest` is in the bundle: the file an auditor saves to pin it."""
    times: list[CheckpointTime] = field(default_factory=list)
    """What outside parties prove of each checkpoint (with a time policy)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields; checkpoints appear as origin, size and hex root."""
        return {
            "ok": self.ok,
            "range": None if self.start is None else {"start": self.start, "end": self.end},
            "records": self.records,
            "head": self.head,
            "checkpoints": self.checkpoints,
            "latest_checkpoint": brief(self.latest),
            "latest_checkpoint_file": self.latest_file,
            "signer": self.signer,
            "trusted_checkpoint": brief(self.trusted),
            "checkpoint_times": [time.as_dict() for time in self.times],
            **self.outcome_fields(),
        }


@dataclass
class _Progress:
    """What has been verified so far: the report, whenever verification stops."""

    manifest: Manifest | None = None
    found: Walk | None = None
    verified: list[Checkpoint] = field(default_factory=list)
    signer: str | None = None
    notes: list[str] = field(default_factory=list)
    times: list[CheckpointTime] = field(default_factory=list)


class Sink:
    """A write-only file that keeps the SHA-256 and size of what passes through it."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return len(data)


def _check_stored(info: zipfile.ZipInfo, manifest: Manifest) -> None:
    """Before a member's stored bytes are read: deflated, as every member of a bundle is
    (so no other method can be claimed for the same bytes), and as many as listed."""
    if info.compress_type != zipfile.ZIP_DEFLATED:
        raise LogVerificationError(
            info.filename,
            f"compression method {info.compress_type}: expected {zipfile.ZIP_DEFLATED} "
            "(deflate), as every member of a bundle is stored",
        )
    listed = manifest.files[info.filename]
    if info.compress_size != listed.stored_size:
        raise LogVerificationError(
            info.filename,
            f"SHA-256 of its stored bytes not taken: they are {info.compress_size} bytes, "
            f"expected {listed.sha256} ({listed.stored_size} bytes, {MANIFEST})",
        )


def check_digest(name: str, got: str, stored_size: int, manifest: Manifest) -> None:
    """The SHA-256 (hex) and length of the member's stored bytes are the ones listed."""
    listed = manifest.files[name]
    if (got, stored_size) != (listed.sha256, listed.stored_size):
        raise LogVerificationError(
            name,
            f"SHA-256 of its stored bytes got {got} ({stored_size} bytes), expected "
            f"{listed.sha256} ({listed.stored_size} bytes, {MANIFEST})",
        )


class _Stored(io.RawIOBase):
    """A listed member's content: its stored bytes read from the zip, hashed as read and
    inflated. Where they end, the digest, the end of the deflate stream and the
    inflated size are checked against the manifest (LogVerificationError), so whatever
    reads a member to its end has checked it; it is then in `zf.checked`."""

    def __init__(self, zf: _BundleZip, info: zipfile.ZipInfo, manifest: Manifest) -> None:
        super().__init__()
        self._zf, self._name, self._manifest = zf, info.filename, manifest
        self._listed: FileDigest = manifest.files[self._name]
        _check_stored(info, manifest)
        self._blocks = stored_blocks(zf.fd, info, _STORED_PIECE)
        self._inflate = isal_zlib.decompressobj(-zlib.MAX_WBITS)
        self._digest = hashlib.sha256()
        self._stored = 0  # stored bytes read (and hashed)
        self._pending = b""  # stored bytes read, not yet inflated
        self._size = 0  # inflated so far
        self._ended = False

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        want = 0 if size is None or size < 0 else size  # 0: no limit
        while not self._ended:
            if self._pending:
                try:
                    out = self._inflate.decompress(self._pending, want)
                except UNREADABLE as exc:
                    self._fail(f"unreadable: {exc}")
                self._pending = self._inflate.unconsumed_tail
                if out:
                    self._size += len(out)
                    if self._size > self._listed.size:
                        self._fail(
                            f"inflates to more than {self._listed.size} bytes ({MANIFEST}): "
                            "read no further"
                        )
                    return out
            elif (block := next(self._blocks, None)) is not None:
                self._hash(block)
                if self._inflate.eof:
                    self._fail("bytes follow the end of its deflate stream")
                self._pending = block
            else:
                self._finish()
        return b""

    def _hash(self, block: bytes) -> None:
        self._digest.update(block)
        self._stored += len(block)

    def _fail(self, problem: str) -> NoReturn:
        """Stop at damage, but name stored bytes that are not the signed ones as such."""
        for block in self._blocks:
            self._hash(block)
        self._check_digest()
        raise LogVerificationError(self._name, problem)

    def _check_digest(self) -> None:
        check_digest(self._name, self._digest.hexdigest(), self._stored, self._manifest)

    def _finish(self) -> None:
        self._ended = True
        self._check_digest()
        if not self._inflate.eof or self._inflate.unused_data:
            problem = "bytes follow the end of" if self._inflate.eof else "is cut short in"
            raise LogVerificationError(self._name, f"{problem} its deflate stream")
        if self._size != self._listed.size:
            raise LogVerificationError(
                self._name,
                f"inflates to {self._size} bytes, expected {self._listed.size} ({MANIFEST})",
            )
        self._zf.checked.add(self._name)


@dataclass(frozen=True)
class _Bound:
    """How much of a member may be read, what to say past it and, for records.jsonl,
    the records ``[start, end)`` its lines hold."""

    limit: int
    beyond: str
    records: tuple[int, int] | None = None

    @classmethod
    def cap(cls, limit: int, what: str) -> _Bound:
        return cls(limit, f"is more than {limit} bytes, the most {what} may be; read no further")


class _Member(io.BufferedIOBase):
    """A zip member read as a stream that fails one byte past its bound.

    The bound is counted on the inflated bytes, as they come: the zip's own sizes are
    whatever its writer put there. For records.jsonl the reading also stops at a line
    longer than LINE_MAX, since the record walk buffers whole lines.
    """

    def __init__(self, raw: IO[bytes], name: str, bound: _Bound) -> None:
        super().__init__()
        self._raw, self._name, self._bound = raw, name, bound
        self._read = 0
        self._lines = 0  # complete lines so far
        self._open = 0  # bytes of the line not yet ended
        self._after: int | None = None  # where the last line the manifest names ends

    def readable(self) -> bool:
        return True

    @property
    def lines(self) -> int:
        """Complete lines read so far (counted for records.jsonl only)."""
        return self._lines

    def read(self, size: int | None = -1) -> bytes:
        want = self._bound.limit + 1 - self._read if size is None or size < 0 else size
        pieces = []
        while want > 0 and (piece := self._raw.read(min(want, _PIECE))):
            self._take(piece)
            pieces.append(piece)
            want -= len(piece)
        return b"".join(pieces)

    def close(self) -> None:
        self._raw.close()
        super().close()

    def _take(self, piece: bytes) -> None:
        self._read += len(piece)
        if self._read > self._bound.limit:
            raise LogVerificationError(self._name, self._bound.beyond)
        if self._bound.records is not None:
            self._count_lines(piece, *self._bound.records)

    def _count_lines(self, piece: bytes, start: int, end: int) -> None:
        # A piece is at most _PIECE <= LINE_MAX bytes, so only the lines running into
        # it from the pieces before can be too long, and the one left open at its end.
        ends = count_lines(piece)
        if ends:
            self._check_line(self._open + piece.find(b"\n"), start)
            if self._after is None and self._lines + ends >= end - start:
                wanted = end - start - self._lines
                at = line_end(piece, 0, wanted) if wanted > 0 else 0
                self._after = self._read - len(piece) + at
            self._lines += ends
            self._open = len(piece) - piece.rfind(b"\n") - 1
        else:
            self._open += len(piece)
        self._check_line(self._open, start)
        # What follows the last record is buffered whole by the walk: a line's worth is
        # enough to report it as one (after any record error), more is refused here.
        if self._after is not None and self._read - self._after > LINE_MAX:
            raise VerificationError(
                end,
                f"{RECORDS} holds more lines than the {end - start} records {MANIFEST} names "
                f"(more than {LINE_MAX} bytes follow them)",
            )

    def _check_line(self, length: int, start: int) -> None:
        if length > LINE_MAX:
            raise LogVerificationError(
                f"{RECORDS} line {self._lines + 1}",
                f"is longer than {LINE_MAX} bytes, the most a record may be (it would hold "
                f"seq {start + self._lines})",
            )


class _BundleZip(zipfile.ZipFile):
    """The bundle, every member of which opens as a `_Member` within its bound, a member
    the manifest lists as `_Stored`.

    Until the manifest is read only it and its signature have bounds; a member with no
    bound is never read.
    """

    def __init__(self, file: Path) -> None:
        super().__init__(file)
        self.fd = os.open(file, os.O_RDONLY | os.O_CLOEXEC)
        self.bounds = {
            MANIFEST: _Bound.cap(_JSON_MAX, f"a {MANIFEST}"),
            SIGNATURE: _Bound.cap(_NOTE_MAX, "a signed note"),
        }
        self.manifest: Manifest | None = None
        self.checked: set[str] = set()
        """Members read to their end, and so checked (`_Stored`)."""

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        super().close()

    def bound_by(self, manifest: Manifest) -> None:
        """Bound every member by the size the manifest lists, and the ones read whole by a cap."""
        caps = {
            PROOFS: _Bound.cap(_JSON_MAX, f"a {PROOFS}"),
            **{name: _Bound.cap(_NOTE_MAX, "a signed note") for name in manifest.checkpoints},
            **{
                attached: _Bound.cap(_NOTE_MAX, "a timestamp token or cosignature")
                for kept in attachments_of(manifest.checkpoints, manifest.files).values()
                for attached in kept.values()
            },
        }
        self.manifest = manifest
        for name, listed in manifest.files.items():
            cap = caps.get(name)
            if cap is not None and listed.size > cap.limit:
                self.bounds[name] = cap
                continue
            beyond = f"inflates to more than {listed.size} bytes ({MANIFEST}): read no further"
            records = (manifest.start, manifest.end) if name == RECORDS else None
            self.bounds[name] = _Bound(listed.size, beyond, records)

    def open(
        self,
        name: str | zipfile.ZipInfo,
        mode: Literal["r", "w"] = "r",
        pwd: bytes | None = None,
        *,
        force_zip64: bool = False,
    ) -> IO[bytes]:
        if mode != "r":
            raise ValueError("a bundle being verified is read, never written")
        key = name.filename if isinstance(name, zipfile.ZipInfo) else name
        bound = self.bounds.get(key)
        if bound is None:
            raise LogVerificationError(key, f"is not a file {MANIFEST} lists: never read")
        raw: IO[bytes]
        if self.manifest is not None and key in self.manifest.files:
            # ISA-L inflates in about half zlib's time; the listed digest makes zip's
            # CRC-32 redundant.
            raw = cast(IO[bytes], _Stored(self, self.getinfo(key), self.manifest))
        else:
            raw = super().open(name, "r", pwd)
        return cast(IO[bytes], _Member(raw, key, bound))


def _read(zf: _BundleZip, name: str) -> bytes:
    """A small member (manifest, signature, proofs, a checkpoint, an attachment), read
    whole within its bound, so checked against the manifest when it lists it."""
    try:
        with zf.open(name) as member:
            return member.read()
    except UNREADABLE as exc:
        raise LogVerificationError(name, f"unreadable: {exc}") from None


def _check_zip(zf: zipfile.ZipFile) -> None:
    """Before any member is read: no name twice, nothing encrypted, a manifest and signature."""
    seen: set[str] = set()
    for info in zf.infolist():
        if info.filename in seen:
            raise LogVerificationError(
                info.filename, "is in the zip twice: which copy is read is arbitrary"
            )
        if info.flag_bits & 0x1:
            raise LogVerificationError(info.filename, "is encrypted: a bundle never is")
        seen.add(info.filename)
    for required in (MANIFEST, SIGNATURE):
        if required not in seen:
            raise LogVerificationError(required, "is missing: this is not an evidence bundle")


def _signed_first(note: bytes, manifest: bytes, keys: Sequence[VerifierKey]) -> None:
    """Check the manifest's signatures by any of `keys`, before the manifest is relied on.

    A manifest signed by none of them may be signed by a key the records rotate to: that
    is known only once they are read, and step 4 decides.
    """
    try:
        _, signatures = parse_note(note)
    except NoteError as exc:
        raise LogVerificationError(SIGNATURE, f"signature: {exc}") from None
    signed = {(s.name, s.key_id) for s in signatures}
    for key in keys:
        if (key.name, key.id) in signed:
            check_manifest_signature(note, manifest, key)


def _check_names(zf: zipfile.ZipFile, manifest: Manifest) -> None:
    names = set(zf.namelist())
    expected = {*manifest.files, MANIFEST, SIGNATURE}
    for name in zf.namelist():
        if name not in expected:
            raise LogVerificationError(name, f"is in the bundle but not listed in {MANIFEST}")
    for name in sorted(expected - names):
        raise LogVerificationError(name, f"is listed in {MANIFEST} but missing from the bundle")


def check_digests(zf: _BundleZip, manifest: Manifest) -> None:
    """Every file not read yet but records.jsonl (checked as it is read) is stored as the
    manifest says, and its zip header gives the inflated size listed: hashed as stored,
    never inflated."""
    for name in sorted(manifest.files):
        if name == RECORDS or name in zf.checked:
            continue
        info = zf.getinfo(name)
        _check_stored(info, manifest)
        check_digest(name, *stored_digest(zf.fd, info), manifest)
        listed = manifest.files[name]
        if info.file_size != listed.size:
            raise LogVerificationError(
                name,
                f"its zip header gives {info.file_size} bytes inflated, expected {listed.size} "
                f"({MANIFEST})",
            )


def _checkpoints(zf: _BundleZip, manifest: Manifest) -> list[Checkpoint]:
    checkpoints: list[Checkpoint] = []
    for name in manifest.checkpoints:
        try:
            checkpoint = Checkpoint.from_note(_read(zf, name))
        except CheckpointError as exc:
            raise LogVerificationError(name, f"malformed: {exc}") from None
        if checkpoints and checkpoint.size < checkpoints[-1].size:
            raise LogVerificationError(
                name,
                f"covers {checkpoint.size} records, after {checkpoints[-1].label}: "
                "expected checkpoints in order of size",
            )
        checkpoints.append(checkpoint)
    return checkpoints


def _check_shape(manifest: Manifest, proofs: Proofs, checkpoints: list[Checkpoint]) -> None:
    last = checkpoints[-1]
    if last.size < manifest.end:
        raise LogVerificationError(
            last.label,
            f"covers {last.size} records, but the bundle's records run to "
            f"{manifest.end - 1}: the last of them are not covered by a checkpoint",
        )
    expected = {
        "left": (len(proofs.left), len(merkle.subtree_keys(0, manifest.start))),
        "right": (len(proofs.right), len(merkle.subtree_keys(manifest.end, last.size))),
        "consistency": (len(proofs.consistency), len(checkpoints) - 1),
    }
    for part, (got, wanted) in expected.items():
        if got != wanted:
            raise LogVerificationError(f"{PROOFS} {part}", f"has {got} entries, expected {wanted}")


# --- the checkpoints ---------------------------------------------------------------------


def _recomputed(
    checkpoint: Checkpoint, found: Walk, manifest: Manifest, proofs: Proofs, last: bool
) -> bytes | None:
    """The root the records give at the checkpoint's size, or None if they cannot."""
    if manifest.start <= checkpoint.size <= manifest.end:
        return merkle.fold(found.stacks[checkpoint.size])
    if not last:
        return None
    tree = Frontier(manifest.end, found.final)
    for (level, _), value in zip(
        merkle.subtree_keys(manifest.end, checkpoint.size), proofs.right, strict=True
    ):
        tree.append_subtree(level, value)
    return tree.root()


def _check_checkpoints(
    checkpoints: list[Checkpoint],
    found: Walk,
    manifest: Manifest,
    proofs: Proofs,
    trust: Trust,
    progress: _Progress,
) -> VerifierKey:
    signer: VerifierKey | None = None
    for i, checkpoint in enumerate(checkpoints):
        root = _recomputed(checkpoint, found, manifest, proofs, i == len(checkpoints) - 1)
        if root is not None and root != checkpoint.root:
            raise LogVerificationError(
                checkpoint.label,
                f"root got {checkpoint.root.hex()} (signed), expected {root.hex()} (recomputed "
                f"from records {manifest.start}..{min(checkpoint.size, manifest.end) - 1} and "
                f"{PROOFS})",
            )
        signer = trust.check_signer(checkpoint)
        if i:
            old = checkpoints[i - 1]
            try:
                if old.size == 0:
                    if old.root != merkle.EMPTY_ROOT or proofs.consistency[i - 1]:
                        raise ProofError("a checkpoint of size 0 signs the empty tree, no proof")
                else:
                    merkle.verify_consistency(
                        old.size,
                        checkpoint.size,
                        proofs.consistency[i - 1],
                        old.root,
                        checkpoint.root,
                    )
            except ProofError as exc:
                raise LogVerificationError(
                    f"{PROOFS} consistency[{i - 1}]", f"{old.label} -> {checkpoint.label}: {exc}"
                ) from None
        progress.verified.append(checkpoint)
    assert signer is not None  # the manifest lists at least one checkpoint
    return signer


def _check_trusted(
    trusted: Checkpoint,
    checkpoints: list[Checkpoint],
    found: Walk,
    manifest: Manifest,
    trust: Trust,
) -> None:
    where = f"trusted checkpoint {trusted.label}"
    try:
        trusted.signer(trust.keys)
    except NoteError as exc:
        raise LogVerificationError(where, f"signature: {exc}") from None
    latest = checkpoints[-1]
    if trusted.size > latest.size:
        raise LogVerificationError(
            where,
            f"covers {trusted.size} records, but the bundle's latest checkpoint {latest.label} "
            f"covers {latest.size}: the log was rolled back or truncated",
        )
    same = [c for c in checkpoints if c.size == trusted.size]
    if same:
        root, source = same[-1].root, f"checkpoint {same[-1].label} in the bundle"
    elif manifest.start <= trusted.size <= manifest.end:
        root, source = merkle.fold(found.stacks[trusted.size]), "recomputed from the records"
    else:
        raise LogVerificationError(
            where,
            f"the bundle starts at checkpoint {checkpoints[0].label} and record "
            f"{manifest.start}: it cannot show it extends a checkpoint of size {trusted.size} "
            "(ask for a bundle exported with --since-checkpoint)",
        )
    if root != trusted.root:
        raise LogVerificationError(
            where,
            f"root at size {trusted.size} got {root.hex()} ({source}), expected "
            f"{trusted.root.hex()} (trusted): history before it was rewritten (a fork)",
        )


def _attachments(zf: _BundleZip, manifest: Manifest) -> list[dict[str, bytes]]:
    """For each checkpoint in the manifest's order, its attachments by kind."""
    kept = attachments_of(manifest.checkpoints, manifest.files)
    return [
        {kind: _read(zf, name) for kind, name in kept[cp].items()} for cp in manifest.checkpoints
    ]


def _check_views(
    zf: zipfile.ZipFile,
    manifest: Manifest,
    checkpoints: list[Checkpoint],
    attached: list[dict[str, bytes]],
) -> None:
    oscal = Sink()
    files = {
        name: data
        for cp, kept in zip(manifest.checkpoints, attached, strict=True)
        for name, data in ((f"{cp.removesuffix('.note')}.{kind}", d) for kind, d in kept.items())
    }
    views = Views(oscal, ViewContext(manifest.start, manifest.end, checkpoints, cited(files)))
    try:
        with zf.open(RECORDS) as member:
            seq, rest = manifest.start, b""
            while block := member.read(READ):
                lines = (rest + block).split(b"\n")
                rest = lines.pop()
                for body in lines:
                    views.add(seq, body, orjson.loads(body))
                    seq += 1
    except UNREADABLE as exc:
        raise LogVerificationError(RECORDS, f"unreadable: {exc}") from None
    summary = Sink()
    summary.write(views.close())
    for name, rebuilt in ((OSCAL, oscal), (SUMMARY, summary)):
        held = Sink()
        try:
            with zf.open(name) as member:
                while chunk := member.read(READ):
                    held.write(chunk)
        except UNREADABLE as exc:
            raise LogVerificationError(name, f"unreadable: {exc}") from None
        got, expected = rebuilt.digest.hexdigest(), held.digest.hexdigest()
        if got != expected:
            raise LogVerificationError(
                name,
                f"does not match the records: rebuilt from them, its SHA-256 got {got}, "
                f"expected {expected} (the bundle's)",
            )


# --- the whole ---------------------------------------------------------------------------


def _verify(
    zf: _BundleZip,
    keys: Sequence[VerifierKey],
    trusted: Checkpoint | None,
    workers: int,
    check_views: bool,
    policy: TimePolicy | None,
    progress: _Progress,
) -> None:
    _check_zip(zf)
    manifest_bytes = _read(zf, MANIFEST)
    signature = _read(zf, SIGNATURE)
    _signed_first(signature, manifest_bytes, keys)
    manifest = progress.manifest = Manifest.parse(manifest_bytes)
    _check_names(zf, manifest)
    zf.bound_by(manifest)
    proofs = Proofs.parse(_read(zf, PROOFS))
    checkpoints = _checkpoints(zf, manifest)
    _check_shape(manifest, proofs, checkpoints)
    attached = _attachments(zf, manifest)
    bounds = None
    time_error = None
    if policy:
        try:
            progress.times = check_times(list(zip(checkpoints, attached, strict=True)), policy)
            bounds = TimeBounds.of(progress.times, policy.skew)
        except LogVerificationError as exc:
            time_error = exc
    sizes = {c.size for c in checkpoints if manifest.start <= c.size <= manifest.end}
    if trusted is not None and manifest.start <= trusted.size <= manifest.end:
        sizes.add(trusted.size)
    check_digests(zf, manifest)
    large = manifest.end - manifest.start >= PARALLEL_MIN
    found = progress.found = walk_records(
        zf, manifest, proofs.left, sizes, workers if large else 1, bounds
    )
    if found.error is not None:
        raise found.error
    trust = Trust.following(keys, found.rotations)
    signer = _check_checkpoints(checkpoints, found, manifest, proofs, trust, progress)
    check_manifest_signature(signature, manifest_bytes, signer)
    progress.signer = str(signer)
    if trusted is not None:
        _check_trusted(trusted, checkpoints, found, manifest, trust)
    if time_error is not None:
        raise time_error
    if policy and found.times is not None and found.times.late_count:
        raise late_error(found.times, policy.skew)
    if check_views:
        _check_views(zf, manifest, checkpoints, attached)
    else:
        progress.notes.append(UNBUILT)


def verify_bundle(
    path: Path,
    keys: Sequence[VerifierKey],
    trusted: Checkpoint | None = None,
    *,
    workers: int = 1,
    check_views: bool = False,
    policy: TimePolicy | None = None,
) -> BundleReport:
    """Verify the bundle at `path` (see the module docstring); never raises for bad data.

    `keys` are the log's public keys, obtained apart from the bundle (ValueError if
    none). `trusted` is a checkpoint the caller saw before; its signature is checked
    too. With `workers` > 1 a large bundle's records are checked in that many
    processes; the report is the same. With `policy`, the tokens and cosignatures the
    bundle carries are checked as `proven_time` says, and so are the records' times.
    """
    if not keys:
        raise ValueError("verifying a bundle needs the log's public key(s)")
    progress = _Progress()
    error: VerificationError | LogVerificationError | None = None
    try:
        with _BundleZip(path) as zf:
            _verify(zf, keys, trusted, workers, check_views, policy, progress)
    except (VerificationError, LogVerificationError) as exc:
        error = exc
    except UNREADABLE as exc:
        error = LogVerificationError("bundle", f"not a readable zip file: {exc}")
    manifest, found = progress.manifest, progress.found
    return BundleReport(
        ok=error is None,
        start=None if manifest is None else manifest.start,
        end=None if manifest is None else manifest.end,
        records=0 if found is None else found.records,
        head=None if found is None else found.head,
        checkpoints=len(progress.verified),
        latest=progress.verified[-1] if progress.verified else None,
        signer=progress.signer,
        trusted=trusted,
        error=error,
        notes=progress.notes if error is None else [],
        latest_file=(
            manifest.checkpoints[len(progress.verified) - 1]
            if manifest is not None and progress.verified
            else None
        ),
        times=progress.times,
    )
