"""Hostile bundles: zip bombs, overlong lines, unlisted and doubled members.

Every member is read within the size the signed manifest lists (and within a fixed cap
for the members read whole), so a small zip that inflates to hundreds of MiB fails
verification, naming the member, after reading at most one byte more than allowed.
"""

from __future__ import annotations

import json
import resource
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from bundle_tools import build_runs, members, stored
from click.testing import CliRunner

from assay.engine.cli.main import cli
from assay.evidence import (
    BundleReport,
    LogVerificationError,
    SigningKey,
    export_bundle,
    open_ledger,
    verify_bundle,
)
from assay.evidence.bundle.format import (
    MANIFEST,
    OSCAL,
    PROOFS,
    PUBLIC_KEY,
    RECORDS,
    SIGNATURE,
    SUMMARY,
    sign_manifest,
    zip_entry,
)
from assay.evidence.bundle.verify import LINE_MAX

MIB = 1 << 20
CHECKPOINT = "checkpoints/0000-size-5.note"


class Zeros:
    """A member of `mib` MiB of zeros, streamed into the zip (a few KB per 64 MiB)."""

    def __init__(self, mib: int) -> None:
        self.mib = mib

    def write(self, zf: zipfile.ZipFile, name: str) -> None:
        block = bytes(MIB)
        with zf.open(zip_entry(name), "w", force_zip64=True) as out:
            for _ in range(self.mib):
                out.write(block)


class Raw(Zeros):
    """A member whose stored bytes are exactly `data`: written with no compression, to be
    labelled deflated afterwards (`relabel`)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def write(self, zf: zipfile.ZipFile, name: str) -> None:
        info = zip_entry(name)
        info.compress_type = zipfile.ZIP_STORED
        zf.writestr(info, self.data)


def relabel(path: Path, name: str, method: int, *, central_too: bool = True) -> None:
    """Label the member `name` of the zip at `path` as compressed by `method`, in its
    local header and (with `central_too`) its central directory entry, its bytes left
    alone."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        local = zf.getinfo(name).header_offset
    struct.pack_into("<H", data, local + 8, method)
    if not central_too:
        path.write_bytes(bytes(data))
        return
    central = data.find(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(name)] != name.encode():
        central = data.find(b"PK\x01\x02", central + 1)
        assert central > 0, name
    struct.pack_into("<H", data, central + 10, method)
    path.write_bytes(bytes(data))


