"""Evidence ledger throughput: SQLite and PostgreSQL appends, verification, proofs, bundles.

    python bench/ledger.py [--records 1000000] [--batch 1000] [--single 5000]
                           [--pg-records 200000] [--no-pg]

Builds a SQLite ledger of --records result-shaped records (about 600 bytes each) in
batches, then measures durable single-record appends, signing a checkpoint, and
inclusion and consistency proofs at full size. Every append writes its Merkle tree
nodes. Then it verifies the whole ledger with the public key as an auditor does, with
``assay evidence verify`` in a process of its own (its wall time, interpreter start
included, and the peak RSS of its largest process; a ledger a tenth the size is
verified too, to show memory stays flat).

Then it exports the whole ledger as a bundle (in a fresh process, for its peak memory;
the tenth-size ledger's too) and verifies the bundle with ``assay evidence verify``
likewise, and, when PostgreSQL's server binaries are installed, appends --pg-records to
a throwaway local server in batches and one at a time.

Every verification is printed beside a plain streamed SHA-256 over the same bytes (the
records' bodies read from the ledger, or records.jsonl inflated from the bundle), in one
process: the floor any verifier pays to read them, and the ratio to it.

Targets: SQLite batched >= 20,000 records/s; single durable >= 3,000/s; an inclusion
proof generated and verified < 5 ms; PostgreSQL batched >= 10,000 records/s; verifying
a ledger or a bundle (every check made) >= 300,000 records/s in one process and
>= 500,000/s with all cores, peak memory <= 50 MiB; exporting 1,000,000 records < 20 s.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

from assay.demo.local_postgres import find_bindir, local_postgres
from assay.evidence import (
    SigningKey,
    export_bundle,
    open_ledger,
    prove,
    sign_checkpoint,
)
from assay.evidence.merkle import consistency_proof, root, verify_consistency

RESOURCES = 2700
"""The resources the records judge, run after run: a year of nightly runs over 2,700
resources is about 1,000,000 records."""


def result_record(i: int, run: str) -> dict[str, Any]:
    return {
        "kind": "result",
        "at": "2024-05-01T02:00:00Z",
        "run": run,
        "control": {
            "id": "aws-s3-default-encryption",
            "severity": "high",
            "frameworks": {"soc2": ["CC6.1", "CC6.7"]},
            "check": "aws.s3.default_encryption",
            "params": {},
        },
        "resource": {
            "type": "aws.s3.bucket",
            "id": f"arn:aws:s3:::bucket-{i % RESOURCES}",
            "name": f"bucket-{i % RESOURCES}",
            "scope": {
                "provider": "aws",
                "account": "123456789012",
                "region": "us-east-1",
                "target": "prod",
            },
        },
        "status": "pass" if i % 7 else "fail",
        "reason": "default encryption is aws:kms",
        "observed": {"algorithm": "aws:kms", "bucket_key": True},
        "waiver": None,
    }


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s ({count:,} in {seconds:.2f} s)"


def assay_verify(what: list[str], vkey: Path, workers: int, cwd: Path) -> tuple[int, float, int]:
    """Run ``assay evidence verify`` as an auditor does: (records, seconds, peak RSS in
    KiB of its largest process, workers included). Fails unless it verifies."""
    argv = [sys.executable, "-m", "assay", "evidence", "verify", *what]
    argv += ["--key", str(vkey), "--workers", str(workers), "--format", "json"]
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        # wait4 reports this child's own peak (with its workers'), not every child's.
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read().decode()
    assert process.returncode == 0, output
    return int(json.loads(output)["records"]), elapsed, usage.ru_maxrss


def _peak_kib() -> int:
    return max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )


def _export_in_child(url: str, key_text: str, out: Path, workers: int, send: Any) -> None:
    key = SigningKey.parse(key_text)
    with open_ledger(url, create=False) as ledger:
        started = time.perf_counter()
        result = export_bundle(ledger, out, key, workers=workers)
        elapsed = time.perf_counter() - started
    send.send((result.end - result.start, elapsed, out.stat().st_size, _peak_kib()))


def _sha_ledger_in_child(url: str, send: Any) -> None:
    """A plain streamed SHA-256 over the records' bodies as the ledger gives them."""
    with open_ledger(url, create=False) as ledger:
        started = time.perf_counter()
        digest, count = hashlib.sha256(), 0
        for record in ledger.records():
            digest.update(record.body)
            count += 1
        send.send((count, time.perf_counter() - started))


def _sha_bundle_in_child(path: Path, send: Any) -> None:
    """A plain streamed SHA-256 over records.jsonl as the bundle's zip inflates it."""
    started = time.perf_counter()
    digest, count = hashlib.sha256(), 0
    with zipfile.ZipFile(path) as zf, zf.open("records.jsonl") as member:
        while chunk := member.read(1 << 20):
            digest.update(chunk)
            count += chunk.count(b"\n")
    send.send((count, time.perf_counter() - started))


def beside(count: int, seconds: float, floor: tuple[int, float]) -> str:
    """`rate`, then the streamed SHA-256's rate over the same bytes and the ratio."""
    plain = floor[0] / floor[1]
    return (
        f"{rate(count, seconds)}; a streamed SHA-256 of the same bytes {plain:,.0f}/s, "
        f"{plain * seconds / count:.1f}x this rate"
    )


