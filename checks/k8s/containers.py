"""The containers of a PodSpec: regular, init and ephemeral, with a label for each.

Shared by the `k8s.workload` collector, which redacts every container's env, command
and args, and the workload checks, which judge every container.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# Init and ephemeral containers run in the pod with the same powers: all are judged.
CONTAINER_FIELDS = (
    ("containers", "container"),
    ("initContainers", "initContainer"),
    ("ephemeralContainers", "ephemeralContainer"),
)


def containers(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(``"initContainer setup"``, container) for every container of every kind in `spec`."""
    for field, label in CONTAINER_FIELDS:
        for c in spec.get(field) or ():
            if isinstance(c, dict):
                yield f"{label} {c.get('name', '?')}", c
