"""The stack's check functions over snapshots: the edges moto's seeded account does not
reach (TLS 1.3 on request, version tables, expired certificates, unreadable details)."""

from __future__ import annotations

from typing import Any

import pytest
from aws_snapshots import judge, snapshot

from assay.checks import Status, collection_error
from assay.checks.aws.checks.network import TlsParams, tls_listeners
from assay.testing import run_check

DENIED = collection_error("AccessDenied", "denied", "x:Y")
TLS12 = ["TLSv1.2"]
TLS13 = ["TLSv1.2", "TLSv1.3"]


def listener(
    protocol: str, port: int, protocols: Any = None, redirect: bool = False
) -> dict[str, Any]:
    return {
        "port": port,
        "protocol": protocol,
        "ssl_policy": "policy" if protocols is not None else None,
        "ssl_protocols": protocols,
        "redirects_to_https": redirect,
    }


def lb(*listeners: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "application",
        "scheme": "internet-facing",
        "listeners": list(listeners),
        "access_logs": True,
        "deletion_protection": True,
    }


@pytest.mark.parametrize(
    ("listeners", "status"),
    [
        ([listener("HTTPS", 443, TLS13)], Status.PASS),
        ([listener("HTTPS", 443, TLS12), listener("TLS", 8443, TLS13)], Status.PASS),
        ([listener("HTTPS", 443, ["TLSv1", "TLSv1.1", "TLSv1.2"])], Status.FAIL),
        (
            [listener("HTTPS", 443, TLS13), listener("HTTPS", 8443, ["TLSv1.1", "TLSv1.2"])],
            Status.FAIL,
        ),
        ([listener("HTTP", 80, redirect=True)], Status.NOT_APPLICABLE),
        ([listener("HTTPS", 443, DENIED)], Status.ERROR),
        ([listener("HTTPS", 443, None) | {"ssl_policy": "gone"}], Status.ERROR),
    ],
)
def test_tls_listeners_are_judged_by_the_protocols_their_policy_allows(
    listeners: list[dict[str, Any]], status: Status
) -> None:
    result = judge("aws-elbv2-tls-policy", lb(*listeners))
    assert result.status is status, result.reason
    if status is Status.FAIL:
        assert "TLSv1.1" in result.reason and "allows" in result.reason


def test_tls_13_is_required_only_where_asked() -> None:
    only12 = run_check_params(lb(listener("HTTPS", 443, TLS12)), require_tls13=True)
    assert only12.status is Status.FAIL and "does not offer TLSv1.3" in only12.reason
    both = run_check_params(lb(listener("HTTPS", 443, TLS13)), require_tls13=True)
    assert both.status is Status.PASS


def run_check_params(attributes: dict[str, Any], **params: Any) -> Any:
    return tls_listeners(snapshot("aws.elbv2.load_balancer", attributes), TlsParams(**params))


@pytest.mark.parametrize(
    ("listeners", "status"),
    [
        ([listener("HTTP", 80, redirect=True), listener("HTTPS", 443, TLS13)], Status.PASS),
        ([listener("HTTP", 80), listener("HTTPS", 443, TLS13)], Status.FAIL),
        ([listener("HTTPS", 443, TLS13)], Status.NOT_APPLICABLE),
        (DENIED, Status.ERROR),
    ],
)
def test_http_listeners_must_redirect(listeners: Any, status: Status) -> None:
    attributes = lb() | {"listeners": listeners}
    assert judge("aws-elbv2-http-redirect", attributes).status is status


@pytest.mark.parametrize(
    ("version", "status"),
    [("1.35", Status.PASS), ("1.30", Status.FAIL), ("1.12", Status.ERROR)],
)
def test_eks_versions_are_dated_at_collection(version: str, status: Status) -> None:
    # aws_snapshots collects at 2026-06-30: 1.30 left standard support in 2025.
    result = judge("aws-eks-supported-version", {"version": version})
    assert result.status is status, result.reason


@pytest.mark.parametrize(
    ("runtime", "status"),
    [
        ("python3.12", Status.PASS),  # no announced deprecation
        ("python3.8", Status.FAIL),
        ("nodejs20.x", Status.FAIL),  # deprecated 2026-04-30, before the snapshot's date
        ("ruby3.2", Status.FAIL),
        (None, Status.NOT_APPLICABLE),  # a container image
    ],
)
def test_lambda_runtimes_are_dated_at_collection(runtime: str | None, status: Status) -> None:
    attributes = {"runtime": runtime, "package_type": "Zip", "policy": None, "url_auth_type": None}
    assert judge("aws-lambda-supported-runtime", attributes).status is status


PUBLIC = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction"}]}
ORG_ONLY = {
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "sqs:SendMessage",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}},
        }
    ]
}


@pytest.mark.parametrize(
    ("policy", "url", "status"),
    [
        (None, None, Status.PASS),
        (ORG_ONLY, "AWS_IAM", Status.PASS),
        (PUBLIC, None, Status.FAIL),
        (None, "NONE", Status.FAIL),
        (DENIED, None, Status.ERROR),
    ],
)
def test_lambda_exposure_through_policy_or_url(policy: Any, url: Any, status: Status) -> None:
    attributes = {
        "runtime": "python3.12",
        "package_type": "Zip",
        "policy": policy,
        "url_auth_type": url,
    }
    assert judge("aws-lambda-not-public", attributes).status is status


@pytest.mark.parametrize(
    "control", ["aws-sqs-not-public", "aws-sns-not-public", "aws-ecr-not-public"]
)
def test_resource_policies_open_to_anyone_fail(control: str) -> None:
    assert judge(control, {"policy": PUBLIC}).status is Status.FAIL
    assert judge(control, {"policy": ORG_ONLY}).status is Status.PASS
    assert judge(control, {"policy": None}).status is Status.PASS


