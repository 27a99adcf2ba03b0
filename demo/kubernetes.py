"""The demo's Kubernetes: the manifests shipped in `assay.examples` (``k8s/demo-cluster``)."""

from pathlib import Path
from typing import Any

from assay.examples import examples_root

DEMO_CLUSTER = "demo"


def k8s_demo_target(name: str = "demo-k8s") -> dict[str, Any]:
    """Target options for the manifests shipped in `assay.examples` (``k8s/demo-cluster``):
    a small cluster's worth of objects, some compliant and some not."""
    return {
        "name": name,
        "provider": "k8s",
        "manifests": str(Path(str(examples_root())) / "k8s" / "demo-cluster"),
        "cluster": DEMO_CLUSTER,
    }
