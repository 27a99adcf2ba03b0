"""ACM: the `aws.acm.certificate` collector."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from assay.checks.aws.provider import DESCRIBE_REGIONS, AwsConnection
from assay.checks.aws.reading import timestamp
from assay.checks.registry import collector

CERTIFICATE = "aws.acm.certificate"
_LIST = "acm:ListCertificates"
# ListCertificates returns only ISSUED certificates unless asked for the others.
_STATUSES = [
    "PENDING_VALIDATION",
    "ISSUED",
    "INACTIVE",
    "EXPIRED",
    "VALIDATION_TIMED_OUT",
    "REVOKED",
    "FAILED",
]


@collector(CERTIFICATE, permissions=[_LIST, DESCRIBE_REGIONS])
def collect_certificates(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """Every certificate in each target region, from one list per region.

    Attributes: `domain`, `status`, `type` (``AMAZON_ISSUED``, ``IMPORTED``...),
    `not_after` (RFC 3339, or None before issue), `in_use` (bool) and `renewal_eligibility`.
    """
    for region, cert in conn.listed_per_region(
        "acm", "list_certificates", "CertificateSummaryList", _LIST, CertificateStatuses=_STATUSES
    ):
        yield {
            "type": CERTIFICATE,
            "id": cert["CertificateArn"],
            "name": cert.get("DomainName") or cert["CertificateArn"].rsplit("/", 1)[-1],
            "scope": conn.scope(region),
            "attributes": {
                "domain": cert.get("DomainName"),
                "status": cert.get("Status"),
                "type": cert.get("Type"),
                "not_after": timestamp(cert.get("NotAfter")),
                "in_use": bool(cert.get("InUse", False)),
                "renewal_eligibility": cert.get("RenewalEligibility"),
            },
        }
