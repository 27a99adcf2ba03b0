"""Evaluation throughput: N synthetic S3 buckets from a snapshot file against 20 controls.

    python bench/evaluate.py [--resources 100000]

Prints evaluations per second for evaluation alone and for reading the snapshot plus
evaluating (one core; the engine evaluates in the calling thread). Target: >= 50,000/s.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from assay.engine.collect import Snapshot, now_rfc3339, read_snapshot, write_snapshot
from assay.engine.evaluate import evaluate
from assay.engine.planner import make_plan

# 18 rule controls beside the built-in check and rule controls for buckets: 20 in all.
RULES = [
    "{path: versioning, eq: Enabled}",
    "{path: versioning, ne: Suspended}",
    "{path: region, in: [us-east-1, eu-west-1]}",
    "{path: region, not_in: [ap-east-1]}",
    "{path: tags.owner, exists: true}",
    "{path: tags.temporary, absent: true}",
    "{path: object_count, lte: 1000000}",
    "{path: object_count, gte: 0}",
    "{path: size_gib, lt: 5000}",
    "{path: size_gib, gt: -1}",
    "{path: name_tags, contains: prod}",
    "{path: tags.owner, regex: '^team-'}",
    "{path: created, age_days_lte: 3650}",
    "{path: 'encryption.rules[0].algorithm', in: ['aws:kms', AES256]}",
    "{all: [{path: versioning, eq: Enabled}, {path: tags.owner, exists: true}]}",
    "{any: [{path: region, eq: us-east-1}, {path: tags.region_pinned, eq: 'yes'}]}",
    "{not: {path: tags.public, eq: 'true'}}",
    "{all: [{path: object_count, gte: 0}, {not: {path: tags.temporary, exists: true}}]}",
]


def write_controls(folder: Path) -> list[str]:
    ids = ["aws-s3-default-encryption", "aws-s3-versioning"]
    for i, rule in enumerate(RULES):
        cid = f"bench-rule-{i:02d}"
        ids.append(cid)
        (folder / f"{cid}.yaml").write_text(
            f"id: {cid}\ntitle: Bench rule {i}\nseverity: low\nresource: aws.s3.bucket\n"
            f"rule: {rule}\nremediation: n/a\n"
        )
    return ids


def bucket(i: int, rng: random.Random, stamp: str) -> dict[str, object]:
    name = f"bucket-{i:06d}"
    algo = rng.choice(["aws:kms", "AES256", None])
    return {
        "type": "aws.s3.bucket",
        "id": f"arn:aws:s3:::{name}",
        "name": name,
        "scope": {
            "provider": "aws",
            "account": "123456789012",
            "region": "us-east-1",
            "target": "bench",
        },
        "collected_at": stamp,
        "attributes": {
            "region": rng.choice(["us-east-1", "eu-west-1", "ap-east-1"]),
            "encryption": {"rules": [{"algorithm": algo, "kms_key_id": None, "bucket_key": False}]}
            if algo
            else None,
            "versioning": rng.choice(["Enabled", "Suspended", None]),
            "tags": {"owner": f"team-{i % 7}"} if i % 3 else {"temporary": "yes"},
            "name_tags": ["prod", "app"] if i % 2 else ["dev"],
            "object_count": rng.randrange(0, 2_000_000),
            "size_gib": rng.randrange(0, 8000),
            "created": "2024-05-01T00:00:00Z",
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resources", type=int, default=100_000)
    args = ap.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "controls").mkdir()
        ids = write_controls(root / "controls")
        profile = root / "assay.yaml"
        profile.write_text(f"controls_dirs: [controls]\ncontrols: {{ids: [{', '.join(ids)}]}}\n")
        plan = make_plan(profile)
        assert len(plan.controls) == 20, len(plan.controls)
        stamp = now_rfc3339()
        snap = Snapshot(stamp, resources=[bucket(i, rng, stamp) for i in range(args.resources)])
        path = root / "snapshot.jsonl"
        write_snapshot(snap, path)

        t0 = time.perf_counter()
        loaded = read_snapshot(path)
        t1 = time.perf_counter()
        findings = evaluate(plan, loaded)
        t2 = time.perf_counter()
    n = len(findings)
    print(f"resources            {args.resources:>12,}")
    print(f"controls             {len(plan.controls):>12}")
    print(f"evaluations          {n:>12,}")
    print(f"read snapshot        {t1 - t0:>11.2f}s")
    print(f"evaluate             {t2 - t1:>11.2f}s")
    print(f"evaluations/s        {n / (t2 - t1):>12,.0f}   (evaluation alone; target >= 50,000)")
    print(f"evaluations/s e2e    {n / (t2 - t0):>12,.0f}   (read snapshot + evaluate)")


if __name__ == "__main__":
    main()
