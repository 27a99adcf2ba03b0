"""Export packages for access and portability requests (Art. 15, 20): a zip, optionally sealed.

The zip holds ``data.json`` (every row, grouped by table and then by data category),
``csv/<n>-<table>.csv`` (one per table) and ``manifest.json``: the SHA-256 and size of
every other file, the purposes, retention and legal holds that apply to each table, the
columns withheld, and the date after which the download link expires. Files are written
through temporary files table by table, so memory holds one batch of rows, not the export.

Sealed packages are the zip encrypted with AES-256-GCM under a key derived from a
passphrase with scrypt; the header (format, KDF parameters, salt, nonce, expiry) is
authenticated as associated data. `unpack` checks the tag, then every digest.
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
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from assay.gdpr.errors import PackageError

FORMAT = "assay.dsr-export/v1"
MAGIC = b"ASSAY-DSR-SEALED/1\n"
SCRYPT = {"n": 2**15, "r": 8, "p": 1}
TAG = 16
CHUNK = 1 << 20


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

    def __post_init__(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(prefix=".assay-export-", dir=self.path.parent))
        (self._tmp / "csv").mkdir()
        self._data = (self._tmp / "data.json").open("w", encoding="utf-8")
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
        with (self._tmp / csv_name).open("w", encoding="utf-8", newline="") as out:
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
        self._data.close()
        try:
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
            plain = self._tmp / "package.zip"
            with zipfile.ZipFile(plain, "w", zipfile.ZIP_DEFLATED) as z:
                for f in files:
                    z.write(f, f.relative_to(self._tmp).as_posix())
                z.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
            if self.passphrase is None:
                os.replace(plain, self.path)
            else:
                header = {
                    "expires_at": self.meta.get("expires_at"),
                    "request": self.meta.get("request"),
                }
                seal(plain, self.path, self.passphrase, header)
            return manifest
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def abort(self) -> None:
        self._data.close()
        shutil.rmtree(self._tmp, ignore_errors=True)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _key(passphrase: str, salt: bytes, params: Mapping[str, int]) -> bytes:
    kdf = Scrypt(salt=salt, length=32, n=params["n"], r=params["r"], p=params["p"])
    return kdf.derive(passphrase.encode())


def seal(src: Path, dst: Path, passphrase: str, header: Mapping[str, Any]) -> None:
    """Encrypt `src` into `dst`: MAGIC, one JSON header line (authenticated), ciphertext, tag."""
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
    tmp = dst.with_name(dst.name + ".tmp")
    with src.open("rb") as fin, tmp.open("wb") as fout:
        fout.write(MAGIC + head_line)
        while chunk := fin.read(CHUNK):
            fout.write(enc.update(chunk))
        fout.write(enc.finalize() + enc.tag)
    os.replace(tmp, dst)


def sealed_header(path: Path) -> dict[str, Any] | None:
    """The header of a sealed package, or None when `path` is a plain zip."""
    with path.open("rb") as f:
        if f.read(len(MAGIC)) != MAGIC:
            return None
        header: dict[str, Any] = json.loads(f.readline())
        return header


def unseal(src: Path, dst: Path, passphrase: str) -> dict[str, Any]:
    """Decrypt a sealed package into `dst` (written only if the tag verifies); its header."""
    header = sealed_header(src)
    if header is None:
        raise PackageError(f"{src}: not a sealed package")
    size = src.stat().st_size
    with src.open("rb") as f:
        f.seek(len(MAGIC))
        head_line = f.readline()
        start = f.tell()
        f.seek(size - TAG)
        tag = f.read(TAG)
        try:
            key = _key(passphrase, base64.b64decode(header["salt"]), header)
            nonce = base64.b64decode(header["nonce"])
        except (KeyError, ValueError) as exc:
            raise PackageError(f"{src}: malformed header ({exc})") from None
        dec = Cipher(algorithms.AES(key), modes.GCM(nonce, tag)).decryptor()
        dec.authenticate_additional_data(MAGIC + head_line)
        tmp = dst.with_name(dst.name + ".tmp")
        f.seek(start)
        remaining = size - TAG - start
        with tmp.open("wb") as out:
            while remaining > 0:
                chunk = f.read(min(CHUNK, remaining))
                remaining -= len(chunk)
                out.write(dec.update(chunk))
            try:
                out.write(dec.finalize())
            except InvalidTag:
                out.close()
                tmp.unlink()
                raise PackageError(f"{src}: wrong passphrase, or the package was altered") from None
    os.replace(tmp, dst)
    return header


def unpack(path: Path, out_dir: Path, passphrase: str | None = None) -> dict[str, Any]:
    """Open a package (unsealing it with `passphrase` if sealed), check every file's SHA-256
    against the manifest, extract into `out_dir`, and return the manifest."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=".unseal-", dir=out_dir))
    try:
        zpath = path
        if sealed_header(path) is not None:
            if passphrase is None:
                raise PackageError(f"{path} is sealed: a passphrase is needed")
            zpath = tmp_dir / "package.zip"
            unseal(path, zpath, passphrase)
        try:
            with zipfile.ZipFile(zpath) as z:
                manifest: dict[str, Any] = json.loads(z.read("manifest.json"))
                listed = {f["name"]: f for f in manifest["files"]}
                for name in listed:
                    if Path(name).is_absolute() or ".." in Path(name).parts:
                        raise PackageError(f"{path}: unsafe file name {name!r} in the manifest")
                extra = set(z.namelist()) - set(listed) - {"manifest.json"}
                if extra:
                    raise PackageError(f"{path}: files not in the manifest: {sorted(extra)}")
                for name, entry in listed.items():
                    data = z.read(name)
                    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
                        raise PackageError(
                            f"{path}: {name} does not match its SHA-256 in the manifest"
                        )
                for name in [*listed, "manifest.json"]:
                    target = out_dir / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(z.read(name))
        except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
            raise PackageError(f"{path}: not a readable export package ({exc})") from None
        return manifest
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
