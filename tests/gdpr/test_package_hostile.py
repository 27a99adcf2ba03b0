"""Hostile export packages: zip bombs, unsafe names, planted links, scrypt headers.

Packages are built by the real writer (`PackageWriter`, `seal`) or, for what it never
writes, as zips by hand; unpacking goes through `assay dsr unpack` where the exit code
matters. Nothing a package claims sizes the work, and nothing lands in OUT_DIR unless
every file matches.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from assay.engine.cli.main import cli
from assay.gdpr.errors import PackageError
from assay.gdpr.package import (
    FORMAT,
    MAGIC,
    PackageInputError,
    PackageWriter,
    seal,
    unpack,
)

MIB = 1 << 20
PASSPHRASE = "a long passphrase"
EXPIRES = "2099-01-01T00:00:00+00:00"


def write_package(path: Path, passphrase: str | None = None) -> dict[str, Any]:
    """A real two-table package, written by the writer access requests use."""
    writer = PackageWriter(path, {"request": "DSR-1", "expires_at": EXPIRES}, passphrase)
    about = {"purposes": [], "legal_holds": []}
    writer.add_table("customers", ["id", "email"], {"email": "contact"}, [(1, "a@x")], about)
    writer.add_table("orders", ["id"], {}, [(1,), (2,)], about)
    return writer.finish()


def unpack_cli(package: Path, out: Path, passphrase: str | None = None) -> Result:
    args = ["dsr", "unpack", str(package), "--out", str(out)]
    env = {}
    if passphrase is not None:
        args += ["--passphrase-env", "PACKAGE_PASS"]
        env["PACKAGE_PASS"] = passphrase
    return CliRunner().invoke(cli, args, env=env)


def zeros(zf: zipfile.ZipFile, name: str, mib: int) -> tuple[str, int]:
    """`mib` MiB of zeros streamed into `name` (a few KB of zip per 64 MiB)."""
    digest, block = hashlib.sha256(), bytes(MIB)
    with zf.open(name, "w", force_zip64=True) as out:
        for _ in range(mib):
            out.write(block)
            digest.update(block)
    return digest.hexdigest(), mib * MIB


def entry(name: str, data: bytes) -> dict[str, Any]:
    return {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def hand_made(
    path: Path,
    files: Sequence[dict[str, Any]],
    members: Sequence[tuple[str, bytes]],
    manifest: dict[str, Any] | bytes | None = None,
) -> Path:
    """A plain package zip with `members` and a manifest listing `files`."""
    doc = manifest if manifest is not None else {
        "format": FORMAT, "expires_at": EXPIRES, "tables": [], "files": list(files)
    }  # fmt: skip
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(zipfile.ZipInfo(name), data)
        zf.writestr("manifest.json", doc if isinstance(doc, bytes) else json.dumps(doc))
    return path


def refused(result: Result, code: int, message: str, out: Path) -> None:
    assert result.exit_code == code, result.output
    assert message in " ".join(result.output.split()), result.output
    assert "Traceback" not in result.output
    assert not out.exists() or not any(out.iterdir()), list(out.iterdir())


# --- what the writer writes ----------------------------------------------------------------


@pytest.mark.parametrize("passphrase", [None, PASSPHRASE], ids=["plain", "sealed"])
def test_packages_and_what_unpack_writes_are_private(
    tmp_path: Path, passphrase: str | None
) -> None:
    package = tmp_path / "new" / "alice.zip"
    manifest = write_package(package, passphrase)
    assert stat.S_IMODE(package.stat().st_mode) == 0o600
    assert stat.S_IMODE(package.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in package.parent.iterdir()) == ["alice.zip"]
    out = tmp_path / "out"
    result = unpack_cli(package, out, passphrase)
    assert result.exit_code == 0, result.output
    assert "3 files verified" in result.output
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert written == [
        "csv",
        "csv/001-customers.csv",
        "csv/002-orders.csv",
        "data.json",
        "manifest.json",
    ]
    assert json.loads((out / "manifest.json").read_bytes()) == manifest
    for path in out.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path
    assert stat.S_IMODE(out.stat().st_mode) == 0o700


def test_a_link_planted_at_the_old_fixed_temporary_name_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    package = tmp_path / "alice.enc"
    (tmp_path / "alice.enc.tmp").symlink_to(victim)
    write_package(package, PASSPHRASE)
    assert victim.read_text() == "untouched"
    out = tmp_path / "out"
    out.mkdir()
    (out / "package.zip.tmp").symlink_to(victim)
    unpack(package, out, PASSPHRASE)
    assert victim.read_text() == "untouched"


def test_the_writer_refuses_a_link_at_the_package_path(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    (tmp_path / "alice.zip").symlink_to(victim)
    with pytest.raises(PackageInputError, match="is a symbolic link"):
        write_package(tmp_path / "alice.zip")
    assert victim.read_text() == "untouched"


# --- zip bombs -------------------------------------------------------------------------------


def test_a_bomb_stops_at_the_size_its_manifest_lists_and_writes_nothing(tmp_path: Path) -> None:
    package = tmp_path / "bomb.zip"
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as zf:
        zeros(zf, "data.json", 64)
        doc = {"format": FORMAT, "expires_at": EXPIRES, "files": [entry("data.json", b"{}")]}
        zf.writestr("manifest.json", json.dumps(doc))
    assert package.stat().st_size < MIB
    out = tmp_path / "out"
    refused(
        unpack_cli(package, out), 4, "data.json holds more than the 2 bytes the manifest lists", out
    )
    assert not out.exists()
    out.mkdir()
    refused(unpack_cli(package, out), 4, "holds more than the 2 bytes", out)


def test_a_bomb_the_manifest_declares_is_streamed_to_disk(tmp_path: Path) -> None:
    package = tmp_path / "big.zip"
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as zf:
        sha, size = zeros(zf, "data.json", 64)
        doc = {
            "format": FORMAT,
            "expires_at": EXPIRES,
            "files": [{"name": "data.json", "sha256": sha, "bytes": size}],
        }
        zf.writestr("manifest.json", json.dumps(doc))
    unpack(package, tmp_path / "out")
    assert (tmp_path / "out" / "data.json").stat().st_size == 64 * MIB


def test_a_manifest_bomb_is_refused_at_its_cap(tmp_path: Path) -> None:
    package = tmp_path / "bomb.zip"
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as zf:
        zeros(zf, "manifest.json", 64)
    out = tmp_path / "out"
    refused(unpack_cli(package, out), 2, "manifest.json is larger than 16777216 bytes", out)


UNPACK = """
import resource, sys
from pathlib import Path
from assay.gdpr.package import PackageError, unpack
limit = int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
try:
    unpack(Path(sys.argv[1]), Path(sys.argv[2]))
