"""CloudFront: the `aws.cloudfront.distribution` collector (a global service)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from assay.checks.aws.provider import DEFAULT_REGION, GLOBAL_REGION, AwsConnection
from assay.checks.aws.reading import listing, read_attribute
from assay.checks.registry import collector, read_if_wanted

DISTRIBUTION = "aws.cloudfront.distribution"
_LIST = "cloudfront:ListDistributions"
_CONFIG = "cloudfront:GetDistributionConfig"


@collector(DISTRIBUTION, permissions=[_LIST], attributes={"logging": (_CONFIG,)})
def collect_distributions(
    conn: AwsConnection, wanted: frozenset[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Every distribution of the account, whatever the target's regions.

    Attributes: `viewer_protocol_policies` (of the default and every other cache behaviour:
    ``allow-all``, ``redirect-to-https``, ``https-only``), `minimum_protocol_version` (of
    the viewer certificate; CloudFront's default certificate allows TLSv1, reported as
    ``TLSv1``), `origins` (``[{"id", "domain", "protocol_policy", "ssl_protocols"}]``;
    `protocol_policy` is ``s3`` for an S3 origin), `logging` (bool, from the distribution's
    configuration, read only when wanted; None: always) and `web_acl_id` (None when no WAF
    web ACL is attached).
    """
    client = conn.client("cloudfront", DEFAULT_REGION)
    with listing(_LIST):
        pages = client.get_paginator("list_distributions").paginate()
        listed = [d for page in pages for d in page.get("DistributionList", {}).get("Items", [])]
    yield from conn.parallel(partial(_distribution, conn, wanted), listed)


def _distribution(
    conn: AwsConnection, wanted: frozenset[str] | None, summary: dict[str, Any]
) -> dict[str, Any]:
    client = conn.client("cloudfront", DEFAULT_REGION)
    logging = read_if_wanted(
        wanted,
        "logging",
        lambda: read_attribute(
            partial(client.get_distribution_config, Id=summary["Id"]),
            lambda found: bool(found["DistributionConfig"].get("Logging", {}).get("Enabled")),
            permission=_CONFIG,
        ),
    )
    behaviours = [summary.get("DefaultCacheBehavior", {})]
    behaviours += summary.get("CacheBehaviors", {}).get("Items", [])
    certificate = summary.get("ViewerCertificate", {})
    # With only CloudFront's default certificate, viewers may use TLSv1 whatever the
    # field says; a custom certificate (ACM or IAM) makes MinimumProtocolVersion apply.
    custom = certificate.get("ACMCertificateArn") or certificate.get("IAMCertificateId")
    minimum = (
        certificate.get("MinimumProtocolVersion")
        if custom or not certificate.get("CloudFrontDefaultCertificate", False)
        else "TLSv1"
    )
    return {
        "type": DISTRIBUTION,
        "id": summary["ARN"],
        "name": summary["Id"],
        "scope": conn.scope(GLOBAL_REGION),
        "attributes": {
            "domain": summary.get("DomainName"),
            "viewer_protocol_policies": [b.get("ViewerProtocolPolicy") for b in behaviours],
            "minimum_protocol_version": minimum,
            "origins": [_origin(o) for o in summary.get("Origins", {}).get("Items", [])],
            "logging": logging,
            "web_acl_id": summary.get("WebACLId") or None,
        },
    }


def _origin(origin: dict[str, Any]) -> dict[str, Any]:
    custom = origin.get("CustomOriginConfig")
    return {
        "id": origin.get("Id"),
        "domain": origin.get("DomainName"),
        "protocol_policy": custom.get("OriginProtocolPolicy") if custom else "s3",
        "ssl_protocols": custom.get("OriginSslProtocols", {}).get("Items", []) if custom else [],
    }
