"""Per-resource verdicts over snapshots: S3 Block Public Access per bucket, CloudTrail per
trail, and IAM users judged over their effective policies."""

from __future__ import annotations

from typing import Any

import pytest
from aws_snapshots import judge

from assay.checks import Status, collection_error

DENIED = collection_error("AccessDenied", "denied", "x:Y")
ON = dict.fromkeys(
    ("block_public_acls", "ignore_public_acls", "block_public_policy", "restrict_public_buckets"),
    True,
)


def flags(**off: bool) -> dict[str, bool]:
    return {**ON, **off}


@pytest.mark.parametrize(
    ("bucket", "account", "status", "off"),
    [
        (ON, None, Status.PASS, None),
        (ON, DENIED, Status.PASS, None),  # the account is not needed
        (None, ON, Status.PASS, None),
        (flags(ignore_public_acls=False), flags(block_public_acls=False), Status.PASS, None),
        (None, None, Status.FAIL, list(ON)),
        (
            flags(restrict_public_buckets=False),
            flags(restrict_public_buckets=False, ignore_public_acls=False),
            Status.FAIL,
            ["restrict_public_buckets"],
        ),
        (None, DENIED, Status.ERROR, None),
        (DENIED, ON, Status.ERROR, None),
    ],
)
def test_bucket_block_public_access_takes_the_account_setting_into_account(
    bucket: Any, account: Any, status: Status, off: list[str] | None
) -> None:
    result = judge(
        "aws-s3-bucket-public-access-block",
        {"public_access_block": bucket, "account_public_access_block": account},
    )
    assert result.status is status, result.reason
    if status is Status.FAIL:
        assert result.observed["off"] == off
        assert result.observed["account"] == account and result.observed["bucket"] == bucket
    if status is Status.PASS and bucket != ON:
        assert "through the account" in result.reason
        assert result.observed["account"] == account


def trail(**changes: Any) -> dict[str, Any]:
    base = {
        "home_region": "us-east-1",
        "multi_region": True,
        "log_file_validation": True,
        "organization": False,
        "logging": True,
        "kms_key_id": "arn:aws:kms:us-east-1:123456789012:key/k",
        "cloudwatch_logs_log_group_arn": "arn:aws:logs:us-east-1:123456789012:log-group:g:*",
        "s3_bucket": "trail-logs",
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    ("control", "attribute", "bad"),
    [
        ("aws-cloudtrail-trail-logging", "logging", False),
        ("aws-cloudtrail-trail-multi-region", "multi_region", False),
        ("aws-cloudtrail-trail-log-validation", "log_file_validation", False),
        ("aws-cloudtrail-trail-kms", "kms_key_id", None),
        ("aws-cloudtrail-trail-cloudwatch-logs", "cloudwatch_logs_log_group_arn", None),
    ],
)
def test_each_trail_is_judged_on_its_own_settings(control: str, attribute: str, bad: Any) -> None:
    assert judge(control, trail()).status is Status.PASS
    failed = judge(control, trail(**{attribute: bad}))
    assert failed.status is Status.FAIL and failed.reason.startswith(attribute)
    assert judge(control, trail(**{attribute: DENIED})).status is Status.ERROR


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource, **extra}],
    }


def held(policy: str, via: str, document: Any, arn: str | None = None) -> dict[str, Any]:
    return {"policy": policy, "arn": arn, "via": via, "document": document}


def user(*policies: dict[str, Any]) -> dict[str, Any]:
    return {"policies": list(policies)}


SCOPED = held("read-reports", "attached", allow("s3:GetObject", "arn:aws:s3:::reports/*"))


@pytest.mark.parametrize(
    ("policies", "granting"),
    [
        ([held("break-glass", "inline", allow("*"))], "break-glass (inline)"),
        ([held("admin", "attached", allow(["s3:*", "*:*"]))], "admin (attached)"),
        ([SCOPED, held("iam-ops", "group ops", allow("iam:*"))], "iam-ops (group ops)"),
        ([held("sneaky", "inline", allow("iam:put*policy"))], "sneaky (inline)"),
        (
            [
                held(
                    "all-but-s3",
                    "inline",
                    {"Statement": {"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}},
                )
            ],
            "all-but-s3 (inline)",
        ),
        (
            [
                held(
                    "AdministratorAccess",
                    "group admins",
                    allow("*"),
                    "arn:aws:iam::aws:policy/AdministratorAccess",
                ),
                held("unreadable", "attached", DENIED),
            ],
            "AdministratorAccess (group admins)",
        ),
    ],
)
def test_a_user_holding_administrator_power_fails_naming_the_policy(
    policies: list[dict[str, Any]], granting: str
) -> None:
    result = judge("aws-iam-user-no-admin-privileges", user(*policies))
    assert result.status is Status.FAIL, result.reason
    assert granting in result.reason
    [grant] = result.observed["grants"]
    assert f"{grant['policy']} ({grant['via']})" == granting


@pytest.mark.parametrize(
    "policies",
    [
        [],
        [SCOPED],
        # iam:* scoped to one path, or a Deny: not a standing grant on every resource.
        [held("self", "inline", allow("iam:*", "arn:aws:iam::123456789012:user/me"))],
        [
            held(
                "deny",
                "inline",
                {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]},
            )
        ],
        [held("read-iam", "inline", allow(["iam:Get*", "iam:List*"]))],
        [
            held(
                "all-but-iam",
                "inline",
                {"Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}},
            )
        ],
    ],
)
def test_a_user_without_administrator_power_passes(policies: list[dict[str, Any]]) -> None:
    result = judge("aws-iam-user-no-admin-privileges", user(*policies))
    assert result.status is Status.PASS, result.reason


def test_an_unreadable_policy_is_an_error_not_a_pass() -> None:
    result = judge(
        "aws-iam-user-no-admin-privileges",
        user(SCOPED, held("AdministratorAccess", "attached", DENIED)),
    )
    assert result.status is Status.ERROR
    assert "missing permission x:Y" in result.reason
    assert judge("aws-iam-user-no-admin-privileges", {"policies": DENIED}).status is Status.ERROR
