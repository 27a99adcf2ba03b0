"""The evidence bundle's layout: what each file holds, and how the whole is signed.

A bundle is a zip holding, in this order::

    records.jsonl                  the stored bodies of records start..end-1, one a line
    checkpoints/NNNN-size-S.note   signed checkpoints, in order of size
    checkpoints/NNNN-size-S.tsr    its RFC 3161 timestamp token, when it has one
    checkpoints/NNNN-size-S.cosig-<key id>   a witness's cosignature line, one a witness
    proofs.json                    what ties the records to the checkpoints (below)
    oscal/assessment-results.json  OSCAL 1.1 assessment results built from the records
    summary.md                     the same, for people
    public.vkey                    the log's public key: a hint, never trusted
    manifest.json                  the range, the checkpoints, every other file's size
                                   and the SHA-256 of its bytes as stored in the zip
    manifest.sig                   a C2SP signed note over manifest.json's SHA-256

``proofs.json`` holds ``left``, the hashes of the complete subtrees left of the range
(`merkle.subtree_keys(0, start)`); ``right``, those between its end and the last
checkpoint (`subtree_keys(end, size)`); and ``consistency``, the RFC 9162 proof from
each checkpoint to the next. With them the records alone give the root of every
checkpoint in the range. Both JSON files are canonical (RFC 8785) and parsed strictly.

The manifest lists each member as ``{"size": inflated bytes, "stored": {"sha256": hex,
"size": bytes}}``: the SHA-256 covers the member's deflate stream exactly as stored in
the zip (`stored_span`), so a verifier proves a member without inflating it and inflates
only what it reads (docs/evidence-threat-model.md says how to check one by hand). Every
member is deflated, at level 1 (`zip_entry`).

The manifest is signed as a C2SP signed note (Ed25519, the log's own key and origin)
whose text is ``assay evidence bundle v1\\nmanifest.json sha256 <hex>\\n``: a line
no checkpoint can start with, since key names hold no spaces.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import struct
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from assay.evidence.canonical import CanonicalError, canonical, parse_canonical
from assay.evidence.keys import SigningKey, SigningKeyError, VerifierKey, b64decode
from assay.evidence.merkle import HASH_SIZE
from assay.evidence.note import NoteError, open_note, sign_note
from assay.evidence.verify import LogVerificationError

FORMAT = "assay-evidence-bundle/2"
RECORDS = "records.jsonl"
PROOFS = "proofs.json"
OSCAL = "oscal/assessment-results.json"
SUMMARY = "summary.md"
PUBLIC_KEY = "public.vkey"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
_HEADER = "assay evidence bundle v1"
ATTACHMENT_KIND = re.compile(r"tsr|cosig-[0-9a-f]{8}")
# Fixed, so the same log gives the same bytes: the earliest time a zip can hold.
_EPOCH = (1980, 1, 1, 0, 0, 0)


def checkpoint_file(index: int, size: int) -> str:
    return f"checkpoints/{index:04d}-size-{size}.note"


def attachment_file(checkpoint_name: str, kind: str) -> str:
    """Where a checkpoint's attachment (`checkpoint_log.attachment_name` kinds) is in a
    bundle: beside the checkpoint, ``checkpoints/NNNN-size-S.<kind>``."""
    return f"{checkpoint_name.removesuffix('.note')}.{kind}"


def attachments_of(checkpoints: Iterable[str], files: Iterable[str]) -> dict[str, dict[str, str]]:
    """For each of `checkpoints` (file names), the attachments the bundle's `files` hold
    for it: kind -> file name. One pass over the files, however many checkpoints."""
    found: dict[str, dict[str, str]] = {name: {} for name in checkpoints}
    for name in sorted(files):
        stem, _, kind = name.rpartition(".")
        kept = found.get(f"{stem}.note")
        if kept is not None and ATTACHMENT_KIND.fullmatch(kind):
            kept[kind] = name
    return found


def zip_entry(name: str) -> zipfile.ZipInfo:
    """A zip member with fixed time, mode and compression: nothing of when or where."""
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    # Level 1: a tenth more bytes than the default 6, compressed in half the time, which
    # is most of an export's; zipfile reads the level from here (`compress_level` from
    # Python 3.13, which keeps this name as an alias).
    info._compresslevel = 1  # type: ignore[attr-defined]
    info.create_system = 3  # unix, whatever system writes it
    info.external_attr = 0o644 << 16
    return info


def _b64(values: Sequence[bytes]) -> list[str]:
    return [base64.b64encode(value).decode() for value in values]


def _require(doc: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = doc.get(key)
    if type(value) is not kind:
        got = "nothing" if key not in doc else type(value).__name__
        raise LogVerificationError(where, f"{key}: got {got}, expected {kind.__name__}")
    return value


def _parse(data: bytes, where: str) -> dict[str, Any]:
    try:
        return parse_canonical(data)
    except CanonicalError as exc:
        raise LogVerificationError(where, f"not canonical JSON: {exc}") from None


def _hashes(values: Any, where: str) -> list[bytes]:
    if type(values) is not list:
        raise LogVerificationError(where, f"got {type(values).__name__}, expected a list")
    try:
        hashes = [b64decode(value, f"hash {i}") for i, value in enumerate(values)]
    except (SigningKeyError, TypeError) as exc:
        raise LogVerificationError(where, str(exc)) from None
    for i, value in enumerate(hashes):
        if len(value) != HASH_SIZE:
            raise LogVerificationError(where, f"hash {i} is {len(value)} bytes, expected 32")
    return hashes


@dataclass(frozen=True)
class FileDigest:
    """A member as the manifest lists it: `size` bytes once inflated, stored in the zip as
    `stored_size` bytes whose SHA-256 is `sha256`."""

    sha256: str
    size: int
    stored_size: int


# A zip's local file header (APPNOTE 4.3.7): signature, versions, flags, method, time,
# date, CRC-32, sizes, then the lengths of the name and the extra field that follow it.
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_LOCAL_SIGNATURE = b"PK\x03\x04"
STORED_READ = 1 << 20
"""Bytes of a member's stored data read at a time, unless asked for fewer."""


