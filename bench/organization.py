"""A sharded organisation run: what one shard gets through, and what one PostgreSQL ledger
takes from N shards appending at once. docs/scale.md turns these into shard counts.

    python bench/organization.py [--accounts 8] [--regions 2] [--writers 1,2,4,8] [--seconds 8]
                        [--batch 60] [--memory 4,8,16] [--no-aws] [--no-pg]

AWS (moto's server in its own process, one organisation of --accounts member accounts,
each seeded per region with volumes, a security group and buckets): one shard runs
every AWS control over the whole organisation into a throwaway PostgreSQL ledger, as
`assay run --shard 0/1` does. It prints accounts per minute, seconds per account, AWS
calls per account and per account-region, and ledger batches and records per account.
moto answers in milliseconds where AWS takes tens to hundreds: the calls per account are
what carries over to a real organisation, the seconds are not.

Memory: with --memory, one `assay run --shard 0/1` process per organisation size (a
fresh moto server each, one region): its peak resident set size, which should not grow
with the number of accounts.

PostgreSQL: --writers processes append batches of --batch result-sized records (a work
unit's batch) to one ledger for --seconds each, unsigned and then signed (every batch with
its checkpoint, as shards with a signing key append); it prints batches and records per
second for each N, and checks the chain is one: contiguous seqs, each prev the hash
before it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import botocore.client

from assay.demo.aws_emulator import emulator_process
from assay.demo.local_postgres import find_bindir, local_postgres
from assay.engine.planner import make_plan
from assay.engine.shard import Shard
from assay.engine.sharded import UNIT_FINISHED, run_shard
from assay.evidence import open_ledger
from assay.evidence.keys import SigningKey

REGIONS = ("us-east-1", "eu-west-1", "us-west-2", "ap-southeast-2")


def seed(url: str, accounts: int, regions: tuple[str, ...]) -> list[str]:
    keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    org = boto3.client("organizations", region_name="us-east-1", endpoint_url=url, **keys)
    org.create_organization(FeatureSet="ALL")
    for n in range(accounts):
        org.create_account(AccountName=f"m{n}", Email=f"m{n}@example.com")
    ids = sorted(a["Id"] for a in org.list_accounts()["Accounts"] if a["Id"] != "123456789012")
    sts = boto3.client("sts", region_name="us-east-1", endpoint_url=url, **keys)
    for account in ids:
        c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/x", RoleSessionName="seed")[
            "Credentials"
        ]
        member = {
            "aws_access_key_id": c["AccessKeyId"],
            "aws_secret_access_key": c["SecretAccessKey"],
            "aws_session_token": c["SessionToken"],
        }
        for region in regions:
            ec2 = boto3.client("ec2", region_name=region, endpoint_url=url, **member)
            for encrypted in (True, False, False):
                ec2.create_volume(AvailabilityZone=f"{region}a", Size=8, Encrypted=encrypted)
            ec2.create_security_group(GroupName="web", Description="web")
            s3 = boto3.client("s3", region_name=region, endpoint_url=url, **member)
            where = (
                {}
                if region == "us-east-1"
                else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            )
            for kind in ("logs", "data"):
                s3.create_bucket(Bucket=f"{kind}-{account}-{region}", **where)
    return ids


class CallCounter:
    """Counts AWS API calls made in this process (every client's `_make_api_call`)."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()
        self._original = botocore.client.BaseClient._make_api_call

    def __enter__(self) -> CallCounter:
        original = self._original

        def counted(client: Any, operation: str, params: Any) -> Any:
            with self._lock:
                self.calls += 1
            return original(client, operation, params)

        botocore.client.BaseClient._make_api_call = counted  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        botocore.client.BaseClient._make_api_call = self._original  # type: ignore[method-assign]


def bench_aws(accounts: int, regions: tuple[str, ...], dsn: str) -> dict[str, float]:
    with emulator_process() as url, tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        ids = seed(url, accounts, regions)
        print(
            f"seeded {len(ids)} accounts x {len(regions)} regions in "
            f"{time.perf_counter() - started:.1f} s"
        )
        profile = Path(tmp) / "assay.yaml"
        target = {
            "name": "org",
            "provider": "aws",
            "organization": True,
            "role_name": "assay-auditor",
            "regions": list(regions),
            "endpoint_url": url,
        }
        profile.write_text(json.dumps({"controls": {"tags": ["aws"]}, "targets": [target]}))
        plan = make_plan(profile)
        os.environ.update(
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
            ASSAY_PSEUDONYM_KEY=secrets.token_hex(32),
        )
        os.environ.pop("AWS_PROFILE", None)
        with CallCounter() as counter:
            started = time.perf_counter()
            done = run_shard(plan, Shard(0, 1), "bench-org", ledger_url=dsn, profile="bench")
            seconds = time.perf_counter() - started
        with open_ledger(dsn) as ledger:
            units = sum(1 for r in ledger.records() if r.record.get("kind") == UNIT_FINISHED)
            records = ledger.count()
    per_account = seconds / accounts
    out = {
        "accounts_per_minute": 60 * accounts / seconds,
        "seconds_per_account": per_account,
        "calls_per_account": counter.calls / accounts,
        "calls_per_account_region": counter.calls / (accounts * len(regions)),
        "results_per_account": done.results / accounts,
        "batches_per_account": units / accounts,
        "records_per_account": records / accounts,
        "controls": len(plan.controls),
    }
    print(
        f"one shard, {len(plan.controls)} AWS controls, {accounts} accounts x {len(regions)} "
        f"regions: {seconds:.1f} s, {out['accounts_per_minute']:.1f} accounts/min "
        f"({per_account:.2f} s each); {out['calls_per_account']:.0f} AWS calls per account "
        f"({out['calls_per_account_region']:.0f} per account-region); "
        f"{out['results_per_account']:.0f} results and {out['batches_per_account']:.0f} "
        f"ledger batches per account"
    )
    return out


def shard_memory(accounts: int) -> float:
    """Peak RSS (MiB) of one shard process over an organisation of `accounts`."""
    with emulator_process() as url, tempfile.TemporaryDirectory() as tmp:
        seed(url, accounts, REGIONS[:1])
        target = {
            "name": "org",
            "provider": "aws",
            "organization": True,
            "role_name": "assay-auditor",
            "regions": list(REGIONS[:1]),
            "endpoint_url": url,
        }
        Path(tmp, "assay.yaml").write_text(
            json.dumps({"controls": {"tags": ["aws"]}, "targets": [target]})
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ASSAY_"))}
        env.update(
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
            ASSAY_PSEUDONYM_KEY=secrets.token_hex(32),
            ASSAY_LEDGER="sqlite:///ledger.db",
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "assay", "run", "--shard", "0/1", "--run-id", "mem"],
            cwd=tmp,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        if status != 0:
            raise RuntimeError(f"shard failed: {proc.stderr.read() if proc.stderr else ''!r}")
    return usage.ru_maxrss / 1024  # kilobytes on Linux


def _record(writer: int, n: int) -> dict[str, Any]:
    # About the size of a result record.
    return {
        "kind": "result",
        "at": "2026-12-06T02:00:00Z",
        "run": "bench-writers",
        "unit": f"org-{writer:012d}/eu-west-1",
        "control": {
            "id": "aws-ebs-volume-encrypted",
            "severity": "high",
            "check": None,
            "frameworks": {"soc2": ["CC6.1", "CC6.7"]},
            "params": {},
        },
        "resource": {
            "type": "aws.ec2.volume",
            "id": f"arn:aws:ec2:eu-west-1:{writer:012d}:volume/vol-{n:08x}",
            "name": f"vol-{n:08x}",
            "scope": {"provider": "aws", "region": "eu-west-1"},
        },
        "status": "fail" if n % 3 else "pass",
        "reason": "volume is not encrypted",
        "observed": {"encrypted": False},
        "fingerprint": f"{n:032x}",
    }


def _writer(dsn: str, writer: int, batch: int, seconds: float, key: str | None, out: Any) -> None:
    signing = SigningKey.parse(key) if key else None
    batches = 0
    with open_ledger(dsn) as ledger:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            ledger.append([_record(writer, batches * batch + i) for i in range(batch)], key=signing)
            batches += 1
    out.put(batches)


def bench_writers(dsn_for: Any, writers: list[int], batch: int, seconds: float) -> None:
    key = SigningKey.generate("bench.local/org")
    for signed in (False, True):
        for n in writers:
            dsn = dsn_for(f"w{n}{'s' if signed else 'u'}")
            with open_ledger(dsn) as ledger:  # created (and migrated) once, before the writers
                if signed:
                    ledger.append([{"kind": "note", "at": "2026-12-06T00:00:00Z"}], key=key)
            queue: Any = multiprocessing.Queue()
            procs = [
                multiprocessing.Process(
                    target=_writer,
                    args=(dsn, i, batch, seconds, key.private_text() if signed else None, queue),
                )
                for i in range(n)
            ]
            for p in procs:
                p.start()
            total = sum(queue.get() for _ in procs)
            for p in procs:
                p.join()
            with open_ledger(dsn) as ledger:
                prev, count = None, 0
                for stored in ledger.records():
                    assert stored.seq == count and (prev is None or stored.record["prev"] == prev)
                    prev, count = stored.hash, count + 1
            print(
                f"{'signed' if signed else 'unsigned'} batches of {batch}, {n} writer"
                f"{'s' if n > 1 else ''}: {total / seconds:7.1f} batches/s, "
                f"{total * batch / seconds:8.0f} records/s; one chain of {count} records"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=8)
    parser.add_argument("--regions", type=int, default=2, choices=range(1, len(REGIONS) + 1))
    parser.add_argument("--writers", default="1,2,4,8")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--batch", type=int, default=60)
    parser.add_argument("--memory", default="", help="organisation sizes, e.g. 4,8,16")
    parser.add_argument("--no-aws", action="store_true")
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    if find_bindir() is None:
        sys.exit("PostgreSQL binaries not found: both parts need a throwaway server")
    with local_postgres() as server:
        import psycopg

        def dsn_for(name: str) -> str:
            with psycopg.connect(server.dsn, autocommit=True) as con:
                con.execute(f'CREATE DATABASE "{name}"')
            return server.dsn_for("postgres", dbname=name)

        if not args.no_aws:
            bench_aws(args.accounts, REGIONS[: args.regions], dsn_for("org"))
        sizes = [int(n) for n in args.memory.split(",") if n]
        if sizes:
            peaks = {n: shard_memory(n) for n in sizes}
            print(
                "peak RSS of one shard: "
                + ", ".join(f"{peak:.0f} MiB at {n} accounts" for n, peak in peaks.items())
            )
        if not args.no_pg:
            writers = [int(n) for n in args.writers.split(",")]
            bench_writers(dsn_for, writers, args.batch, args.seconds)


if __name__ == "__main__":
    main()
