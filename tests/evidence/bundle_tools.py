"""Building ledgers to export, and rewriting bundles as a tamperer would."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from assay.evidence import Checkpoint, Ledger, SigningKey, sign_checkpoint
from assay.evidence.bundle.format import MANIFEST, SIGNATURE, sign_manifest

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
    contents, and with `sign` the manifest is signed again with that key."""
    contents = members(bundle)
    for name, change in changes.items():
        if change is None:
            del contents[name]
        else:
            contents[name] = change(contents[name]) if callable(change) else change
    if digests:
        manifest = json.loads(contents[MANIFEST])
        for name in manifest["files"]:
            if name in contents:
                data = contents[name]
                manifest["files"][name] = {
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "size": len(data),
                }
        contents[MANIFEST] = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    if sign is not None:
        contents[SIGNATURE] = sign_manifest(contents[MANIFEST], sign).encode()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in [*contents.items(), *extra]:
            zf.writestr(name, data)
    return out


def edit_lines(edit: Callable[[list[bytes]], list[bytes]]) -> Callable[[bytes], bytes]:
    """A change to records.jsonl made line by line."""

    def change(data: bytes) -> bytes:
        return b"".join(edit(data.splitlines(keepends=True)))

    return change
