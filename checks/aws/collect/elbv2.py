"""Elastic Load Balancing v2: the `aws.elbv2.load_balancer` collector (ALB and NLB)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from assay.checks.aws.provider import DESCRIBE_REGIONS, AwsConnection
from assay.checks.aws.reading import paginate, read_attribute
from assay.checks.registry import collector, not_collected
from assay.checks.result import ERROR_KEY

LOAD_BALANCER = "aws.elbv2.load_balancer"
_LIST = "elasticloadbalancing:DescribeLoadBalancers"
_LISTENERS = "elasticloadbalancing:DescribeListeners"
_ATTRIBUTES = "elasticloadbalancing:DescribeLoadBalancerAttributes"
_POLICIES = "elasticloadbalancing:DescribeSSLPolicies"
_ATTRIBUTE_NAMES = frozenset({"listeners", "access_logs", "deletion_protection"})


@collector(
    LOAD_BALANCER,
    permissions=[_LIST, DESCRIBE_REGIONS],
    attributes={
        "listeners": (_LISTENERS, _POLICIES),
        "access_logs": (_ATTRIBUTES,),
        "deletion_protection": (_ATTRIBUTES,),
    },
)
def collect_load_balancers(
    conn: AwsConnection, wanted: frozenset[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Every application and network load balancer in each target region.

    Attributes: `type` (``application``, ``network``, ``gateway``), `scheme`, `listeners`
    (``[{"port", "protocol", "ssl_policy", "ssl_protocols", "redirects_to_https"}]``;
    `ssl_protocols` are the TLS versions the listener's security policy allows, as
    ``describe_ssl_policies`` lists them, so a policy is judged by what it allows and not
    by its name), `access_logs` and `deletion_protection` (bools). Listeners and the load
    balancer's attributes are read only when wanted (None: always).
    """
    items = conn.listed_per_region("elbv2", "describe_load_balancers", "LoadBalancers", _LIST)
    yield from conn.parallel(partial(_load_balancer, conn, wanted), items)


def _ssl_protocols(conn: AwsConnection, region: str) -> Any:
    def read() -> Any:
        client = conn.client("elbv2", region)
        return read_attribute(
            lambda: paginate(client, "describe_ssl_policies", "SslPolicies", _POLICIES),
            lambda found: {p["Name"]: sorted(p.get("SslProtocols", [])) for p in found},
            permission=_POLICIES,
        )

    return conn.shared(f"elbv2.ssl_policies.{region}", read)


def _load_balancer(
    conn: AwsConnection, wanted: frozenset[str] | None, item: tuple[str, dict[str, Any]]
) -> dict[str, Any]:
    region, lb = item
    client = conn.client("elbv2", region)
    arn = lb["LoadBalancerArn"]
    want = _ATTRIBUTE_NAMES if wanted is None else wanted
    if "listeners" not in want:
        listeners: Any = not_collected("listeners")
    else:
        listeners = read_attribute(
            lambda: paginate(
                client, "describe_listeners", "Listeners", _LISTENERS, LoadBalancerArn=arn
            ),
            lambda found: [_listener(conn, region, listener) for listener in found],
            permission=_LISTENERS,
        )
    logs: Any = not_collected("access_logs")
    protection: Any = not_collected("deletion_protection")
    if want & {"access_logs", "deletion_protection"}:
        attributes = read_attribute(
            partial(client.describe_load_balancer_attributes, LoadBalancerArn=arn),
            lambda found: {a["Key"]: a.get("Value") for a in found.get("Attributes", [])},
            permission=_ATTRIBUTES,
        )
        if ERROR_KEY in attributes:
            logs = protection = attributes
        else:
            logs = attributes.get("access_logs.s3.enabled") == "true"
            protection = attributes.get("deletion_protection.enabled") == "true"
    return {
        "type": LOAD_BALANCER,
        "id": arn,
        "name": lb["LoadBalancerName"],
        "scope": conn.scope(region),
        "attributes": {
            "type": lb.get("Type", "application"),
            "scheme": lb.get("Scheme"),
            "listeners": listeners,
            "access_logs": logs,
            "deletion_protection": protection,
        },
    }


def _listener(conn: AwsConnection, region: str, listener: dict[str, Any]) -> dict[str, Any]:
    policy = listener.get("SslPolicy")
    protocols: Any = None
    if policy:
        known = _ssl_protocols(conn, region)
        protocols = known if ERROR_KEY in known else known.get(policy)
    redirect = any(
        action.get("Type") == "redirect"
        and action.get("RedirectConfig", {}).get("Protocol") == "HTTPS"
        for action in listener.get("DefaultActions", [])
    )
    return {
        "port": listener.get("Port"),
        "protocol": listener.get("Protocol"),
        "ssl_policy": policy,
        "ssl_protocols": protocols,
        "redirects_to_https": redirect,
    }
