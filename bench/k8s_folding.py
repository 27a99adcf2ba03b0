"""Folding pods into their controllers: cost of collection, and results saved, on N pods.

    python bench/k8s_folding.py [--pods 10000] [--replicas 20]

Writes two synthetic dumps of the same N pods with server defaults (token volume,
tolerations, LimitRanger resources): one with their Deployments and ReplicaSets, 1 pod in
20 with an injected privileged sidecar; one of the pods alone (nothing to fold into).
Times reading + collecting and evaluating the 7 pod controls on each, on one core, and
prints the ratios. Target: with owners, read + collect + evaluate takes no longer than
for the pods alone (comparing specs costs less than the results it saves).
"""

from __future__ import annotations

import argparse
import copy
import tempfile
from pathlib import Path
from typing import Any

from k8s import run_pod_controls  # a sibling script: bench/ is on the path

from assay.checks.k8s import factories as k


def served(pod: dict[str, Any], i: int) -> dict[str, Any]:
    """`pod` with what the API server, admission and the scheduler add."""
    spec = pod["spec"]
    token = f"kube-api-access-{i:05d}"
    for c in spec["containers"]:
        c.update(
            imagePullPolicy="IfNotPresent",
            terminationMessagePath="/dev/termination-log",
            resources={"limits": {"cpu": "500m"}, "requests": {"cpu": "100m"}},
            volumeMounts=[
                {"name": token, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
            ],
        )
    spec.update(
        dnsPolicy="ClusterFirst",
        nodeName=f"node-{i % 40}",
        serviceAccountName="default",
        tolerations=[{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}],
        volumes=[{"name": token, "projected": {"sources": [{"serviceAccountToken": {}}]}}],
    )
    return pod


def cluster(pods: int, replicas: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(controllers and pods, the same pods without owners)."""
    owned: list[dict[str, Any]] = []
    alone: list[dict[str, Any]] = []
    env = [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}]
    for d in range(pods // replicas):
        namespace = f"tenant-{d % 50:02d}"
        spec = k.pod_spec(
            k.container("app", env=env), k.container("proxy"), automountServiceAccountToken=None
        )
        deployment = k.workload("Deployment", f"app-{d}", namespace, spec=spec)
        rs = k.workload("ReplicaSet", f"app-{d}-7d9f", namespace, spec=copy.deepcopy(spec))
        owned += [deployment, k.owned(rs, deployment)]
        for r in range(replicas):
            i = d * replicas + r
            pod = served(
                k.workload("Pod", f"app-{d}-7d9f-{r:03d}", namespace, spec=copy.deepcopy(spec)), i
            )
            if i % 20 == 0:
                pod["spec"]["containers"].append(
                    k.container("istio-proxy", security_context={"privileged": True})
                )
            alone.append(copy.deepcopy(pod))
            owned.append(k.owned(pod, rs))
    return owned, alone


def measure(root: Path, name: str, objects: list[dict[str, Any]]) -> tuple[float, float, int, int]:
    """(collect seconds, evaluate seconds, workload resources, results)."""
    snap, findings, collecting, evaluating = run_pod_controls(root, name, objects)
    return collecting, evaluating, len(snap.resources), len(findings)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pods", type=int, default=10_000)
    ap.add_argument("--replicas", type=int, default=20)
    args = ap.parse_args()
    owned, alone = cluster(args.pods, args.replicas)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bare = measure(root, "alone", alone)
        folded = measure(root, "folded", owned)
    print(f"{'':24}{'pods alone':>14}{'with owners':>14}")
    print(f"{'workload resources':24}{bare[2]:>14,}{folded[2]:>14,}")
    print(f"{'results':24}{bare[3]:>14,}{folded[3]:>14,}")
    print(f"{'read dump + collect':24}{bare[0]:>13.2f}s{folded[0]:>13.2f}s")
    print(f"{'evaluate':24}{bare[1]:>13.2f}s{folded[1]:>13.2f}s")
    print(f"{'total':24}{bare[0] + bare[1]:>13.2f}s{folded[0] + folded[1]:>13.2f}s")
    print(
        f"with owners / pods alone: collect {folded[0] / bare[0]:.2f}x "
        f"({len(owned) - len(alone):,} more objects to read), results {folded[3] / bare[3]:.1%}, "
        f"total {(folded[0] + folded[1]) / (bare[0] + bare[1]):.2f}x (target <= 1.00x)"
    )


if __name__ == "__main__":
    main()