def in_fresh_process(target: Any, *args: Any) -> Any:
    """Run `target(*args, send)` in a new process; returns what it sends."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=target, args=(*args, send))
    process.start()
    result = receive.recv()
    process.join()
    return result


def bundles(urls: dict[str, str], key: SigningKey, workers: int, tmp: Path) -> None:
    """Export each ledger in a fresh process; verify the full one's bundle likewise."""
    for label, url in urls.items():
        for workers_used in sorted({1, workers}):
            out = tmp / f"{label}.zip"
            count, seconds, size, peak_kib = in_fresh_process(
                _export_in_child, url, key.private_text(), out, workers_used
            )
            print(
                f"export {label} ledger as a bundle, {workers_used} process(es): "
                f"{rate(count, seconds)}; {size / 2**20:.0f} MiB; "
                f"peak RSS {peak_kib / 1024:.0f} MiB"
            )
    floor = in_fresh_process(_sha_bundle_in_child, tmp / "full.zip")
    vkey = tmp / "bench.pub"
    for workers_used in sorted({1, workers}):
        count, seconds, peak_kib = assay_verify([str(tmp / "full.zip")], vkey, workers_used, tmp)
        print(
            f"verify the full bundle with the key, {workers_used} process(es): "
            f"{beside(count, seconds, floor)}; peak RSS {peak_kib / 1024:.0f} MiB"
        )


def postgres(records: int, batch: int, single: int, key: SigningKey) -> None:
    """Appends to a throwaway local PostgreSQL server, batched and one at a time."""
    if find_bindir() is None:
        print("PostgreSQL: server binaries not found (set PG_BIN); skipped")
        return
    with local_postgres() as server:
        elapsed = build(server.dsn, records, batch, key)
        print(
            f"PostgreSQL batched signed appends ({batch}/txn, with tree nodes): "
            f"{rate(records, elapsed)}"
        )
        run = str(uuid.uuid4())
        with open_ledger(server.dsn) as ledger:
            elapsed = 0.0
            for i in range(single):
                entry = result_record(i, run)
                started = time.perf_counter()
                ledger.append([entry], key=key)
                elapsed += time.perf_counter() - started
            print(f"PostgreSQL single signed appends (1/txn): {rate(single, elapsed)}")


def build(url: str, records: int, batch: int, key: SigningKey) -> float:
    """Seconds spent in `append`, each batch signed in its own transaction as every keyed
    writer does (building the entries, the caller's work, is not timed)."""
    run = str(uuid.uuid4())
    elapsed = 0.0
    with open_ledger(url) as ledger:
        for start in range(0, records, batch):
            entries = [result_record(start + i, run) for i in range(min(batch, records - start))]
            started = time.perf_counter()
            ledger.append(entries, key=key)
            elapsed += time.perf_counter() - started
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--single", type=int, default=5000)
    parser.add_argument("--proofs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--pg-records", type=int, default=200_000)
    parser.add_argument("--no-pg", action="store_true", help="Skip the PostgreSQL figures.")
    parser.add_argument("--dir", type=Path, help="Where to put the ledgers (default: a temp dir).")
    args = parser.parse_args()
    key = SigningKey.generate("bench.example/evidence")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        vkey = Path(tmp) / "bench.pub"
        vkey.write_text(f"{key.verifier}\n")
        url = f"sqlite:///{Path(tmp) / 'ledger.db'}"
        small_url = f"sqlite:///{Path(tmp) / 'small.db'}"

        elapsed = build(url, args.records, args.batch, key)
        print(
            f"batched signed appends ({args.batch}/txn, with tree nodes): "
            f"{rate(args.records, elapsed)}"
        )
        build(small_url, max(args.records // 10, 1), args.batch, key)

        run = str(uuid.uuid4())
        with open_ledger(url) as ledger:
            elapsed = 0.0
            for i in range(args.single):
                entry = result_record(i, run)
                started = time.perf_counter()
                ledger.append([entry], key=key)
                elapsed += time.perf_counter() - started
            print(f"single durable signed appends (1/txn, FULL sync): {rate(args.single, elapsed)}")
            started = time.perf_counter()
            checkpoint = sign_checkpoint(ledger, key)
            took = (time.perf_counter() - started) * 1e3
            print(f"sign a checkpoint at {checkpoint.size:,}: {took:.2f} ms")
            size = checkpoint.size

            picks = [random.randrange(size) for _ in range(args.proofs)]
            made, checked = [], []
            for seq in picks:
                started = time.perf_counter()
                proof = prove(ledger, seq)
                made.append(time.perf_counter() - started)
                started = time.perf_counter()
                proof.verify([key.verifier])
                checked.append(time.perf_counter() - started)
            print(
                f"inclusion proof at {size:,}: generate median "
                f"{statistics.median(made) * 1e3:.2f} ms (max {max(made) * 1e3:.2f}), "
                "verify incl. signature median "
                f"{statistics.median(checked) * 1e3:.2f} ms"
            )
            old = size // 3
            started = time.perf_counter()
            hashes = consistency_proof(ledger.nodes, old, size)
            verify_consistency(old, size, hashes, root(ledger.nodes, old), checkpoint.root)
            print(
                f"consistency proof {old:,} -> {size:,}: generated and verified in "
                f"{(time.perf_counter() - started) * 1e3:.2f} ms"
            )

        for label, target in (("full", url), ("tenth", small_url)):
            floor = in_fresh_process(_sha_ledger_in_child, target)
            for workers in sorted({1, args.workers}):
                count, seconds, peak_kib = assay_verify(
                    ["--ledger", target], vkey, workers, Path(tmp)
                )
                print(
                    f"verify {label} ledger with the key, {workers} process(es): "
                    f"{beside(count, seconds, floor)}; peak RSS {peak_kib / 1024:.0f} MiB"
                )
        bundles({"full": url, "tenth": small_url}, key, args.workers, Path(tmp))
    if not args.no_pg:
        postgres(args.pg_records, args.batch, min(args.single, 2000), key)


if __name__ == "__main__":
    main()
