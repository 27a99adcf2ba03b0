"""The S3 checks over hand-built bucket and account snapshots."""

from __future__ import annotations

from typing import Any

import pytest
from aws_snapshots import judge, snapshot
from pydantic import ValidationError

from assay.checks import MissingEvidence, Status, collection_error, registry
from assay.checks.aws.checks.s3 import (
    DefaultEncryptionParams,
    VersioningParams,
    account_public_access_block,
    bucket_not_public,
    default_encryption,
    secure_transport,
    versioning,
)
from assay.checks.registry import NoParams

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ALL_ON = dict.fromkeys(
    ("block_public_acls", "ignore_public_acls", "block_public_policy", "restrict_public_buckets"),
    True,
)
DENIED = collection_error("AccessDenied", "Access Denied", "s3:GetBucketAcl")
PUBLIC_READ = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Open",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "*",
        }
    ],
}
TLS_ONLY = {
    "Statement": [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]
}


def bucket(**attributes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "region": "us-east-1",
        "encryption": None,
        "versioning": None,
        "tags": {},
        "policy": None,
        "acl_public_grants": [],
        "public_access_block": None,
        "account_public_access_block": None,
        "logging": None,
    }
    return {
        "type": "aws.s3.bucket",
        "id": "arn:aws:s3:::logs",
        "name": "logs",
        "scope": {"provider": "aws", "account": "123456789012", "region": "us-east-1"},
        "attributes": {**base, **attributes},
    }


def rules(*algorithms: str) -> dict[str, Any]:
    return {
        "rules": [
            {
                "algorithm": a,
                "kms_key_id": KEY if a.startswith("aws:kms") else None,
                "bucket_key": False,
            }
            for a in algorithms
        ]
    }


def test_every_s3_check_is_registered_with_permissions_for_its_resource() -> None:
    names = {
        "aws.s3.default_encryption": "aws.s3.bucket",
        "aws.s3.versioning": "aws.s3.bucket",
        "aws.s3.bucket_not_public": "aws.s3.bucket",
        "aws.s3.secure_transport": "aws.s3.bucket",
        "aws.s3.access_logging": "aws.s3.bucket",
        "aws.s3.account_public_access_block": "aws.s3.account",
    }
    for name, resource in names.items():
        spec = registry.get_check(name)
        assert spec.resource == resource and spec.permissions, name
    assert (
        "s3:GetEncryptionConfiguration"
        in registry.get_check("aws.s3.default_encryption").permissions
    )


def test_sse_kms_passes_and_reports_the_key() -> None:
    result = default_encryption(bucket(encryption=rules("aws:kms")), DefaultEncryptionParams())
    assert result.status is Status.PASS
    assert result.observed == {"algorithm": "aws:kms", "kms_key_id": KEY}


def test_sse_s3_passes_with_the_default_algorithms() -> None:
    result = default_encryption(bucket(encryption=rules("AES256")), DefaultEncryptionParams())
    assert result.status is Status.PASS
    assert "AES256" in result.reason


def test_no_default_encryption_fails_saying_so() -> None:
    result = default_encryption(bucket(), DefaultEncryptionParams())
    assert result.status is Status.FAIL
    assert "no default encryption" in result.reason
    assert result.observed == {"encryption": None}


def test_an_algorithm_outside_the_allowed_list_fails_naming_both() -> None:
    params = DefaultEncryptionParams(algorithms=["aws:kms"])
    result = default_encryption(bucket(encryption=rules("AES256")), params)
    assert result.status is Status.FAIL
    assert "AES256" in result.reason and "aws:kms" in result.reason
    assert result.observed == {"algorithms": ["AES256"], "allowed": ["aws:kms"]}


def test_any_allowed_rule_is_enough() -> None:
    params = DefaultEncryptionParams(algorithms=["aws:kms:dsse"])
    result = default_encryption(bucket(encryption=rules("AES256", "aws:kms:dsse")), params)
    assert result.status is Status.PASS
    assert result.observed["algorithm"] == "aws:kms:dsse"


def test_an_uncollected_encryption_raises_missing_evidence() -> None:
    marker = collection_error("AccessDenied", "Access Denied", "s3:GetEncryptionConfiguration")
    with pytest.raises(MissingEvidence, match="s3:GetEncryptionConfiguration"):
        default_encryption(bucket(encryption=marker), DefaultEncryptionParams())


RECORDS = {"data-class": "records"}


@pytest.mark.parametrize(
    ("tags", "state", "params", "status"),
    [
        (RECORDS, "Enabled", {}, Status.PASS),
        (RECORDS, "Suspended", {}, Status.FAIL),
        (RECORDS, None, {}, Status.FAIL),
        ({}, None, {}, Status.NOT_APPLICABLE),
        ({"data-class": "scratch"}, None, {}, Status.NOT_APPLICABLE),
        ({}, None, {"all_buckets": True}, Status.FAIL),
        ({"keep": "yes"}, "Enabled", {"record_tags": {"keep": "yes"}}, Status.PASS),
    ],
)
def test_versioning_applies_to_buckets_tagged_as_records(
    tags: dict[str, str], state: str | None, params: dict[str, Any], status: Status
) -> None:
    result = versioning(bucket(tags=tags, versioning=state), VersioningParams(**params))
    assert result.status is status
    if status is Status.FAIL:
        assert "versioning is" in result.reason and result.observed == {"versioning": state}