def deflated(data: bytes) -> bytes:
    """`data` as one raw deflate stream, as a bundle stores it."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


Member = bytes | Zeros


def repack(
    bundle: Path,
    out: Path,
    changes: Mapping[str, Member] = {},
    *,
    extra: Sequence[tuple[str, Member]] = (),
    declare: bool = False,
    sign: SigningKey | None = None,
    manifest: Callable[[dict[str, Any]], None] | None = None,
) -> Path:
    """A copy of `bundle` with members replaced and `extra` ones added. With `declare` the
    manifest lists the new members' true digests and sizes; `manifest` edits it further;
    with `sign` it is signed again."""
    contents: dict[str, Member] = {**members(bundle), **changes}
    doc = json.loads(members(bundle)[MANIFEST])
    written = [
        (name, data)
        for name, data in contents.items()
        if name in changes or name not in (MANIFEST, SIGNATURE)  # those last, when known
    ]
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in [*written, *extra]:
            if isinstance(data, bytes):
                zf.writestr(zip_entry(name), data)
            else:
                data.write(zf, name)
            if declare and name in doc["files"]:
                doc["files"][name] = stored(zf, name)
        if manifest is not None:
            manifest(doc)
        body = members(bundle)[MANIFEST]
        if declare or manifest is not None:
            body = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        if MANIFEST not in changes:
            zf.writestr(zip_entry(MANIFEST), body)
        if SIGNATURE not in changes:
            sig = members(bundle)[SIGNATURE]
            zf.writestr(zip_entry(SIGNATURE), sign_manifest(body, sign).encode() if sign else sig)
    return out


@pytest.fixture
def bundle(tmp_path: Path, log_key: SigningKey) -> Path:
    with open_ledger(str(tmp_path / "ledger.db")) as ledger:
        build_runs(ledger, log_key)
        return export_bundle(ledger, tmp_path / "bundle.zip", log_key).path


def check(path: Path, key: SigningKey, *, views: bool = False) -> BundleReport:
    return verify_bundle(path, [key.verifier], check_views=views)


def fails_at(report: BundleReport, where: str, message: str) -> None:
    assert not report.ok
    assert isinstance(report.error, LogVerificationError), report.error
    assert report.error.where == where, report.error
    assert message in report.error.message, report.error.message


# --- records.jsonl -----------------------------------------------------------------------


def signed_as(
    bundle: Path, out: Path, key: SigningKey, name: str, member: Member, size: int
) -> Path:
    """The bundle with `name` replaced by `member`, listed as stored but as inflating to
    `size` bytes whatever it holds, and signed again with `key`."""

    def keep_size(doc: dict[str, Any]) -> None:
        doc["files"][name]["size"] = size

    return repack(bundle, out, {name: member}, declare=True, sign=key, manifest=keep_size)


def test_a_records_bomb_is_refused_unread_and_a_signed_one_stops_at_the_listed_size(
    bundle: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    listed = json.loads(members(bundle)[MANIFEST])["files"][RECORDS]["size"]
    bomb = repack(bundle, tmp_path / "bomb.zip", {RECORDS: Zeros(64)})
    assert bomb.stat().st_size < MIB
    report = check(bomb, log_key)
    fails_at(report, RECORDS, "SHA-256 of its stored bytes not taken: they are ")
    assert report.records == 0
    # Signed as stored, but listed as inflating to the records' size: read that far only.
    signed = signed_as(bundle, tmp_path / "signed.zip", log_key, RECORDS, Zeros(64), listed)
    report = check(signed, log_key)
    fails_at(report, RECORDS, f"inflates to more than {listed} bytes ({MANIFEST}): read no further")
    assert report.records == 0


def test_a_records_bomb_through_the_cli_exits_4_naming_the_member(
    bundle: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    bomb = repack(bundle, tmp_path / "bomb.zip", {RECORDS: Zeros(64)})
    result = CliRunner().invoke(
        cli, ["evidence", "verify", str(bomb), "--key", str(log_key.verifier)]
    )
    assert result.exit_code == 4, result.output
    assert f"failed verification: {RECORDS}: SHA-256 of its stored bytes not" in result.output


def test_a_manifest_that_signs_a_huge_records_file_meets_the_line_cap(
    bundle: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    huge = repack(bundle, tmp_path / "h.zip", {RECORDS: Zeros(64)}, declare=True, sign=log_key)
    fails_at(check(huge, log_key), f"{RECORDS} line 1", f"is longer than {LINE_MAX} bytes")


def test_an_overlong_line_is_named_by_its_number_and_seq(
    bundle: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    lines = members(bundle)[RECORDS].splitlines(keepends=True)
    long = b"x" * (LINE_MAX + 1) + b"\n"
    records = b"".join([*lines[:2], long, *lines[3:]])
    edited = repack(bundle, tmp_path / "l.zip", {RECORDS: records}, declare=True, sign=log_key)
    fails_at(
        check(edited, log_key),
        f"{RECORDS} line 3",
        f"is longer than {LINE_MAX} bytes, the most a record may be (it would hold seq 2)",
    )
    # A line of exactly the cap is only a bad record, not a refused read.
    at_cap = b"x" * LINE_MAX + b"\n"
    edited = repack(
        bundle,
        tmp_path / "c.zip",
        {RECORDS: b"".join([*lines[:2], at_cap, *lines[3:]])},
        declare=True,
        sign=log_key,
    )
    report = check(edited, log_key)
    assert not report.ok and report.first_bad_seq == 2, report.error


def test_lines_beyond_the_records_the_manifest_names_are_read_a_line_deep(
    bundle: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    lines = members(bundle)[RECORDS].splitlines(keepends=True)
    short = b"".join(lines) + b"{}\n"
    edited = repack(bundle, tmp_path / "s.zip", {RECORDS: short}, declare=True, sign=log_key)
    report = check(edited, log_key)
    assert report.first_bad_seq == 16 and "holds more lines than the 16" in str(report.error)
    assert "bytes follow them" not in str(report.error)
    long = b"".join(lines) + (b"x" * 1000 + b"\n") * 5000
    edited = repack(bundle, tmp_path / "l.zip", {RECORDS: long}, declare=True, sign=log_key)
    report = check(edited, log_key)
    assert report.first_bad_seq == 16, report.error
    assert f"more than {LINE_MAX} bytes follow them" in str(report.error)


# --- the other members -------------------------------------------------------------------


@pytest.mark.parametrize("name", [CHECKPOINT, PROOFS, OSCAL, SUMMARY, PUBLIC_KEY])
def test_a_bomb_in_any_listed_member_is_refused_by_its_stored_bytes_then_by_its_size(
    bundle: Path, tmp_path: Path, log_key: SigningKey, name: str
) -> None:
    listed = json.loads(members(bundle)[MANIFEST])["files"][name]["size"]
    bomb = repack(bundle, tmp_path / "bomb.zip", {name: Zeros(64)})
    fails_at(check(bomb, log_key), name, "SHA-256 of its stored bytes not taken")
    signed = signed_as(bundle, tmp_path / "signed.zip", log_key, name, Zeros(64), listed)
    # A member read (a checkpoint, the proofs) stops where the listed size ends; one only
    # hashed as stored is never inflated, and its zip header's size must be the listed one.
    read = name in (CHECKPOINT, PROOFS)
    expected = (
        f"inflates to more than {listed} bytes"
        if read
        else f"its zip header gives {64 * MIB} bytes inflated, expected {listed}"
    )
    fails_at(check(signed, log_key), name, expected)


# --- stored bytes ------------------------------------------------------------------------


def _signed_raw(bundle: Path, out: Path, key: SigningKey, raw: bytes, size: int) -> Path:
    """The bundle with records.jsonl stored as the bytes `raw` (labelled deflated) and
    listed, signed, as those bytes inflating to `size`."""
    path = signed_as(bundle, out, key, RECORDS, Raw(raw), size)
    relabel(path, RECORDS, zipfile.ZIP_DEFLATED)
    return path


def test_signed_stored_bytes_that_are_not_one_whole_deflate_stream_are_refused(
    bundle: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    records = members(bundle)[RECORDS]
    whole = deflated(records)
    # The same records, stored as another deflate stream and signed as such, verify.
    path = _signed_raw(bundle, tmp_path / "whole.zip", log_key, whole, len(records))
    report = check(path, log_key)
    assert report.ok and report.records == 16, report.error
    cases = [
        (whole + b"\x03\x00", len(records), "bytes follow the end of its deflate stream"),
        (whole[: len(whole) // 2], len(records), "is cut short in its deflate stream"),
        (whole, len(records) + 1, f"inflates to {len(records)} bytes, expected"),
        (b"\x07" + whole[1:], len(records), "unreadable: "),
    ]
    for i, (raw, size, expected) in enumerate(cases):
        path = _signed_raw(bundle, tmp_path / f"{i}.zip", log_key, raw, size)
        fails_at(check(path, log_key), RECORDS, expected)


@pytest.mark.parametrize("name", [RECORDS, OSCAL])
@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_BZIP2])
def test_a_member_labelled_with_another_compression_method_is_refused(
    bundle: Path, tmp_path: Path, log_key: SigningKey, name: str, method: int
) -> None:
    # The stored bytes are the signed ones; labelled "stored", unzip would hand out the
    # deflate stream itself as the member.
    path = tmp_path / "relabelled.zip"
    path.write_bytes(bundle.read_bytes())
    relabel(path, name, method)
    fails_at(check(path, log_key), name, f"compression method {method}: expected 8 (deflate)")
    # Labelled so in its local header alone, which some unzip tools follow.
    path.write_bytes(bundle.read_bytes())
    relabel(path, name, method, central_too=False)
    fails_at(check(path, log_key), name, f"its local header gives compression method {method}")


@pytest.mark.parametrize("name", [RECORDS, OSCAL])
def test_a_local_header_naming_another_member_is_refused(
    bundle: Path, tmp_path: Path, log_key: SigningKey, name: str
) -> None:
    data = bytearray(bundle.read_bytes())
    with zipfile.ZipFile(bundle) as zf:
        at = zf.getinfo(name).header_offset + 30
    assert data[at : at + len(name)] == name.encode()
    data[at] = ord("X")  # the central directory still says `name`
    path = tmp_path / "renamed.zip"
    path.write_bytes(bytes(data))
    fails_at(check(path, log_key), name, "its local header names b'X")


def test_a_bundle_repacked_with_the_same_contents_is_not_the_signed_one(
    bundle: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    # Unzipped and zipped again (here at another level): every member's content is the
    # same, but not its stored bytes, which the manifest signs.
    repacked = tmp_path / "repacked.zip"
    with zipfile.ZipFile(repacked, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in members(bundle).items():
            zf.writestr(name, data)
    report = check(repacked, log_key)
    assert not report.ok and "SHA-256 of its stored bytes" in str(report.error), report.error


@pytest.mark.parametrize(
    ("name", "size", "what"),
    [(CHECKPOINT, 64 << 10, "a signed note"), (PROOFS, 8 << 20, f"a {PROOFS}")],
    ids=["checkpoint", "proofs"],
)
def test_a_signed_manifest_cannot_raise_the_cap_on_members_read_whole(
    bundle: Path, tmp_path: Path, log_key: SigningKey, name: str, size: int, what: str
) -> None:
    bomb = repack(bundle, tmp_path / "b.zip", {name: Zeros(64)}, declare=True, sign=log_key)
    fails_at(check(bomb, log_key), name, f"is more than {size} bytes, the most {what} may be")


@pytest.mark.parametrize(
    ("name", "size"), [(MANIFEST, 8 * MIB), (SIGNATURE, 64 * 1024)], ids=["manifest", "sig"]
)
def test_the_manifest_and_its_signature_are_read_within_a_fixed_cap(
    bundle: Path, tmp_path: Path, log_key: SigningKey, name: str, size: int
) -> None:
    bomb = repack(bundle, tmp_path / "bomb.zip", {name: Zeros(64)})
    fails_at(check(bomb, log_key), name, f"is more than {size} bytes")


def test_the_manifest_signature_is_checked_before_any_listed_member_is_read(
    bundle: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    # The manifest declares the bomb truly but keeps the log key's old signature: the
    # signature fails first, where reading the records would meet the line cap.
    forged = repack(bundle, tmp_path / "f.zip", {RECORDS: Zeros(64)}, declare=True)
    fails_at(check(forged, log_key), SIGNATURE, "(the SHA-256 of manifest.json)")


def test_a_manifest_signed_by_an_unknown_key_is_decided_later_but_read_within_bounds(
    bundle: Path, tmp_path: Path, log_key: SigningKey, other_key: SigningKey
) -> None:
    # An unknown signer may be a key the records rotate to, known only after them.
    stranger = repack(
        bundle, tmp_path / "s.zip", {RECORDS: Zeros(64)}, declare=True, sign=other_key
    )
    fails_at(check(stranger, log_key), f"{RECORDS} line 1", f"is longer than {LINE_MAX} bytes")
    honest = repack(bundle, tmp_path / "h.zip", sign=other_key, declare=True)
    fails_at(check(honest, log_key), SIGNATURE, "no signature by a trusted key")


# --- the zip's own structure -------------------------------------------------------------


def test_an_unlisted_member_is_refused_without_being_read(
    bundle: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    bomb = repack(bundle, tmp_path / "u.zip", extra=[("evil.bin", Zeros(64))])
    fails_at(check(bomb, log_key), "evil.bin", f"is in the bundle but not listed in {MANIFEST}")


@pytest.mark.parametrize("name", [RECORDS, MANIFEST])
def test_a_member_twice_is_refused_before_either_copy_is_read(
    bundle: Path, tmp_path: Path, log_key: SigningKey, name: str
) -> None:
    out = tmp_path / "twice.zip"
    with pytest.warns(UserWarning, match="Duplicate name"):
        repack(bundle, out, extra=[(name, Zeros(64))])
    fails_at(check(out, log_key), name, "is in the zip twice")


def test_the_genuine_bundle_still_verifies_with_its_views(
    bundle: Path, log_key: SigningKey
) -> None:
    report = check(bundle, log_key, views=True)
    assert report.ok, report.error
    assert report.records == 16


# --- memory, in a process of its own ----------------------------------------------------

VERIFY = """
import resource, sys
from pathlib import Path
from assay.evidence import VerifierKey, verify_bundle
limit = int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
report = verify_bundle(Path(sys.argv[1]), [VerifierKey.parse(sys.argv[2])])
print(report.error)
"""


def test_a_256_mib_bomb_verifies_within_512_mib_of_address_space(
    bundle: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    bomb = repack(bundle, tmp_path / "bomb.zip", {RECORDS: Zeros(256)})
    huge = repack(bundle, tmp_path / "h.zip", {RECORDS: Zeros(256)}, declare=True, sign=log_key)
    limit = 512 * MIB
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    assert hard == resource.RLIM_INFINITY or hard >= limit
    for path, expected in ((bomb, "SHA-256 of its stored bytes"), (huge, f"{RECORDS} line 1")):
        done = subprocess.run(
            [sys.executable, "-c", VERIFY, str(path), str(log_key.verifier), str(limit)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        assert expected in done.stdout, done.stdout


def test_failing_records_near_the_line_cap_are_not_kept_chunk_after_chunk(
    bundle: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    # 96 lines just under the cap, declared and signed as the bundle's records: every
    # chunk fails. Chunks once held 32,768 records whatever their size, and a failed
    # chunk's lines stayed alive with its error; now it verifies in 256 MiB of address
    # space (it did not before).
    line = b"0" * (LINE_MAX - 1) + b"\n"

    class Lines(Zeros):
        def write(self, zf: zipfile.ZipFile, name: str) -> None:
            with zf.open(zip_entry(name), "w", force_zip64=True) as out:
                for _ in range(96):
                    out.write(line)

    path = repack(bundle, tmp_path / "lines.zip", {RECORDS: Lines(0)}, declare=True, sign=log_key)
    limit = 256 * MIB
    done = subprocess.run(
        [sys.executable, "-c", VERIFY, str(path), str(log_key.verifier), str(limit)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "holds more lines than" in done.stdout or "not a canonical record" in done.stdout
