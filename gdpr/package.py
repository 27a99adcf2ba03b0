"""Export packages for access and portability requests (Art. 15, 20): a zip, optionally sealed.

The zip holds ``data.json`` (every row, grouped by table and then by data category),
``csv/<n>-<table>.csv`` (one per table) and ``manifest.json``: the SHA-256 and size of
every other file, the purposes, retention and legal holds that apply to each table, the
columns withheld, and the date after which the download link expires. Files are written
through temporary files table by table, so memory holds one batch of rows, not the export.

Sealed packages are the zip encrypted with AES-256-GCM under a key derived from a
passphrase with scrypt; the header (format, KDF parameters, salt, nonce, expiry) is
authenticated as associated data. `unpack` checks the tag, then every digest.

A package is someone else's file by the time it is unpacked, so nothing it claims sizes
the work: the header line, the manifest and the scrypt parameters have fixed bounds,
each file is streamed within the size its manifest entry gives (hashed on the way, into
a private temporary file), and only once every digest matches do the files move into
place, beside no link and under no name that leaves the output directory. Every file
written here is 0600 and every directory created 0700 (`assay.files`).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from assay.files import (
    PRIVATE,
    PRIVATE_DIR,
    UnsafePathError,
    atomic_write,
    check_output_path,
    private_dir,
    write_bytes,
)
from assay.gdpr.errors import PackageError, PackageInputError

FORMAT = "assay.dsr-export/v1"
MAGIC = b"ASSAY-DSR-SEALED/1\n"
MANIFEST = "manifest.json"
SCRYPT = {"n": 2**15, "r": 8, "p": 1}
SCRYPT_MAX = {"n": 2**20, "r": 32, "p": 16}
SCRYPT_MEMORY = 128 * SCRYPT["n"] * SCRYPT["r"]
"""The most a header may make scrypt allocate (128 * n * r bytes): what ours take (32 MiB),
so a hostile header cannot take unpack past 100 MB."""
TAG = 16
CHUNK = 1 << 20
HEADER_MAX = 64 << 10
MANIFEST_MAX = 16 << 20
# What the writer names its files (data.json, csv/001-orders.csv): nothing else is
# written, so no `.`, `..`, empty part, backslash or absolute name gets near a path.
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(/[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}){0,3}")
_UNREADABLE = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError)
"""What reading a damaged or hostile zip may raise (the last: an unknown compression)."""


def json_value(value: Any) -> Any:
    """A database value as JSON: dates ISO 8601, decimals and UUIDs as text, bytes base64."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


@dataclass
class PackageWriter:
    """An export package written to `path` table by table; `finish` returns the manifest."""

    path: Path
    meta: dict[str, Any]
    passphrase: str | None = None
    _tmp: Path = field(init=False)
    _data: IO[str] = field(init=False)
    _tables: list[dict[str, Any]] = field(init=False, default_factory=list)

    _files: ExitStack = field(init=False, default_factory=ExitStack)

    def __post_init__(self) -> None:
        with _safe_paths():
            private_dir(self.path.parent)
            check_output_path(self.path)
        # mkdtemp: a new 0700 directory of a random name, so nothing in it can be planted.
        self._tmp = Path(tempfile.mkdtemp(prefix=".assay-export-", dir=self.path.parent))
        (self._tmp / "csv").mkdir(mode=0o700)
        self._data = self._files.enter_context(atomic_write(self._tmp / "data.json", mode=PRIVATE))
        self._data.write('{"format": ' + json.dumps(FORMAT) + ', "tables": {')

    def add_table(
        self,
        table: str,
        columns: list[str],
        categories: Mapping[str, str | None],
        rows: Iterable[tuple[Any, ...]],
        about: Mapping[str, Any],
    ) -> int:
        """Write one table's rows (in `columns` order); returns how many were written."""
        n = len(self._tables)
        csv_name = f"csv/{n + 1:03d}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', table)[:60]}.csv"
        self._data.write(("," if n else "") + json.dumps(table) + ": [")
        count = 0
        with atomic_write(self._tmp / csv_name, mode=PRIVATE) as out:
            writer = csv.writer(out)
            writer.writerow(columns)
            for row in rows:
                values = [json_value(v) for v in row]
                writer.writerow(["" if v is None else v for v in values])
                grouped: dict[str, dict[str, Any]] = {}
                for col, v in zip(columns, values, strict=True):
                    grouped.setdefault(categories.get(col) or "record", {})[col] = v
                self._data.write(("," if count else "") + json.dumps(grouped, ensure_ascii=False))
                count += 1
        self._data.write("]")
        self._tables.append({"table": table, "rows": count, "file": csv_name, **about})
        return count

    def finish(self) -> dict[str, Any]:
        self._data.write("}}")
        try:
            self._files.close()
            files = [self._tmp / "data.json", *sorted((self._tmp / "csv").iterdir())]
            manifest = {
                "format": FORMAT,
                **self.meta,
                "tables": self._tables,
                "files": [
                    {"name": f.relative_to(self._tmp).as_posix(), "sha256": _sha256(f),
                     "bytes": f.stat().st_size}
                    for f in files
                ],
            }  # fmt: skip
            plain = self.path if self.passphrase is None else self._tmp / "package.zip"
            with (
                _safe_paths(),
                atomic_write(plain, binary=True, mode=PRIVATE) as raw,
                zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as z,
            ):
                for f in files:
                    z.write(f, f.relative_to(self._tmp).as_posix())
                z.writestr(MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False))
            if self.passphrase is not None:
                header = {
                    "expires_at": self.meta.get("expires_at"),
                    "request": self.meta.get("request"),
                }
                seal(plain, self.path, self.passphrase, header)
            return manifest
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def abort(self) -> None:
        self._files.close()
        shutil.rmtree(self._tmp, ignore_errors=True)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