except PackageError as exc:
    print(exc)
"""


def test_a_256_mib_bomb_unpacks_within_512_mib_of_address_space(tmp_path: Path) -> None:
    package = tmp_path / "bomb.zip"
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as zf:
        zeros(zf, "data.json", 256)
        doc = {"format": FORMAT, "expires_at": EXPIRES, "files": [entry("data.json", b"{}")]}
        zf.writestr("manifest.json", json.dumps(doc))
    limit = 512 * MIB
    hard = __import__("resource").getrlimit(__import__("resource").RLIMIT_AS)[1]
    assert hard == -1 or hard >= limit
    done = subprocess.run(
        [sys.executable, "-c", UNPACK, str(package), str(tmp_path / "out"), str(limit)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "holds more than the 2 bytes" in done.stdout, done.stdout


# --- names -----------------------------------------------------------------------------------

UNSAFE = [".", "", "csv/", "/etc/passwd", "../escape", "csv/../../escape", "a\\b", "./data.json"]
UNSAFE += ["csv//x.csv", "manifest.json", "C:/x", "x\x00y", ".hidden"]


@pytest.mark.parametrize("name", UNSAFE)
def test_an_unsafe_name_in_the_manifest_is_refused_cleanly(tmp_path: Path, name: str) -> None:
    members = [] if name == "manifest.json" else [(name, b"x")]
    package = hand_made(tmp_path / "p.zip", [entry(name, b"x")], members)
    out = tmp_path / "out"
    refused(unpack_cli(package, out), 2, "unsafe file name", out)
    assert not (tmp_path / "escape").exists()


@pytest.mark.parametrize("name", [".", "csv/", "/abs", "../escape", "a\\b"])
def test_an_unlisted_member_is_refused_whatever_its_name(tmp_path: Path, name: str) -> None:
    files = [entry("data.json", b"{}")]
    package = hand_made(tmp_path / "p.zip", files, [("data.json", b"{}"), (name, b"x")])
    out = tmp_path / "out"
    refused(unpack_cli(package, out), 2, "files not in the manifest", out)


def test_a_member_twice_is_refused(tmp_path: Path) -> None:
    files = [entry("data.json", b"{}")]
    with pytest.warns(UserWarning, match="Duplicate name"):
        package = hand_made(tmp_path / "p.zip", files, [("data.json", b"{}"), ("data.json", b"[]")])
    out = tmp_path / "out"
    refused(unpack_cli(package, out), 2, "'data.json' is in the zip twice", out)


def test_a_file_listed_twice_or_missing_is_refused(tmp_path: Path) -> None:
    twice = [entry("data.json", b"{}"), entry("data.json", b"{}")]
    package = hand_made(tmp_path / "p.zip", twice, [("data.json", b"{}")])
    refused(unpack_cli(package, tmp_path / "a"), 2, "lists a file twice", tmp_path / "a")
    missing = hand_made(tmp_path / "m.zip", [entry("data.json", b"{}")], [])
    refused(unpack_cli(missing, tmp_path / "b"), 2, "not the zip: ['data.json']", tmp_path / "b")


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (b"\xff not json", "manifest.json is not JSON"),
        (b"[]", "is not an assay.dsr-export/v1 manifest"),
        ({"format": FORMAT, "expires_at": EXPIRES}, "files: expected a list"),
        ({"format": FORMAT, "files": []}, "expires_at is None, expected an ISO 8601 date"),
        ({"format": FORMAT, "expires_at": EXPIRES, "files": [7]}, "files[0]: expected"),
        (
            {"format": FORMAT, "expires_at": EXPIRES, "files": [{**entry("a", b""), "bytes": -1}]},
            "bytes -1 is not a size",
        ),
        (
            {"format": FORMAT, "expires_at": EXPIRES, "files": [{**entry("a", b""), "sha256": 1}]},
            "sha256 1 is not a SHA-256",
        ),
    ],
)
def test_a_malformed_manifest_is_refused_cleanly(
    tmp_path: Path, manifest: dict[str, Any] | bytes, message: str
) -> None:
    package = hand_made(tmp_path / "p.zip", [], [("a", b"")], manifest)
    out = tmp_path / "out"
    refused(unpack_cli(package, out), 2, message, out)


def test_a_file_that_is_not_a_zip_is_refused_cleanly(tmp_path: Path) -> None:
    package = tmp_path / "p.zip"
    package.write_bytes(b"PK\x03\x04 not really")
    out = tmp_path / "out"
    refused(unpack_cli(package, out), 2, "not a readable export package", out)


# --- what is already in OUT_DIR ----------------------------------------------------------------


@pytest.mark.parametrize("planted", ["data.json", "manifest.json", "csv/002-orders.csv"])
def test_a_link_in_out_dir_where_a_file_goes_is_refused_and_not_followed(
    tmp_path: Path, planted: str
) -> None:
    package = tmp_path / "alice.zip"
    write_package(package)
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    out = tmp_path / "out"
    (out / planted).parent.mkdir(parents=True)
    (out / planted).symlink_to(victim)
    result = unpack_cli(package, out)
    assert result.exit_code == 2, result.output
    assert f"{out / planted} exists and is a symbolic link" in " ".join(result.output.split())
    assert victim.read_text() == "untouched"
    # Nothing else was written: only what the test put there.
    assert {p.name for p in out.rglob("*")} <= {"csv", Path(planted).name}


def test_a_directory_link_in_out_dir_cannot_carry_files_outside(tmp_path: Path) -> None:
    package = tmp_path / "alice.zip"
    write_package(package)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "csv").symlink_to(elsewhere)
    result = unpack_cli(package, out)
    assert result.exit_code == 2, result.output
    assert f"{out / 'csv'} exists and is a symbolic link" in " ".join(result.output.split())
    assert list(elsewhere.iterdir()) == []


def test_a_fifo_in_out_dir_is_refused(tmp_path: Path) -> None:
    package = tmp_path / "alice.zip"
    write_package(package)
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / "data.json")
    result = unpack_cli(package, out)
    assert result.exit_code == 2, result.output
    assert "not a regular file or directory" in " ".join(result.output.split())


# --- sealed headers ----------------------------------------------------------------------------


def sealed(path: Path, **fields: Any) -> Path:
    """A sealed package whose header says `fields` (over sane defaults): never decryptable."""
    head = {
        "cipher": "AES-256-GCM", "kdf": "scrypt", "n": 2**15, "r": 8, "p": 1,
        "salt": base64.b64encode(bytes(16)).decode(), "nonce": base64.b64encode(bytes(12)).decode(),
        "expires_at": EXPIRES, "request": None, **fields,
    }  # fmt: skip
    path.write_bytes(MAGIC + json.dumps(head).encode() + b"\n" + bytes(64))
    return path


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"n": 2**21}, "scrypt n is 2097152 in the header, expected a whole number from 1 to"),
        ({"n": 2**40}, "scrypt n is 1099511627776"),
        ({"n": 3000}, "scrypt n is 3000 in the header, expected a power of two"),
        ({"n": "32768"}, "scrypt n is '32768'"),
        ({"n": True}, "scrypt n is True"),
        ({"r": 33}, "scrypt r is 33"),
        ({"r": 0}, "scrypt r is 0"),
        ({"p": 17}, "scrypt p is 17"),
        ({"n": 2**20, "r": 16}, "would take 2048 MiB, expected at most 32 MiB"),
        ({"n": 2**16, "r": 8}, "would take 64 MiB, expected at most 32 MiB"),
        ({"salt": "%%%"}, "salt in the sealed header is not base64"),
        ({"nonce": base64.b64encode(bytes(16)).decode()}, "nonce in the sealed header"),
        ({"cipher": "ROT13"}, "cipher is 'ROT13'"),
    ],
)
def test_a_hostile_sealed_header_is_refused_before_scrypt_runs(
    tmp_path: Path, fields: dict[str, Any], message: str
) -> None:
    package = sealed(tmp_path / "p.enc", **fields)
    out = tmp_path / "out"
    refused(unpack_cli(package, out, PASSPHRASE), 2, message, out)


def test_a_header_line_without_end_or_json_is_refused(tmp_path: Path) -> None:
    endless = tmp_path / "endless.enc"
    endless.write_bytes(MAGIC + b"{" + b" " * MIB)
    refused(unpack_cli(endless, tmp_path / "a", PASSPHRASE), 2, "not one line", tmp_path / "a")
    garbled = tmp_path / "garbled.enc"
    garbled.write_bytes(MAGIC + b"{nope\n" + bytes(64))
    refused(unpack_cli(garbled, tmp_path / "b", PASSPHRASE), 2, "not JSON", tmp_path / "b")


def test_a_truncated_or_altered_sealed_package_writes_nothing(tmp_path: Path) -> None:
    package = tmp_path / "alice.enc"
    write_package(package, PASSPHRASE)
    data = package.read_bytes()
    head_end = data.index(b"\n", len(MAGIC)) + 1
    truncated = tmp_path / "t.enc"
    truncated.write_bytes(data[: head_end + 5])
    refused(unpack_cli(truncated, tmp_path / "a", PASSPHRASE), 2, "truncated", tmp_path / "a")
    altered = tmp_path / "x.enc"
    altered.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    result = unpack_cli(altered, tmp_path / "b", PASSPHRASE)
    refused(result, 4, "wrong passphrase, or the package was altered", tmp_path / "b")


def test_a_sealed_bomb_is_unsealed_then_stopped_at_its_listed_size(tmp_path: Path) -> None:
    plain = tmp_path / "bomb.zip"
    with zipfile.ZipFile(plain, "w", zipfile.ZIP_DEFLATED) as zf:
        zeros(zf, "data.json", 64)
        doc = {"format": FORMAT, "expires_at": EXPIRES, "files": [entry("data.json", b"{}")]}
        zf.writestr("manifest.json", json.dumps(doc))
    package = tmp_path / "bomb.enc"
    seal(plain, package, PASSPHRASE, {"expires_at": EXPIRES, "request": None})
    assert stat.S_IMODE(package.stat().st_mode) == 0o600
    with pytest.raises(PackageError, match="holds more than the 2 bytes"):
        unpack(package, tmp_path / "out", PASSPHRASE)
    assert not (tmp_path / "out").exists()