def test_a_suspended_record_bucket_says_which_tag_made_it_one() -> None:
    result = versioning(bucket(tags=RECORDS, versioning="Suspended"), VersioningParams())
    assert result.reason == "versioning is Suspended (tagged data-class=records)"


def test_a_private_bucket_passes_without_reading_block_public_access() -> None:
    private = bucket(public_access_block=DENIED, account_public_access_block=DENIED)
    assert bucket_not_public(private, NoParams()).status is Status.PASS


def test_a_public_acl_grant_fails_naming_grantee_and_permission() -> None:
    grants = [{"grantee": "AllUsers", "permission": "READ"}]
    result = bucket_not_public(bucket(acl_public_grants=grants), NoParams())
    assert result.status is Status.FAIL
    assert result.reason == "the ACL grants READ to AllUsers"
    assert result.observed == {"acl_public_grants": grants}


def test_a_public_policy_fails_naming_the_statement() -> None:
    result = bucket_not_public(bucket(policy=PUBLIC_READ), NoParams())
    assert result.status is Status.FAIL
    assert "bucket policy allows anyone (statement 'Open')" in result.reason


@pytest.mark.parametrize("level", ["public_access_block", "account_public_access_block"])
def test_block_public_access_at_either_level_neutralises_public_grants(level: str) -> None:
    grants = [{"grantee": "AuthenticatedUsers", "permission": "WRITE"}]
    exposed = bucket(acl_public_grants=grants, policy=PUBLIC_READ, **{level: ALL_ON})
    result = bucket_not_public(exposed, NoParams())
    assert result.status is Status.PASS
    half = {**ALL_ON, "restrict_public_buckets": False}
    result = bucket_not_public(
        bucket(acl_public_grants=grants, policy=PUBLIC_READ, **{level: half}), NoParams()
    )
    assert result.status is Status.FAIL
    assert "ACL" not in result.reason and "bucket policy" in result.reason


def test_public_grants_with_unreadable_block_public_access_are_an_error() -> None:
    marker = collection_error("AccessDenied", "denied", "s3:GetBucketPublicAccessBlock")
    exposed = bucket(policy=PUBLIC_READ, public_access_block=marker)
    with pytest.raises(MissingEvidence, match="s3:GetBucketPublicAccessBlock"):
        bucket_not_public(exposed, NoParams())


def test_an_unreadable_acl_is_an_error() -> None:
    with pytest.raises(MissingEvidence, match="s3:GetBucketAcl"):
        bucket_not_public(bucket(acl_public_grants=DENIED), NoParams())


def test_secure_transport_passes_with_a_tls_denial_and_fails_without() -> None:
    result = secure_transport(bucket(policy=TLS_ONLY), NoParams())
    assert result.status is Status.PASS
    assert result.observed == {"statements": ["statement 'DenyInsecureTransport'"]}
    no_policy = secure_transport(bucket(), NoParams())
    assert no_policy.status is Status.FAIL
    assert no_policy.reason.startswith("the bucket has no policy")
    other = secure_transport(bucket(policy=PUBLIC_READ), NoParams())
    assert other.status is Status.FAIL
    assert "no Deny for aws:SecureTransport = false" in other.reason


def test_access_logging() -> None:
    target = {"target_bucket": "access-logs", "target_prefix": "logs/"}
    on = judge("aws-s3-access-logging", bucket(logging=target)["attributes"])
    assert on.status is Status.PASS
    assert on.reason == "server access logs go to s3://access-logs/logs/"
    off = judge("aws-s3-access-logging", bucket()["attributes"])
    assert (off.status, off.reason) == (Status.FAIL, "server access logging is off")
    denied = collection_error("AccessDenied", "Access Denied", "s3:GetBucketLogging")
    error = judge("aws-s3-access-logging", bucket(logging=denied)["attributes"])
    assert error.status is Status.ERROR and "s3:GetBucketLogging" in error.reason


def test_account_block_public_access_needs_all_four() -> None:
    def account(flags: Any) -> dict[str, Any]:
        return snapshot("aws.s3.account", {"public_access_block": flags})

    assert account_public_access_block(account(ALL_ON), NoParams()).status is Status.PASS
    partial = {**ALL_ON, "ignore_public_acls": False, "restrict_public_buckets": False}
    result = account_public_access_block(account(partial), NoParams())
    assert result.status is Status.FAIL
    assert result.reason == "ignore_public_acls, restrict_public_buckets are off"
    none = account_public_access_block(account(None), NoParams())
    assert none.status is Status.FAIL and "no Block Public Access configuration" in none.reason


@pytest.mark.parametrize(
    ("model", "params", "field"),
    [
        (DefaultEncryptionParams, {"algorithms": []}, "algorithms"),
        (DefaultEncryptionParams, {"algoritms": ["AES256"]}, "algoritms"),
        (VersioningParams, {"record_tags": ["records"]}, "record_tags"),
        (VersioningParams, {"all": True}, "all"),
    ],
)
def test_bad_params_are_rejected_naming_the_field(
    model: type[Any], params: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(params)
    assert caught.value.errors()[0]["loc"] == (field,)
