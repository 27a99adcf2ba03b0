"""Building ledgers to export, and rewriting bundles as a tamperer would."""

from __future__ import annotations

import hashlib
import json
import struct
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from assay.evidence import Checkpoint, Ledger, SigningKey, sign_checkpoint
from assay.evidence.bundle.format import MANIFEST, SIGNATURE, sign_manifest, zip_entry

AT = "2024-05-0{day}T02:00:00Z"


def run_entries(run: str, day: int, statuses: Sequence[str]) -> list[dict[str, Any]]:
    """What the engine appends for one run: run_started, results, run_finished."""
    at = AT.format(day=day)
    results = [
        {
            "kind": "result",
            "at": at,
            "run": run,
            "control": {"id": f"ctl-{i % 2}", "severity": "high"},
            "resource": {"id": f"arn:widget:{i}", "name": f"widget-{i}"},
            "status": status,
            "reason": f"widget {i} is {status}",
            "waiver": None,
        }
        for i, status in enumerate(statuses)
    ]
    return [
        {"kind": "run_started", "at": at, "run": run},
        *results,
        {"kind": "run_finished", "at": at, "run": run, "exit_code": int("fail" in statuses)},
    ]


RUNS = (("run-a", 1, 3), ("run-b", 2, 3), ("run-c", 3, 4))
"""Three runs (id, day, results): 5, 5 and 6 records, a checkpoint after each (5, 10, 16)."""


def build_runs(
    ledger: Ledger, key: SigningKey, runs: Sequence[tuple[str, int, int]] = RUNS
) -> list[Checkpoint]:
    checkpoints = []
    for run, day, results in runs:
        statuses = ["pass" if i % 3 else "fail" for i in range(results)]
        ledger.append(run_entries(run, day, statuses), key=key)
        checkpoints.append(sign_checkpoint(ledger, key))
    return checkpoints


def members(bundle: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(bundle) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def stored_at(path: Path, info: zipfile.ZipInfo) -> tuple[int, int]:
    """Where the member `info` describes has its stored bytes in the zip at `path`:
    offset and length, found from its local header as APPNOTE 4.3.7 lays it out."""
    with path.open("rb") as raw:
        raw.seek(info.header_offset)
        header = raw.read(30)
    assert header[:4] == b"PK\x03\x04"
    name_size, extra_size = struct.unpack("<2H", header[26:30])
    return info.header_offset + 30 + name_size + extra_size, info.compress_size


def stored(zf: zipfile.ZipFile, name: str) -> dict[str, Any]:
    """The manifest's entry for the member `name` just written to `zf` (a zip being
    written to a file): its size, and the SHA-256 and length of its bytes as stored."""
    info = zf.getinfo(name)
    assert zf.fp is not None and isinstance(zf.filename, str)
    zf.fp.flush()
    at, size = stored_at(Path(zf.filename), info)
    with open(zf.filename, "rb") as raw:
        raw.seek(at)
        data = raw.read(size)
    digest = hashlib.sha256(data).hexdigest()
    return {"size": info.file_size, "stored": {"sha256": digest, "size": len(data)}}


def lines(bundle: Path) -> list[bytes]:
    return members(bundle)["records.jsonl"].splitlines(keepends=True)


def rewrite(
    bundle: Path,
    out: Path,
    changes: Mapping[str, bytes | Callable[[bytes], bytes] | None] = {},
    *,
    digests: bool = False,
    sign: SigningKey | None = None,
    extra: Sequence[tuple[str, bytes]] = (),
) -> Path:
    """A copy of `bundle` with members replaced (bytes), edited (a function) or removed
    (None), and `extra` members added; with `digests` the manifest lists the new
    members, and with `sign` the manifest is signed again with that key. Members are
    compressed as an export compresses them, so one left alone is stored unchanged."""
    contents = members(bundle)
    for name, change in changes.items():
        if change is None:
            del contents[name]
        else:
            contents[name] = change(contents[name]) if callable(change) else change
    last = (MANIFEST, SIGNATURE) if digests or sign is not None else ()
    manifest = json.loads(contents[MANIFEST])
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in [*contents.items(), *extra]:
            if name in last:
                continue
            zf.writestr(zip_entry(name), data)
            if digests and name in manifest["files"]:
                manifest["files"][name] = stored(zf, name)
        if digests:
            text = json.dumps(manifest, sort_keys=True, separators=(",", ":"))
            contents[MANIFEST] = text.encode()
        if sign is not None:
            contents[SIGNATURE] = sign_manifest(contents[MANIFEST], sign).encode()
        for name in last:
            if name in contents:
                zf.writestr(zip_entry(name), contents[name])
    return out


def edit_lines(edit: Callable[[list[bytes]], list[bytes]]) -> Callable[[bytes], bytes]:
    """A change to records.jsonl made line by line."""

    def change(data: bytes) -> bytes:
        return b"".join(edit(data.splitlines(keepends=True)))

    return change
