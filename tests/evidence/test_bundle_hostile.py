"""Hostile bundles: zip bombs, overlong lines, unlisted and doubled members.

Every member is read within the size the signed manifest lists (and within a fixed cap
for the members read whole), so a small zip that inflates to hundreds of MiB fails
verification, naming the member, after reading at most one byte more than allowed.
"""

from __future__ import annotations

import hashlib
import json
import resource
import subprocess
import sys
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from bundle_tools import build_runs, members
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
)
from assay.evidence.bundle.verify import LINE_MAX

MIB = 1 << 20
CHECKPOINT = "checkpoints/0000-size-5.note"


class Zeros:
    """A member of `mib` MiB of zeros, streamed into the zip (a few KB per 64 MiB)."""

    def __init__(self, mib: int) -> None:
        self.mib = mib

    def write(self, zf: zipfile.ZipFile, name: str) -> tuple[str, int]:
        digest, block = hashlib.sha256(), bytes(MIB)
        with zf.open(name, "w", force_zip64=True) as out:
            for _ in range(self.mib):
                out.write(block)
                digest.update(block)
        return digest.hexdigest(), self.mib * MIB


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
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in [*written, *extra]:
            if isinstance(data, Zeros):
                sha, size = data.write(zf, name)
            else:
                zf.writestr(name, data)
                sha, size = hashlib.sha256(data).hexdigest(), len(data)
            if declare and name in doc["files"]:
                doc["files"][name] = {"sha256": sha, "size": size}
        if manifest is not None:
            manifest(doc)
        body = members(bundle)[MANIFEST]
        if declare or manifest is not None:
            body = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        if MANIFEST not in changes:
            zf.writestr(MANIFEST, body)
        if SIGNATURE not in changes:
            sig = members(bundle)[SIGNATURE]
            zf.writestr(SIGNATURE, sign_manifest(body, sign).encode() if sign else sig)
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


def test_a_records_bomb_stops_at_the_size_the_signed_manifest_lists(
    bundle: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    listed = json.loads(members(bundle)[MANIFEST])["files"][RECORDS]["size"]
    bomb = repack(bundle, tmp_path / "bomb.zip", {RECORDS: Zeros(64)})
    assert bomb.stat().st_size < MIB
    report = check(bomb, log_key)
    fails_at(report, RECORDS, f"SHA-256 got none: more than {listed} bytes, read no further")
    assert report.records == 0


def test_a_records_bomb_through_the_cli_exits_4_naming_the_member(
    bundle: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    bomb = repack(bundle, tmp_path / "bomb.zip", {RECORDS: Zeros(64)})
    result = CliRunner().invoke(
        cli, ["evidence", "verify", str(bomb), "--key", str(log_key.verifier)]
    )
    assert result.exit_code == 4, result.output
    assert f"failed verification: {RECORDS}: SHA-256 got none: more than" in result.output


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
def test_a_bomb_in_any_listed_member_stops_at_its_listed_size(
    bundle: Path, tmp_path: Path, log_key: SigningKey, name: str
) -> None:
    listed = json.loads(members(bundle)[MANIFEST])["files"][name]["size"]
    bomb = repack(bundle, tmp_path / "bomb.zip", {name: Zeros(64)})
    fails_at(check(bomb, log_key), name, f"SHA-256 got none: more than {listed} bytes")


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
    for path, expected in ((bomb, "SHA-256 got none"), (huge, f"{RECORDS} line 1")):
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
        def write(self, zf: zipfile.ZipFile, name: str) -> tuple[str, int]:
            digest = hashlib.sha256()
            with zf.open(name, "w", force_zip64=True) as out:
                for _ in range(96):
                    out.write(line)
                    digest.update(line)
            return digest.hexdigest(), 96 * len(line)

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