def stored_span(fd: int, info: zipfile.ZipInfo) -> tuple[int, int]:
    """Where the member's stored bytes (its compressed data) are in the zip open as
    `fd`: (offset, length), read from its local header as any unzip reads it.
    LogVerificationError if that header is not the member's."""
    name = info.filename
    header = os.pread(fd, _LOCAL_HEADER.size, info.header_offset)
    if len(header) != _LOCAL_HEADER.size or header[:4] != _LOCAL_SIGNATURE:
        raise LogVerificationError(name, "its local header is missing or damaged")
    fields = _LOCAL_HEADER.unpack(header)
    if fields[4] != info.compress_type:
        raise LogVerificationError(
            name,
            f"its local header gives compression method {fields[4]}, its central directory "
            f"entry {info.compress_type}: the zip's two indexes disagree",
        )
    name_size, extra_size = fields[10], fields[11]
    at = info.header_offset + _LOCAL_HEADER.size
    stored_name = os.pread(fd, name_size, at)
    encoding = "utf-8" if fields[3] & 0x800 else "cp437"
    if stored_name.decode(encoding, "replace") != info.orig_filename:
        raise LogVerificationError(
            name, f"its local header names {stored_name!r}: the zip's two indexes disagree"
        )
    return at + name_size + extra_size, info.compress_size


def stored_blocks(fd: int, info: zipfile.ZipInfo, size: int = STORED_READ) -> Iterator[bytes]:
    """The member's stored bytes in the zip open as `fd`, in blocks of at most `size`."""
    at, left = stored_span(fd, info)
    while left:
        block = os.pread(fd, min(size, left), at)
        if not block:
            raise LogVerificationError(info.filename, "the zip ends inside it")
        yield block
        at, left = at + len(block), left - len(block)


def stored_digest(fd: int, info: zipfile.ZipInfo) -> tuple[str, int]:
    """The SHA-256 (hex) and length of the member's stored bytes in the zip open as `fd`."""
    digest = hashlib.sha256()
    for block in stored_blocks(fd, info):
        digest.update(block)
    return digest.hexdigest(), info.compress_size