@contextmanager
def _safe_paths() -> Iterator[None]:
    """UnsafePathError as a PackageInputError, which the command line knows."""
    try:
        yield
    except UnsafePathError as exc:
        raise PackageInputError(exc.message, remediation=exc.remediation) from None


def _key(passphrase: str, salt: bytes, params: Mapping[str, int]) -> bytes:
    kdf = Scrypt(salt=salt, length=32, n=params["n"], r=params["r"], p=params["p"])
    return kdf.derive(passphrase.encode())


def seal(src: Path, dst: Path, passphrase: str, header: Mapping[str, Any]) -> None:
    """Encrypt `src` into `dst` (0600): MAGIC, one JSON header line (authenticated),
    ciphertext, tag."""
    if not passphrase:
        raise PackageError("an empty passphrase cannot seal a package")
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    head = {
        "cipher": "AES-256-GCM", "kdf": "scrypt", **SCRYPT,
        "salt": base64.b64encode(salt).decode(), "nonce": base64.b64encode(nonce).decode(),
        **header,
    }  # fmt: skip
    head_line = json.dumps(head, sort_keys=True).encode() + b"\n"
    enc = Cipher(algorithms.AES(_key(passphrase, salt, SCRYPT)), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(MAGIC + head_line)
    with _safe_paths(), src.open("rb") as fin, atomic_write(dst, binary=True, mode=PRIVATE) as out:
        out.write(MAGIC + head_line)
        while chunk := fin.read(CHUNK):
            out.write(enc.update(chunk))
        out.write(enc.finalize() + enc.tag)


def _header_line(f: IO[bytes], src: Path) -> bytes | None:
    """The header line after MAGIC (newline included), or None when `f` is no sealed package."""
    if f.read(len(MAGIC)) != MAGIC:
        return None
    line = f.readline(HEADER_MAX + 1)
    if len(line) > HEADER_MAX or not line.endswith(b"\n"):
        raise PackageInputError(
            f"{src}: the sealed header is not one line of at most {HEADER_MAX} bytes"
        )
    return line


def sealed_header(path: Path) -> dict[str, Any] | None:
    """The header of a sealed package, or None when `path` is a plain zip."""
    with path.open("rb") as f:
        line = _header_line(f, path)
    if line is None:
        return None
    try:
        header = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PackageInputError(f"{path}: the sealed header is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise PackageInputError(f"{path}: the sealed header is not a JSON object")
    return header


def _scrypt_params(header: Mapping[str, Any], src: Path) -> dict[str, int]:
    """The header's scrypt parameters, bounded before scrypt allocates 128 * n * r bytes."""
    params: dict[str, int] = {}
    for name, most in SCRYPT_MAX.items():
        value = header.get(name)
        if type(value) is not int or not 1 <= value <= most:
            raise PackageInputError(
                f"{src}: scrypt {name} is {value!r} in the header, expected a whole number "
                f"from 1 to {most}",
                remediation="the package was not sealed by assay, or its header was altered",
            )
        params[name] = value
    n, r = params["n"], params["r"]
    if n < 2 or n & (n - 1):
        raise PackageInputError(f"{src}: scrypt n is {n} in the header, expected a power of two")
    if 128 * n * r > SCRYPT_MEMORY:
        raise PackageInputError(
            f"{src}: scrypt n={n}, r={r} in the header would take {128 * n * r >> 20} MiB, "
            f"expected at most {SCRYPT_MEMORY >> 20} MiB"
        )
    return params


def _b64_field(header: Mapping[str, Any], name: str, sizes: range, src: Path) -> bytes:
    value = header.get(name)
    try:
        data = base64.b64decode(value, validate=True) if isinstance(value, str) else None
    except ValueError:
        data = None
    if data is None or len(data) not in sizes:
        raise PackageInputError(
            f"{src}: {name} in the sealed header is not base64 of {sizes.start} to "
            f"{sizes.stop - 1} bytes"
        )
    return data


def unseal(src: Path, dst: Path, passphrase: str) -> dict[str, Any]:
    """Decrypt a sealed package into `dst` (0600, written only if the tag verifies); its header."""
    header = sealed_header(src)
    if header is None:
        raise PackageInputError(f"{src}: not a sealed package")
    for name, expected in (("cipher", "AES-256-GCM"), ("kdf", "scrypt")):
        if header.get(name) != expected:
            raise PackageInputError(
                f"{src}: {name} is {header.get(name)!r} in the sealed header, expected {expected!r}"
            )
    params = _scrypt_params(header, src)
    salt = _b64_field(header, "salt", range(16, 65), src)
    nonce = _b64_field(header, "nonce", range(12, 13), src)
    size = src.stat().st_size
    with src.open("rb") as f:
        head_line = _header_line(f, src)
        assert head_line is not None  # sealed_header read the same
        start = f.tell()
        if size - start < TAG:
            raise PackageInputError(f"{src}: truncated: shorter than its authentication tag")
        f.seek(size - TAG)
        tag = f.read(TAG)
        dec = Cipher(algorithms.AES(_key(passphrase, salt, params)), modes.GCM(nonce, tag))
        decryptor = dec.decryptor()
        decryptor.authenticate_additional_data(MAGIC + head_line)
        f.seek(start)
        remaining = size - TAG - start
        with _safe_paths(), atomic_write(dst, binary=True, mode=PRIVATE) as out:
            while remaining > 0:
                chunk = f.read(min(CHUNK, remaining))
                remaining -= len(chunk)
                out.write(decryptor.update(chunk))
            try:
                out.write(decryptor.finalize())
            except InvalidTag:
                raise PackageError(f"{src}: wrong passphrase, or the package was altered") from None
    return header


@dataclass(frozen=True)
class _Entry:
    name: str
    sha256: str
    size: int


def _read_manifest(z: zipfile.ZipFile, src: Path) -> tuple[dict[str, Any], bytes, list[_Entry]]:
    """The manifest, its bytes and its file entries, checked against the zip's members."""
    seen: set[str] = set()
    for info in z.infolist():
        if info.filename in seen:
            raise PackageInputError(f"{src}: {info.filename!r} is in the zip twice")
        if info.flag_bits & 0x1:
            raise PackageInputError(f"{src}: {info.filename!r} is encrypted: a package never is")
        seen.add(info.filename)
    if MANIFEST not in seen:
        raise PackageInputError(f"{src}: no {MANIFEST}: not an export package")
    with z.open(MANIFEST) as f:
        data = f.read(MANIFEST_MAX + 1)
    if len(data) > MANIFEST_MAX:
        raise PackageInputError(f"{src}: {MANIFEST} is larger than {MANIFEST_MAX} bytes")
    try:
        manifest = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PackageInputError(f"{src}: {MANIFEST} is not JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise PackageInputError(f"{src}: {MANIFEST} is not an {FORMAT} manifest")
    expires = manifest.get("expires_at")
    try:
        date.fromisoformat(expires[:10] if isinstance(expires, str) else "")
    except ValueError:
        raise PackageInputError(
            f"{src}: {MANIFEST} expires_at is {expires!r}, expected an ISO 8601 date"
        ) from None
    files = manifest.get("files")
    if not isinstance(files, list):
        raise PackageInputError(f"{src}: {MANIFEST} files: expected a list")
    entries: list[_Entry] = []
    for i, item in enumerate(files):
        where = f"{src}: {MANIFEST} files[{i}]"
        if not isinstance(item, dict):
            raise PackageInputError(f"{where}: expected {{name, sha256, bytes}}")
        name, sha, size = item.get("name"), item.get("sha256"), item.get("bytes")
        if not isinstance(name, str) or name == MANIFEST or not _NAME.fullmatch(name):
            raise PackageInputError(
                f"{where}: unsafe file name {name!r}: expected a relative path of letters, "
                "digits, '_', '.' and '-' (no '.' or '..' part, no '\\', no leading '/')"
            )
        if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
            raise PackageInputError(f"{where} ({name}): sha256 {sha!r} is not a SHA-256 in hex")
        if type(size) is not int or size < 0:
            raise PackageInputError(f"{where} ({name}): bytes {size!r} is not a size")
        entries.append(_Entry(name, sha, size))
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise PackageInputError(f"{src}: {MANIFEST} lists a file twice")
    extra = seen - set(names) - {MANIFEST}
    if extra:
        raise PackageInputError(f"{src}: files not in the manifest: {sorted(extra)}")
    missing = set(names) - seen
    if missing:
        raise PackageInputError(f"{src}: files in the manifest but not the zip: {sorted(missing)}")
    return manifest, data, entries


def _check_target(out: Path, name: str, src: Path) -> Path:
    """Where `name` goes under `out` (resolved): refused if it would leave `out`, or if a
    link or anything but a directory (a regular file, for the file) is already there."""
    target = out / name
    path = out
    for part in name.split("/"):
        path = path / part
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            break
        wanted = stat.S_ISREG if path == target else stat.S_ISDIR
        if not wanted(mode):
            kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file or directory"
            raise PackageInputError(
                f"{src}: {path} exists and is {kind}; refusing to write {name} there",
                remediation="unpack into a new, empty directory",
            )
    if not target.resolve().is_relative_to(out):
        raise PackageInputError(f"{src}: {name} would be written outside {out}")
    return target


def _stage(z: zipfile.ZipFile, entry: _Entry, staged: Path, src: Path) -> None:
    """Copy one member into `staged`, reading no more than the manifest lists, and check it."""
    digest, size = hashlib.sha256(), 0
    with z.open(entry.name) as member, atomic_write(staged, binary=True, mode=PRIVATE) as out:
        while chunk := member.read(min(CHUNK, entry.size + 1 - size)):
            size += len(chunk)
            if size > entry.size:
                raise PackageError(
                    f"{src}: {entry.name} holds more than the {entry.size} bytes the manifest "
                    "lists: the package was altered"
                )
            digest.update(chunk)
            out.write(chunk)
    if size != entry.size or digest.hexdigest() != entry.sha256:
        raise PackageError(f"{src}: {entry.name} does not match its SHA-256 in the manifest")


def unpack(path: Path, out_dir: Path, passphrase: str | None = None) -> dict[str, Any]:
    """Open a package (unsealing it with `passphrase` if sealed), check every file's SHA-256
    against the manifest, extract into `out_dir`, and return the manifest.

    Nothing lands in `out_dir` unless every file matches; a directory it creates is 0700
    and every file 0600. Raises PackageInputError for a malformed or unsafe package
    (names, links, bounds) and PackageError when the contents do not match.
    """
    header = sealed_header(path)
    if header is not None and passphrase is None:
        raise PackageInputError(
            f"{path} is sealed: a passphrase is needed",
            remediation="put it in an environment variable and name that variable with "
            "--passphrase-env VAR",
        )
    created = not os.path.lexists(out_dir)
    try:
        with _safe_paths():
            out = private_dir(out_dir).resolve()
    except OSError as exc:
        raise PackageInputError(f"{out_dir}: cannot be the output directory ({exc})") from None
    # A new 0700 directory of a random name: what is staged there cannot be tampered with.
    tmp = Path(tempfile.mkdtemp(prefix=".assay-unpack-", dir=out))
    done = False
    try:
        zpath = path
        if passphrase is not None and header is not None:
            zpath = tmp / "package.zip"
            unseal(path, zpath, passphrase)
        try:
            with zipfile.ZipFile(zpath) as z:
                manifest, manifest_bytes, entries = _read_manifest(z, path)
                names = [*(e.name for e in entries), MANIFEST]
                for name in names:
                    _check_target(out, name, path)
                for i, entry in enumerate(entries):
                    _stage(z, entry, tmp / f"{i:04d}", path)
        except _UNREADABLE as exc:
            raise PackageInputError(f"{path}: not a readable export package ({exc})") from None
        staged = [*(tmp / f"{i:04d}" for i in range(len(entries))), tmp / MANIFEST]
        with _safe_paths():
            write_bytes(staged[-1], manifest_bytes, mode=PRIVATE)
            for source, name in zip(staged, names, strict=True):
                target = _check_target(out, name, path)  # again: the directory may have changed
                _make_dirs(out, target.parent)
                check_output_path(target)
                os.replace(source, target)
        done = True
        return manifest
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if created and not done:
            shutil.rmtree(out_dir, ignore_errors=True)


def _make_dirs(out: Path, directory: Path) -> None:
    """Create the directories from `out` down to `directory`, 0700 (checked: none is a link)."""
    for parent in reversed([directory, *directory.parents]):
        if parent.is_relative_to(out) and parent != out and not os.path.lexists(parent):
            parent.mkdir(mode=PRIVATE_DIR)
            os.chmod(parent, PRIVATE_DIR)  # mkdir's mode is masked by the umask