def bucket(tags: dict[str, str], replication: Any, region: str = "us-east-1") -> dict[str, Any]:
    return {"region": region, "tags": tags, "replication": replication}


def rule(status: str = "Enabled", region: Any = "us-west-2") -> dict[str, Any]:
    return {"status": status, "destination_bucket": "replica", "destination_region": region}


@pytest.mark.parametrize(
    ("attributes", "status"),
    [
        (bucket({"dr": "critical"}, [rule()]), Status.PASS),
        (bucket({"dr": "critical"}, [rule("Disabled"), rule()]), Status.PASS),
        (bucket({"dr": "critical"}, None), Status.FAIL),
        (bucket({"dr": "critical"}, [rule(region="us-east-1")]), Status.FAIL),
        (bucket({"dr": "critical"}, [rule("Disabled")]), Status.FAIL),
        (bucket({"dr": "critical"}, [rule(region=DENIED)]), Status.ERROR),
        (bucket({"dr": "critical"}, DENIED), Status.ERROR),
        (bucket({"dr": "nice-to-have"}, None), Status.NOT_APPLICABLE),
    ],
)
def test_dr_buckets_replicate_out_of_their_region(
    attributes: dict[str, Any], status: Status
) -> None:
    assert judge("aws-s3-dr-replication", attributes).status is status


@pytest.mark.parametrize(
    ("enabled", "manager", "status"),
    [
        (True, "CUSTOMER", Status.PASS),
        (True, "AWS", Status.FAIL),
        (True, None, Status.FAIL),
        (False, None, Status.NOT_APPLICABLE),
        (True, DENIED, Status.ERROR),
    ],
)
def test_performance_insights_wants_a_customer_key(
    enabled: bool, manager: Any, status: Status
) -> None:
    attributes = {
        "performance_insights": enabled,
        "performance_insights_kms_key_id": "arn:aws:kms:us-east-1:123456789012:key/k"
        if enabled
        else None,
        "performance_insights_key_manager": manager,
    }
    assert judge("aws-rds-performance-insights-kms", attributes).status is status


@pytest.mark.parametrize(
    ("status_", "not_after", "status"),
    [
        ("ISSUED", "2026-12-31T00:00:00Z", Status.PASS),
        ("ISSUED", "2026-07-10T00:00:00Z", Status.FAIL),
        ("EXPIRED", "2026-06-01T00:00:00Z", Status.FAIL),
        ("PENDING_VALIDATION", None, Status.NOT_APPLICABLE),
    ],
)
def test_certificates_expiring_within_the_window_fail(
    status_: str, not_after: str | None, status: Status
) -> None:
    attributes = {
        "domain": "x.example",
        "status": status_,
        "type": "IMPORTED",
        "not_after": not_after,
        "in_use": True,
        "renewal_eligibility": "INELIGIBLE",
    }
    result = judge("aws-acm-certificate-expiry", attributes)
    assert result.status is status, result.reason
    if status is Status.FAIL and status_ == "EXPIRED":
        assert result.reason.startswith("the certificate expired 30 days ago")


@pytest.mark.parametrize(
    ("control", "attributes", "status"),
    [
        (
            "aws-elasticache-auth",
            {"auth_token_enabled": False, "user_group_ids": ["rbac"]},
            Status.PASS,
        ),
        ("aws-elasticache-auth", {"auth_token_enabled": False, "user_group_ids": []}, Status.FAIL),
        (
            "aws-eks-endpoint-restricted",
            {"endpoint_public": True, "public_access_cidrs": ["203.0.113.0/24"]},
            Status.PASS,
        ),
        (
            "aws-eks-endpoint-restricted",
            {"endpoint_public": True, "public_access_cidrs": ["0.0.0.0/0"]},
            Status.FAIL,
        ),
        ("aws-eks-control-plane-logging", {"log_types": ["api", "audit"]}, Status.FAIL),
        (
            "aws-cloudfront-origin-https",
            {"origins": [{"protocol_policy": "s3"}, {"protocol_policy": "https-only"}]},
            Status.PASS,
        ),
        (
            "aws-cloudfront-origin-https",
            {"origins": [{"protocol_policy": "match-viewer"}]},
            Status.FAIL,
        ),
        (
            "aws-config-recorder",
            {"recorders": [{"recording": True, "all_supported": False}]},
            Status.FAIL,
        ),
        (
            "aws-config-recorder",
            {"recorders": [{"recording": True, "all_supported": True}]},
            Status.PASS,
        ),
        ("aws-config-recorder", {"recorders": []}, Status.FAIL),
        ("aws-sqs-encrypted", {"kms_key_id": None, "sqs_managed_sse": False}, Status.FAIL),
        (
            "aws-sqs-encrypted",
            {"kms_key_id": "alias/aws/sqs", "sqs_managed_sse": False},
            Status.PASS,
        ),
        (
            "aws-iam-user-one-active-key",
            {"access_keys": [{"active": True}, {"active": False}]},
            Status.PASS,
        ),
        ("aws-iam-user-permissions-via-groups", {"policies": [{"via": "group ops"}]}, Status.PASS),
        ("aws-iam-user-permissions-via-groups", {"policies": [{"via": "attached"}]}, Status.FAIL),
    ],
)
def test_rule_controls_on_their_edges(
    control: str, attributes: dict[str, Any], status: Status
) -> None:
    assert judge(control, attributes).status is status


def test_run_check_reaches_the_stack_checks_by_name() -> None:
    resource = snapshot("aws.ecr.repository", {"policy": PUBLIC})
    assert run_check("aws.ecr.not_public", resource).status is Status.FAIL