@dataclass(frozen=True)
class Manifest:
    """What the signature vouches for: records ``[start, end)``, checkpoints, file digests."""

    start: int
    end: int
    checkpoints: list[str]
    files: dict[str, FileDigest]

    def to_bytes(self) -> bytes:
        return canonical(
            {
                "format": FORMAT,
                "records": {"file": RECORDS, "start": self.start, "end": self.end},
                "checkpoints": self.checkpoints,
                "files": {
                    name: {
                        "size": digest.size,
                        "stored": {"sha256": digest.sha256, "size": digest.stored_size},
                    }
                    for name, digest in self.files.items()
                },
            }
        )

    @classmethod
    def parse(cls, data: bytes) -> Manifest:
        """Parse and check the manifest's shape; LogVerificationError names what is wrong."""
        doc = _parse(data, MANIFEST)
        if doc.get("format") != FORMAT:
            raise LogVerificationError(
                MANIFEST,
                f"format got {doc.get('format')!r}, expected {FORMAT!r} (a bundle of another "
                "assay version: verify it with that version, or export it again)",
            )
        records = _require(doc, "records", dict, MANIFEST)
        start = _require(records, "start", int, f"{MANIFEST} records")
        end = _require(records, "end", int, f"{MANIFEST} records")
        if records.get("file") != RECORDS or not 0 <= start < end:
            raise LogVerificationError(
                MANIFEST, f"records: got {records}, expected file {RECORDS} and 0 <= start < end"
            )
        checkpoints = _require(doc, "checkpoints", list, MANIFEST)
        if not checkpoints or any(type(name) is not str for name in checkpoints):
            raise LogVerificationError(MANIFEST, "checkpoints: expected a non-empty list of files")
        files: dict[str, FileDigest] = {}
        for name, entry in _require(doc, "files", dict, MANIFEST).items():
            where = f"{MANIFEST} files[{name!r}]"
            if type(entry) is not dict:
                raise LogVerificationError(where, "expected {size, stored: {sha256, size}}")
            size = _require(entry, "size", int, where)
            stored = _require(entry, "stored", dict, where)
            sha = _require(stored, "sha256", str, f"{where} stored")
            files[name] = FileDigest(sha, size, _require(stored, "size", int, f"{where} stored"))
        for required in (RECORDS, PROOFS, *checkpoints):
            if required not in files:
                raise LogVerificationError(MANIFEST, f"files: {required} is not listed")
        return cls(start, end, checkpoints, files)


@dataclass(frozen=True)
class Proofs:
    """The contents of ``proofs.json`` (see the module docstring)."""

    left: list[bytes]
    right: list[bytes]
    consistency: list[list[bytes]]

    def to_bytes(self) -> bytes:
        return canonical(
            {
                "left": _b64(self.left),
                "right": _b64(self.right),
                "consistency": [_b64(proof) for proof in self.consistency],
            }
        )

    @classmethod
    def parse(cls, data: bytes) -> Proofs:
        doc = _parse(data, PROOFS)
        consistency = _require(doc, "consistency", list, PROOFS)
        return cls(
            _hashes(doc.get("left"), f"{PROOFS} left"),
            _hashes(doc.get("right"), f"{PROOFS} right"),
            [_hashes(proof, f"{PROOFS} consistency[{i}]") for i, proof in enumerate(consistency)],
        )


def _signed_text(manifest: bytes) -> str:
    return f"{_HEADER}\n{MANIFEST} sha256 {hashlib.sha256(manifest).hexdigest()}\n"


def sign_manifest(manifest: bytes, key: SigningKey) -> str:
    """The signed note that makes `manifest` (its exact bytes) the key holder's word."""
    return sign_note(_signed_text(manifest), [key])


def check_manifest_signature(note: bytes, manifest: bytes, signer: VerifierKey) -> None:
    """Raise LogVerificationError unless `signer` signed a note over `manifest`'s digest."""
    try:
        opened = open_note(note, [signer])
    except NoteError as exc:
        raise LogVerificationError(SIGNATURE, f"signature: {exc}") from None
    expected = _signed_text(manifest)
    if opened.text != expected:
        raise LogVerificationError(
            SIGNATURE,
            f"signs {opened.text!r}, expected {expected!r} (the SHA-256 of {MANIFEST})",
        )
