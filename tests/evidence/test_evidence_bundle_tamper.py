"""Tampering with an exported bundle, and what `verify_bundle` says.

Most record-level cases are shown twice: as a plain edit, which the manifest's digest
catches, and re-signed with the log's own key (a thief of the key, or a faulty
exporter), which the record, proof and checkpoint checks catch on their own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from bundle_tools import build_runs, edit_lines, members, rewrite, run_entries, stored_at

from assay.evidence import (
    BundleReport,
    Checkpoint,
    LogVerificationError,
    Selection,
    SigningKey,
    VerificationError,
    export_bundle,
    open_ledger,
    sign_checkpoint,
    verify_bundle,
)
from assay.evidence.bundle.format import MANIFEST, OSCAL, PROOFS, RECORDS, SIGNATURE, SUMMARY
from assay.evidence.bundle.verify import UNBUILT
from assay.evidence.record import seal

CHECKPOINT_10 = "checkpoints/0001-size-10.note"


@pytest.fixture
def ledger_path(tmp_path: Path, log_key: SigningKey) -> Path:
    path = tmp_path / "ledger.db"
    with open_ledger(str(path)) as ledger:
        build_runs(ledger, log_key)
    return path


@pytest.fixture
def bundle(ledger_path: Path, tmp_path: Path, log_key: SigningKey) -> Path:
    with open_ledger(str(ledger_path)) as ledger:
        return export_bundle(ledger, tmp_path / "bundle.zip", log_key).path


@pytest.fixture
def checkpoints(ledger_path: Path) -> list[Checkpoint]:
    with open_ledger(str(ledger_path)) as ledger:
        return ledger.checkpoints()


def check(
    path: Path, key: SigningKey, trusted: Checkpoint | None = None, views: bool = False
) -> BundleReport:
    return verify_bundle(path, [key.verifier], trusted, check_views=views)


def fails_at_seq(report: BundleReport, seq: int, message: str) -> None:
    assert not report.ok
    assert isinstance(report.error, VerificationError), report.error
    assert report.first_bad_seq == seq, report.error
    assert report.error.message.startswith(message), report.error.message


def fails_at(report: BundleReport, where: str, message: str) -> None:
    assert not report.ok
    assert isinstance(report.error, LogVerificationError), report.error
    assert report.error.where == where, report.error
    assert message in report.error.message, report.error.message


def forge(tmp_path: Path, name: str, key: SigningKey, runs: list[tuple[str, int, int]]) -> Path:
    """A bundle of another ledger, built from scratch and signed by `key`."""
    path = tmp_path / f"{name}.db"
    with open_ledger(str(path)) as ledger:
        build_runs(ledger, key, runs)
        return export_bundle(ledger, tmp_path / f"{name}.zip", key).path


def flip_status(line: bytes) -> bytes:
    assert b'"status":"pass"' in line
    return line.replace(b'"status":"pass"', b'"status":"fail"')


# --- records -----------------------------------------------------------------------------


def test_an_edited_byte(bundle: Path, tmp_path: Path, log_key: SigningKey) -> None:
    edit = edit_lines(lambda ls: [*ls[:7], flip_status(ls[7]), *ls[8:]])
    edited = rewrite(bundle, tmp_path / "e.zip", {RECORDS: edit})
    fails_at(check(edited, log_key), RECORDS, "SHA-256 of its stored bytes got ")
    resigned = rewrite(bundle, tmp_path / "r.zip", {RECORDS: edit}, digests=True, sign=log_key)
    fails_at_seq(check(resigned, log_key), 8, "body prev got ")


def test_an_edited_last_record_is_caught_by_the_checkpoint(
    bundle: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    # Nothing links to the last record: only the signed root can tell.
    edit = edit_lines(lambda ls: [*ls[:15], ls[15].replace(b'"exit_code":1', b'"exit_code":0')])
    resigned = rewrite(bundle, tmp_path / "r.zip", {RECORDS: edit}, digests=True, sign=log_key)
    report = check(resigned, log_key)
    fails_at(report, f"{log_key.name}@16", "(signed), expected ")
    assert "(recomputed from records 0..15 and proofs.json)" in str(report.error)


def test_a_deleted_record(bundle: Path, tmp_path: Path, log_key: SigningKey) -> None:
    edit = edit_lines(lambda ls: [*ls[:3], *ls[4:]])
    resigned = rewrite(bundle, tmp_path / "r.zip", {RECORDS: edit}, digests=True, sign=log_key)
    fails_at_seq(check(resigned, log_key), 3, "body seq got 4, expected 3")


def test_an_inserted_record(bundle: Path, tmp_path: Path, log_key: SigningKey) -> None:
    def insert(ls: list[bytes]) -> list[bytes]:
        prev = hashlib.sha256(ls[2].rstrip(b"\n")).hexdigest()
        forged = seal({"kind": "result", "status": "pass"}, 3, prev)
        return [*ls[:3], forged.body + b"\n", *ls[3:]]

    resigned = rewrite(
        bundle, tmp_path / "r.zip", {RECORDS: edit_lines(insert)}, digests=True, sign=log_key
    )
    fails_at_seq(check(resigned, log_key), 4, "body seq got 3, expected 4")


def test_two_records_reordered(bundle: Path, tmp_path: Path, log_key: SigningKey) -> None:
    edit = edit_lines(lambda ls: [*ls[:2], ls[3], ls[2], *ls[4:]])
    resigned = rewrite(bundle, tmp_path / "r.zip", {RECORDS: edit}, digests=True, sign=log_key)
    fails_at_seq(check(resigned, log_key), 2, "body seq got 3, expected 2")


def test_a_truncated_tail(bundle: Path, tmp_path: Path, log_key: SigningKey) -> None:
    edit = edit_lines(lambda ls: ls[:14])
    fails_at(check(rewrite(bundle, tmp_path / "e.zip", {RECORDS: edit}), log_key), RECORDS, "SHA")
    resigned = rewrite(bundle, tmp_path / "r.zip", {RECORDS: edit}, digests=True, sign=log_key)
    fails_at_seq(
        check(resigned, log_key),
        14,
        "records.jsonl ends after 14 records, expected 16 (manifest.json: records 0..15)",
    )


def test_a_duplicate_key_variant_of_a_record(
    bundle: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    # A reader keeping the last value would see "fail"; one keeping the first, "pass".
    def smuggle(ls: list[bytes]) -> list[bytes]:
        line = ls[7].rstrip(b"\n")
        return [*ls[:7], line[:-1] + b',"status":"fail"}\n', *ls[8:]]

    resigned = rewrite(
        bundle, tmp_path / "r.zip", {RECORDS: edit_lines(smuggle)}, digests=True, sign=log_key
    )
    fails_at_seq(
        check(resigned, log_key), 7, "body is not a canonical record: duplicate key 'status'"
    )


def test_a_second_copy_of_a_file_in_the_zip(
    bundle: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    copy = edit_lines(lambda ls: [*ls[:7], flip_status(ls[7]), *ls[8:]])(members(bundle)[RECORDS])
    with pytest.warns(UserWarning, match="Duplicate name"):
        twice = rewrite(bundle, tmp_path / "t.zip", extra=[(RECORDS, copy)])
    fails_at(check(twice, log_key), RECORDS, "is in the zip twice")


def test_a_manifest_with_a_duplicate_key(bundle: Path, tmp_path: Path, log_key: SigningKey) -> None:
    def smuggle(manifest: bytes) -> bytes:
        return manifest[:-1] + b',"format":"assay-evidence-bundle/1"}'

    edited = rewrite(bundle, tmp_path / "m.zip", {MANIFEST: smuggle}, sign=log_key)
    fails_at(check(edited, log_key), MANIFEST, "not canonical JSON: duplicate key 'format'")


def test_a_bundle_of_the_first_format_is_named_as_such(
    bundle: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    def first(manifest: bytes) -> bytes:
        return manifest.replace(b"assay-evidence-bundle/2", b"assay-evidence-bundle/1")

    edited = rewrite(bundle, tmp_path / "m.zip", {MANIFEST: first}, sign=log_key)
    fails_at(
        check(edited, log_key),
        MANIFEST,
        "format got 'assay-evidence-bundle/1', expected 'assay-evidence-bundle/2' (a bundle "
        "of another assay version: verify it with that version, or export it again)",
    )


# --- forgeries, rollbacks, forks ---------------------------------------------------------


def test_a_forgery_re_hashed_and_signed_under_another_key(
    tmp_path: Path, log_key: SigningKey, other_key: SigningKey
) -> None:
    # Same origin name, another key: self-consistent in every way but the signatures.
    forged = forge(tmp_path, "forged", other_key, [("run-a", 1, 7)])
    assert verify_bundle(forged, [other_key.verifier]).ok
    fails_at(
        check(forged, log_key),
        f"{log_key.name}@9",
        f"signature: no signature by a trusted key: found {log_key.name} (key id "
        f"{other_key.verifier.id.hex()})",
    )


def test_a_rollback_to_an_older_checkpoint(
    tmp_path: Path, log_key: SigningKey, checkpoints: list[Checkpoint]
) -> None:
    # The auditor pinned @16; the ledger was restored from a backup taken at @10.
    restored = forge(tmp_path, "restored", log_key, [("run-a", 1, 3), ("run-b", 2, 3)])
    assert check(restored, log_key).ok  # self-consistent, as the backup was
    fails_at(
        check(restored, log_key, trusted=checkpoints[2]),
        f"trusted checkpoint {log_key.name}@16",
        "covers 16 records, but the bundle's latest checkpoint "
        f"{log_key.name}@10 covers 10: the log was rolled back or truncated",
    )


def test_a_fork_re_signed_with_the_real_key(
    tmp_path: Path, log_key: SigningKey, checkpoints: list[Checkpoint]
) -> None:
    # A stolen key can re-sign rewritten history; a checkpoint pinned before cannot be.
    forked = forge(tmp_path, "forked", log_key, [("run-a", 1, 2), ("run-b", 2, 4), ("run-c", 3, 4)])
    assert check(forked, log_key).ok
    fails_at(
        check(forked, log_key, trusted=checkpoints[1]),
        f"trusted checkpoint {log_key.name}@10",
        "(trusted): history before it was rewritten (a fork)",
    )


def test_a_checkpoint_swapped_for_one_of_a_fork(
    bundle: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    forked = forge(tmp_path, "forked", log_key, [("run-a", 1, 2), ("run-b", 2, 4)])
    fork_note = members(forked)["checkpoints/0001-size-10.note"]
    swapped = rewrite(bundle, tmp_path / "s.zip", {CHECKPOINT_10: fork_note})
    fails_at(check(swapped, log_key), CHECKPOINT_10, "SHA-256 of its stored bytes")
    resigned = rewrite(
        bundle, tmp_path / "r.zip", {CHECKPOINT_10: fork_note}, digests=True, sign=log_key
    )
    fails_at(check(resigned, log_key), f"{log_key.name}@10", "(signed), expected ")


def test_a_checkpoint_swapped_for_an_older_one(
    bundle: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    older = members(bundle)["checkpoints/0000-size-5.note"]
    resigned = rewrite(
        bundle, tmp_path / "r.zip", {CHECKPOINT_10: older}, digests=True, sign=log_key
    )
    fails_at(
        check(resigned, log_key),
        f"{PROOFS} consistency[0]",
        f"{log_key.name}@5 -> {log_key.name}@5: consistency proof 5->5 has 5 hashes, expected 0",
    )


def test_a_tampered_proof(bundle: Path, tmp_path: Path, log_key: SigningKey) -> None:
    def flip(data: bytes) -> bytes:
        proofs = json.loads(data)
        proofs["consistency"][0][0] = "A" * 43 + "="
        return json.dumps(proofs, sort_keys=True, separators=(",", ":")).encode()

    resigned = rewrite(bundle, tmp_path / "r.zip", {PROOFS: flip}, digests=True, sign=log_key)
    fails_at(check(resigned, log_key), f"{PROOFS} consistency[0]", "gives ")


def test_tampered_left_subtrees_of_a_range(
    ledger_path: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    with open_ledger(str(ledger_path)) as ledger:
        run_b = export_bundle(ledger, tmp_path / "b.zip", log_key, Selection(run="run-b")).path

    def flip(data: bytes) -> bytes:
        proofs = json.loads(data)
        proofs["left"][0] = "A" * 43 + "="
        return json.dumps(proofs, sort_keys=True, separators=(",", ":")).encode()

    resigned = rewrite(run_b, tmp_path / "r.zip", {PROOFS: flip}, digests=True, sign=log_key)
    fails_at(check(resigned, log_key), f"{log_key.name}@5", "(recomputed from records 5..4")


# --- the bundle as a whole ---------------------------------------------------------------


def test_a_file_edited(bundle: Path, tmp_path: Path, log_key: SigningKey) -> None:
    def edit(text: bytes) -> bytes:
        return text.replace(b"| fail | 4 |", b"| fail | 0 |")

    fails_at(check(rewrite(bundle, tmp_path / "e.zip", {SUMMARY: edit}), log_key), SUMMARY, "SHA")
    unsigned = rewrite(bundle, tmp_path / "u.zip", {SUMMARY: edit}, digests=True)
    fails_at(check(unsigned, log_key), SIGNATURE, "(the SHA-256 of manifest.json)")
    resigned = rewrite(bundle, tmp_path / "r.zip", {SUMMARY: edit}, digests=True, sign=log_key)
    assert check(resigned, log_key).notes == [UNBUILT]  # signed, so it stands...
    fails_at(check(resigned, log_key, views=True), SUMMARY, "does not match the records")


def test_an_oscal_verdict_changed_is_caught_when_views_are_rebuilt(
    bundle: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    def launder(data: bytes) -> bytes:
        return data.replace(b'"value":"fail"', b'"value":"pass"')

    resigned = rewrite(bundle, tmp_path / "r.zip", {OSCAL: launder}, digests=True, sign=log_key)
    assert check(resigned, log_key).ok
    fails_at(check(resigned, log_key, views=True), OSCAL, "does not match the records")


def test_a_file_removed_or_added(bundle: Path, tmp_path: Path, log_key: SigningKey) -> None:
    removed = rewrite(bundle, tmp_path / "r.zip", {PROOFS: None})
    fails_at(check(removed, log_key), PROOFS, "is listed in manifest.json but missing")
    added = rewrite(bundle, tmp_path / "a.zip", extra=[("notes.txt", b"trust me\n")])
    fails_at(check(added, log_key), "notes.txt", "is in the bundle but not listed")
    unsigned = rewrite(bundle, tmp_path / "s.zip", {SIGNATURE: None})
    fails_at(check(unsigned, log_key), SIGNATURE, "is missing: this is not an evidence bundle")


def test_the_manifest_signed_by_another_key(
    bundle: Path, tmp_path: Path, log_key: SigningKey, other_key: SigningKey
) -> None:
    resigned = rewrite(bundle, tmp_path / "r.zip", sign=other_key)
    fails_at(check(resigned, log_key), SIGNATURE, "signature: no signature by a trusted key")


def test_a_file_that_is_not_a_bundle(tmp_path: Path, log_key: SigningKey) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    fails_at(check(junk, log_key), "bundle", "not a readable zip file")
    flipped = tmp_path / "flipped.zip"
    ledger = tmp_path / "l.db"
    with open_ledger(str(ledger)) as opened:
        opened.append(run_entries("x", 1, ["pass"] * 50), key=log_key)
        sign_checkpoint(opened, log_key)
        data = bytearray(export_bundle(opened, flipped, log_key).path.read_bytes())
    data[200] ^= 0xFF  # inside records.jsonl's compressed bytes
    flipped.write_bytes(bytes(data))
    # Zip's CRC-32 is not read for a member the manifest lists: its SHA-256 is checked.
    fails_at(check(flipped, log_key), RECORDS, "SHA-256 of its stored bytes got")


def _break_deflate(path: Path, member: str) -> bytes:
    """Make the member's first deflate block one of the reserved type; its stored bytes."""
    with zipfile.ZipFile(path) as zf:
        at, size = stored_at(path, zf.getinfo(member))
    data = bytearray(path.read_bytes())
    data[at] = 0x07
    path.write_bytes(bytes(data))
    return bytes(data[at : at + size])


