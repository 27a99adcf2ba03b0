"""Evidence ledger throughput on SQLite: appends, verification, proofs.

    python bench/ledger.py [--records 1000000] [--batch 1000] [--single 5000]

Builds a ledger of --records result-shaped records (about 650 bytes each) in batches,
then measures durable single-record appends, signing a checkpoint, verifying the whole
ledger with the public key (in a fresh process, to report its peak memory; a ledger a
tenth the size is verified too, to show memory stays flat), and inclusion and
consistency proofs at full size. Every append writes its Merkle tree nodes.

Targets: batched >= 20,000 records/s; single durable >= 3,000/s; verifying 1,000,000
records <= 10 s with flat memory; an inclusion proof generated and verified < 5 ms.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from assay.evidence import (
    SigningKey,
    VerifierKey,
    open_ledger,
    prove,
    sign_checkpoint,
    verify_ledger,
)
from assay.evidence.merkle import consistency_proof, root, verify_consistency


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
            "id": f"arn:aws:s3:::bucket-{i}",
            "name": f"bucket-{i}",
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


def _verify_in_child(url: str, vkey: str, workers: int, out: Any) -> None:
    with open_ledger(url, create=False) as ledger:
        started = time.perf_counter()
        cpu = time.process_time()
        report = verify_ledger(ledger, [VerifierKey.parse(vkey)], workers=workers)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak_kib = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    out.send((report.ok, report.records, elapsed, cpu, peak_kib, str(report.error)))


def verify_fresh(url: str, vkey: str, workers: int) -> tuple[bool, int, float, float, int, str]:
    """Verify in a new process, so its peak memory is the verifier's (and its workers')."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_verify_in_child, args=(url, vkey, workers, send))
    process.start()
    result: tuple[bool, int, float, float, int, str] = receive.recv()
    process.join()
    return result


def build(url: str, records: int, batch: int, key: SigningKey) -> float:
    """Seconds spent in `append` (building the entries, the caller's work, is not timed)."""
    run = str(uuid.uuid4())
    elapsed = 0.0
    with open_ledger(url) as ledger:
        for start in range(0, records, batch):
            entries = [result_record(start + i, run) for i in range(min(batch, records - start))]
            started = time.perf_counter()
            ledger.append(entries)
            elapsed += time.perf_counter() - started
        sign_checkpoint(ledger, key)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--single", type=int, default=5000)
    parser.add_argument("--proofs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--dir", type=Path, help="Where to put the ledgers (default: a temp dir).")
    args = parser.parse_args()
    key = SigningKey.generate("bench.example/evidence")
    vkey = str(key.verifier)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        url = f"sqlite:///{Path(tmp) / 'ledger.db'}"
        small_url = f"sqlite:///{Path(tmp) / 'small.db'}"

        elapsed = build(url, args.records, args.batch, key)
        print(f"batched appends ({args.batch}/txn, with tree nodes): {rate(args.records, elapsed)}")
        build(small_url, max(args.records // 10, 1), args.batch, key)

        run = str(uuid.uuid4())
        with open_ledger(url) as ledger:
            elapsed = 0.0
            for i in range(args.single):
                entry = result_record(i, run)
                started = time.perf_counter()
                ledger.append([entry])
                elapsed += time.perf_counter() - started
            print(f"single durable appends (1/txn, FULL sync): {rate(args.single, elapsed)}")
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
            for workers in sorted({1, args.workers}):
                ok, count, seconds, cpu, peak_kib, error = verify_fresh(target, vkey, workers)
                assert ok, error
                print(
                    f"verify {label} ledger with the key, {workers} process(es): "
                    f"{rate(count, seconds)}; main process CPU {cpu:.2f} s, "
                    f"peak RSS {peak_kib / 1024:.0f} MiB"
                )


if __name__ == "__main__":
    main()
