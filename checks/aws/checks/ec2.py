"""EC2 checks over `aws.ec2.security_group`: administrative ports open to the internet."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assay.checks.aws.collect.ec2 import SECURITY_GROUP
from assay.checks.registry import check
from assay.checks.result import Result, attribute

_INTERNET = ("0.0.0.0/0", "::/0")


class IngressParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ports: list[int] = Field(
        default=[22, 3389, 5432],
        description="TCP ports that must not be open to the internet (all ports never may).",
    )


@check(
    "aws.ec2.no_public_admin_ingress",
    resource=SECURITY_GROUP,
    params=IngressParams,
    permissions=["ec2:DescribeSecurityGroups"],
    reads=["ingress"],
)
def no_public_admin_ingress(resource: dict[str, Any], params: IngressParams) -> Result:
    """Fail when a rule lets 0.0.0.0/0 or ::/0 reach all ports, or a TCP port in
    `params.ports` (a range covering one counts)."""
    problems: list[str] = []
    for rule in attribute(resource, "ingress"):
        sources = [c for c in rule["ipv4"] + rule["ipv6"] if c in _INTERNET]
        if not sources:
            continue
        protocol = str(rule["protocol"]).lower()
        low, high = rule["from_port"], rule["to_port"]
        everything = protocol in ("-1", "all") or (
            protocol in ("tcp", "6") and (low in (None, 0, -1)) and high in (None, 65535, -1)
        )
        if everything:
            problems.append(f"all ports from {', '.join(sources)}")
            continue
        if protocol not in ("tcp", "6") or low is None or high is None:
            continue
        exposed = [p for p in params.ports if low <= p <= high]
        if exposed:
            problems.append(
                f"TCP {', '.join(map(str, exposed))} from {', '.join(sources)} (rule {low}-{high})"
            )
    if problems:
        return Result.failed(
            f"ingress is open to the internet: {'; '.join(problems)}", ingress_open=problems
        )
    return Result.passed(
        f"no ingress rule opens all ports or TCP {', '.join(map(str, params.ports))} "
        "to the internet"
    )
