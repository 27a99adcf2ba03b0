"""Kubernetes evaluation throughput: N pods from a `kubectl get -o json` dump, every pod control.

    python bench/k8s.py [--pods 10000]

Writes a synthetic dump (pods across 50 namespaces, a quarter of them breaking some
control), then times reading it and collecting snapshots (the k8s provider and the
`k8s.workload` collector) and evaluating the 7 pod controls of the built-in catalog with
the engine, on one core. Target: >= 20,000 pod-control evaluations/s.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from assay.checks.k8s import factories as k
from assay.engine.collect import Snapshot, collect
from assay.engine.evaluate import Finding, evaluate
from assay.engine.planner import make_plan


def pod(i: int, rng: random.Random) -> dict[str, Any]:
    namespace = "kube-system" if i % 100 == 0 else f"tenant-{i % 50:02d}"
    env = [
        {"name": "LOG_LEVEL", "value": "info"},
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}},
    ]
    containers = [
        k.container("app", env=env),
        k.container("sidecar", image=f"{k.REGISTRY}/proxy@{k.DIGEST}"),
    ]
    init: list[dict[str, Any]] = [k.container("migrate")]
    fields: dict[str, Any] = {}
    flaw = rng.randrange(28)  # a quarter of the pods break one control
    if flaw == 0:
        containers[0]["securityContext"] = {"privileged": True}
    elif flaw == 1:
        fields["hostNetwork"] = True
    elif flaw == 2:
        init[0]["securityContext"] = {"runAsUser": 0, "allowPrivilegeEscalation": False}
    elif flaw == 3:
        containers[0]["image"] = "nginx:1.27"
    elif flaw == 4:
        containers[0]["env"].append({"name": "API_TOKEN", "value": f"tok-{rng.getrandbits(64):x}"})
    elif flaw == 5:
        fields["automountServiceAccountToken"] = None
    elif flaw == 6:
        del containers[1]["securityContext"]["allowPrivilegeEscalation"]
    spec = k.pod_spec(*containers, init=init, **fields)
    return k.workload("Pod", f"app-{i:06d}", namespace, spec=spec)


def run_pod_controls(
    root: Path, name: str, objects: Iterable[dict[str, Any]]
) -> tuple[Snapshot, list[Finding], float, float]:
    """Every pod control over a `kubectl get -o json` dump of `objects` (written in
    `root`), on one core: (snapshot, findings, collect seconds, evaluate seconds)."""
    dump = root / f"{name}.json"
    dump.write_text(json.dumps(k.object_list(objects)))
    profile = root / f"{name}.yaml"
    profile.write_text(
        f"controls: {{ids: [{', '.join(k.POD_CONTROLS)}]}}\n"
        f"targets:\n  - {{name: {name}, provider: k8s, dump: {dump}}}\n"
    )
    plan = make_plan(profile)
    assert len(plan.controls) == len(k.POD_CONTROLS), [c.control.id for c in plan.controls]
    t0 = time.perf_counter()
    snap = collect(plan, workers=1, timeout=600)
    t1 = time.perf_counter()
    findings = evaluate(plan, snap)
    t2 = time.perf_counter()
    assert not snap.failures, snap.failures
    return snap, findings, t1 - t0, t2 - t1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pods", type=int, default=10_000)
    args = ap.parse_args()
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp:
        pods = (pod(i, rng) for i in range(args.pods))
        snap, findings, collecting, evaluating = run_pod_controls(Path(tmp), "bench", pods)
    n = len(findings)
    by_status: dict[str, int] = {}
    for f in findings:
        by_status[f.status.value] = by_status.get(f.status.value, 0) + 1
    print(f"pods                 {len(snap.resources):>12,}")
    print(f"pod controls         {len(k.POD_CONTROLS):>12}")
    print(f"evaluations          {n:>12,}   {by_status}")
    print(f"read dump + collect  {collecting:>11.2f}s")
    print(f"evaluate             {evaluating:>11.2f}s")
    print(f"evaluations/s        {n / evaluating:>12,.0f}   (evaluation alone; target >= 20,000)")
    print(
        f"evaluations/s e2e    {n / (collecting + evaluating):>12,.0f}   "
        "(read dump + collect + evaluate)"
    )


if __name__ == "__main__":
    main()
