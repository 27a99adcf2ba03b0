"""Peak memory of `assay evidence verify` and `assay dsr unpack` on hostile inputs.

    python bench/hostile_inputs.py [--mib 512] [--keep DIR]

Builds, in a temporary directory (or --keep DIR):
- an evidence bundle whose records.jsonl is --mib MiB of zeros (a zip of well under
  1 MB), once with the genuine signed manifest (which declares the small, real size)
  and once with a manifest re-signed by the log's key that declares the huge size and
  its true SHA-256;
- a bundle whose records.jsonl is --mib MiB of lines just under the line cap, its
  manifest re-signed to declare them (the key holder's worst case);
- DSR export packages whose data.json is --mib MiB of zeros: with a manifest that
  declares 2 bytes, and with one that declares the true size and digest (a consistent,
  huge package: unpack streams it to disk);
- sealed packages whose header asks scrypt for more memory than allowed (n = 2**24),
  and for the most allowed (n = 2**15, r = 8: 32 MiB, what ours take).

Each command runs in its own process; the figure printed is that process's peak
resident set (``ru_maxrss`` from ``os.wait4``, the per-child value of
``getrusage(RUSAGE_CHILDREN)``), with its exit code and the first line of its error.
Target: under 100 MB for every input.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from assay.evidence import SigningKey, export_bundle, open_ledger
from assay.evidence.bundle.format import MANIFEST, RECORDS, SIGNATURE, sign_manifest

MIB = 1 << 20
ORIGIN = "bench.example/evidence"


def zeros(zf: zipfile.ZipFile, name: str, mib: int) -> tuple[str, int]:
    """Stream `mib` MiB of zeros into member `name`; its SHA-256 and size."""
    digest = hashlib.sha256()
    block = bytes(MIB)
    with zf.open(name, "w", force_zip64=True) as out:
        for _ in range(mib):
            out.write(block)
            digest.update(block)
    return digest.hexdigest(), mib * MIB


def long_lines(zf: zipfile.ZipFile, name: str, mib: int, line: int) -> tuple[str, int]:
    """`mib` MiB of lines of `line` bytes (newline included); their SHA-256 and size."""
    digest = hashlib.sha256()
    block = b"0" * (line - 1) + b"\n"
    count = mib * MIB // line
    with zf.open(name, "w", force_zip64=True) as out:
        for _ in range(count):
            out.write(block)
            digest.update(block)
    return digest.hexdigest(), count * line


def bundles(root: Path, mib: int) -> tuple[str, list[tuple[str, Path]]]:
    key = SigningKey.generate(ORIGIN)
    ledger = root / "ledger.db"
    with open_ledger(str(ledger)) as led:
        notes = [{"kind": "note", "at": "2024-05-01T00:00:00Z", "n": i} for i in range(16)]
        led.append(notes, key=key)
        genuine = export_bundle(led, root / "genuine.zip", key).path
    with zipfile.ZipFile(genuine) as src:
        members = {name: src.read(name) for name in src.namelist()}

    def variant(name: str, records: Callable[[zipfile.ZipFile], tuple[str, int]] | None) -> Path:
        path = root / name
        manifest = members[MANIFEST]
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for member, data in members.items():
                if member == RECORDS:
                    if records is None:
                        zeros(zf, RECORDS, mib)
                    else:
                        doc = json.loads(manifest)
                        sha, size = records(zf)
                        doc["files"][RECORDS] = {"sha256": sha, "size": size}
                        manifest = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
                elif member == MANIFEST:
                    zf.writestr(MANIFEST, manifest)
                elif member == SIGNATURE:
                    zf.writestr(SIGNATURE, sign_manifest(manifest, key))
                else:
                    zf.writestr(member, data)
        return path

    # records.jsonl comes first in a bundle, so the manifest can follow what was written.
    return str(key.verifier), [
        ("bundle, zeros, genuine manifest (small size)", variant("small.zip", None)),
        (
            "bundle, zeros, re-signed manifest (huge size)",
            variant("huge.zip", lambda zf: zeros(zf, RECORDS, mib)),
        ),
        (
            "bundle, 4 MiB - 1 lines, re-signed manifest",
            variant("lines.zip", lambda zf: long_lines(zf, RECORDS, mib, 4 * MIB - 1)),
        ),
    ]


def packages(root: Path, mib: int) -> list[tuple[str, Path]]:
    def package(name: str, declare_huge: bool) -> Path:
        path = root / name
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            sha, size = zeros(zf, "data.json", mib)
            if not declare_huge:
                sha, size = hashlib.sha256(b"{}").hexdigest(), 2
            manifest = {
                "format": "assay.dsr-export/v1",
                "expires_at": "2099-01-01T00:00:00+00:00",
                "tables": [],
                "files": [{"name": "data.json", "sha256": sha, "bytes": size}],
            }
            zf.writestr("manifest.json", json.dumps(manifest))
        return path

    def sealed(name: str, n: int, r: int) -> Path:
        path = root / name
        head = {
            "cipher": "AES-256-GCM", "kdf": "scrypt", "n": n, "r": r, "p": 1,
            "salt": base64.b64encode(bytes(16)).decode(),
            "nonce": base64.b64encode(bytes(12)).decode(),
            "expires_at": None, "request": None,
        }  # fmt: skip
        path.write_bytes(
            b"ASSAY-DSR-SEALED/1\n" + json.dumps(head, sort_keys=True).encode() + b"\n" + bytes(64)
        )
        return path

    return [
        ("package, zeros, manifest declares 2 bytes", package("small.dsr.zip", False)),
        ("package, zeros, manifest declares them", package("huge.dsr.zip", True)),
        ("sealed package, scrypt n=2**24 r=8", sealed("n24.enc", 2**24, 8)),
        ("sealed package, scrypt n=2**20 r=8 (1 GiB)", sealed("n20.enc", 2**20, 8)),
        ("sealed package, scrypt n=2**15 r=8 (32 MiB)", sealed("n15.enc", 2**15, 8)),
    ]


def measure(args: list[str], env: dict[str, str]) -> tuple[float, int, float, str]:
    """(peak RSS in MB, exit code, seconds, first error line) of one command's process."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    first = next((line for line in err.splitlines() if line.strip()), "")
    return usage.ru_maxrss / 1024, proc.returncode, seconds, first[:150]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--keep", type=Path, help="build the inputs here and keep them")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = opts.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "ASSAY_PASSPHRASE": "a passphrase"}
        assay = [sys.executable, "-m", "assay"]
        vkey, bundle_cases = bundles(root, opts.mib)
        cases = [
            (label, path, [*assay, "evidence", "verify", str(path), "--key", vkey])
            for label, path in bundle_cases
        ]
        for i, (label, path) in enumerate(packages(root, opts.mib)):
            out = root / f"out-{i}"
            cmd = [*assay, "dsr", "unpack", str(path), "--out", str(out)]
            cases.append((label, path, [*cmd, "--passphrase-env", "ASSAY_PASSPHRASE"]))
        print(f"{'input':48} {'file':>9} {'peak RSS':>10} {'exit':>5} {'time':>7}  error")
        for label, path, cmd in cases:
            rss, code, seconds, first = measure(cmd, env)
            size = f"{path.stat().st_size / 1024:.0f} KB"
            print(f"{label:48} {size:>9} {rss:>7.0f} MB {code:>5} {seconds:>6.1f}s  {first}")


if __name__ == "__main__":
    main()