@pytest.mark.parametrize("member", [RECORDS, OSCAL])
def test_a_member_that_does_not_inflate_is_unreadable(
    bundle: Path, tmp_path: Path, log_key: SigningKey, member: str
) -> None:
    broken = tmp_path / "broken.zip"
    broken.write_bytes(bundle.read_bytes())
    stored = _break_deflate(broken, member)
    fails_at(check(broken, log_key), member, "SHA-256 of its stored bytes got")
    # Signed as stored by the log's key: the digest holds, and inflating fails.
    manifest = json.loads(members(bundle)[MANIFEST])
    manifest["files"][member]["stored"]["sha256"] = hashlib.sha256(stored).hexdigest()
    text = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    resigned = rewrite(bundle, tmp_path / "r.zip", {MANIFEST: text}, sign=log_key)
    assert _break_deflate(resigned, member) == stored
    if member == RECORDS:
        fails_at(check(resigned, log_key), member, "unreadable")
    else:
        # Only hashed as stored, unless the views are rebuilt: its bytes are the signed ones.
        assert check(resigned, log_key).ok
        fails_at(check(resigned, log_key, views=True), member, "unreadable")


def test_a_proof_hash_of_the_wrong_length(
    bundle: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    def shorten(data: bytes) -> bytes:
        proofs = json.loads(data)
        proofs["consistency"][1][0] = base64.b64encode(b"\x01" * 31).decode()
        return json.dumps(proofs, sort_keys=True, separators=(",", ":")).encode()

    resigned = rewrite(bundle, tmp_path / "r.zip", {PROOFS: shorten}, digests=True, sign=log_key)
    fails_at(check(resigned, log_key), f"{PROOFS} consistency[1]", "hash 0 is 31 bytes")
