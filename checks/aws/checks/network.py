"""Load balancer checks over `aws.elbv2.load_balancer`: TLS policies and HTTP redirects."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assay.checks.aws.collect.elbv2 import LOAD_BALANCER
from assay.checks.registry import check
from assay.checks.result import ERROR_KEY, Result, attribute, describe_error

_PERMISSIONS = [
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeListeners",
]
_TLS = ("HTTPS", "TLS")


class TlsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allowed_protocols: list[str] = Field(
        default=["TLSv1.2", "TLSv1.3"],
        min_length=1,
        description="Protocol versions a listener's security policy may allow (as "
        "describe_ssl_policies names them).",
    )
    require_tls13: bool = Field(
        default=False, description="Also require the policy to offer TLSv1.3."
    )


@check(
    "aws.elbv2.tls_listeners",
    resource=LOAD_BALANCER,
    params=TlsParams,
    permissions=[*_PERMISSIONS, "elasticloadbalancing:DescribeSSLPolicies"],
    reads=["listeners"],
)
def tls_listeners(resource: dict[str, Any], params: TlsParams) -> Result:
    """Pass when every HTTPS/TLS listener's security policy allows only
    `allowed_protocols` (and TLSv1.3 when `require_tls13`); a load balancer with no such
    listener is not_applicable. Policies are judged by the protocols they allow."""
    listeners = [x for x in attribute(resource, "listeners") if x["protocol"] in _TLS]
    if not listeners:
        return Result.not_applicable("the load balancer has no HTTPS or TLS listener")
    bad: list[str] = []
    for listener in listeners:
        where = f"port {listener['port']} ({listener['ssl_policy']})"
        protocols = listener["ssl_protocols"]
        if isinstance(protocols, dict) and ERROR_KEY in protocols:
            return Result.error(
                f"the policy of {where} could not be read: {describe_error(protocols)}"
            )
        if protocols is None:
            return Result.error(
                f"{where}: the policy is not among those describe_ssl_policies lists"
            )
        extra = [p for p in protocols if p not in params.allowed_protocols]
        if extra:
            bad.append(f"{where} allows {', '.join(extra)}")
        elif params.require_tls13 and "TLSv1.3" not in protocols:
            bad.append(f"{where} does not offer TLSv1.3")
    observed = {
        "listeners": [
            {"port": x["port"], "ssl_policy": x["ssl_policy"], "ssl_protocols": x["ssl_protocols"]}
            for x in listeners
        ]
    }
    if bad:
        return Result.failed("; ".join(bad), **observed)
    return Result.passed(
        f"every TLS listener allows only {', '.join(params.allowed_protocols)}", **observed
    )


@check(
    "aws.elbv2.http_redirects",
    resource=LOAD_BALANCER,
    permissions=_PERMISSIONS,
    reads=["listeners"],
)
def http_redirects(resource: dict[str, Any], params: Any) -> Result:
    """Pass when every plain-HTTP listener redirects to HTTPS; a load balancer with no HTTP
    listener is not_applicable (network load balancers speak TCP/TLS)."""
    plain = [x for x in attribute(resource, "listeners") if x["protocol"] == "HTTP"]
    if not plain:
        return Result.not_applicable("the load balancer has no plain-HTTP listener")
    serving = [x["port"] for x in plain if not x["redirects_to_https"]]
    if serving:
        return Result.failed(
            f"HTTP listener on port {', '.join(map(str, serving))} serves without redirecting "
            "to HTTPS",
            ports=serving,
        )
    return Result.passed("every HTTP listener redirects to HTTPS", ports=[x["port"] for x in plain])
