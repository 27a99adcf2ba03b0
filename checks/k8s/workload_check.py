"""The decorator every `k8s.workload` check registers with: verdicts that say which pods
they stand for.

A controller's verdict covers the Pods folded into it, so it says how many there were
(``; 3 pods match this template``, observed ``pods``) and which of its Pods differ and are
judged on their own (observed ``pods_judged_alone``). A Pod judged on its own although
its controller is in the input says how it differs from that controller's template
(``; differs from Deployment/api's template: container "istio-proxy" added
(privileged)``, observed ``differs_from`` and ``template_differences``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pydantic import BaseModel

from assay.checks.k8s.collect.workloads import PERMISSIONS, RESOURCE
from assay.checks.registry import check
from assay.checks.result import Result
from assay.words import counted

P = TypeVar("P", bound=BaseModel)
WorkloadCheck = Callable[[dict[str, Any], P], Result]

# Differences (or pod names) a reason lists before it says how many more; observed has all.
SHOWN = 3


def workload_check(
    name: str, *, params: type[P], permissions: Iterable[str] = PERMISSIONS
) -> Callable[[WorkloadCheck[P]], WorkloadCheck[P]]:
    """Register `(resource, params) -> Result` as the `k8s.workload` check `name`, its
    verdicts completed by `with_pods`."""

    def register(func: WorkloadCheck[P]) -> WorkloadCheck[P]:
        @functools.wraps(func)
        def judged(resource: dict[str, Any], bound: P) -> Result:
            return with_pods(resource, func(resource, bound))

        check(name, resource=RESOURCE, permissions=permissions, params=params)(judged)
        return judged

    return register


def with_pods(resource: dict[str, Any], result: Result) -> Result:
    """`result` saying which Pods it covers, or how the Pod differs from its template."""
    attrs = resource["attributes"]
    template, pods = attrs.get("template"), attrs.get("pods")
    if not template and not (pods and (pods["matching"] or pods["differing"])):
        return result  # the common case, kept cheap: a pod or controller alone
    reason, observed = result.reason, dict(result.observed)
    if template:
        found = template["differences"]
        reason += f"; differs from {template['controller']}'s template: {_first(found)}"
        observed.update(differs_from=template["controller"], template_differences=found)
    if pods and pods["matching"]:
        verb = "matches" if pods["matching"] == 1 else "match"
        reason += f"; {counted(pods['matching'], 'pod')} {verb} this template"
        observed["pods"] = pods["matching"]
    if pods and pods["differing"]:
        alone = pods["differing"]
        verb = "differs and is" if len(alone) == 1 else "differ and are"
        reason += f"; {counted(len(alone), 'pod')} {verb} judged alone: {_first(alone)}"
        observed["pods_judged_alone"] = alone
    return result.model_copy(update={"reason": reason, "observed": observed})


def _first(items: list[str]) -> str:
    shown = ", ".join(items[:SHOWN])
    return shown + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")
