"""aws.s3.default_encryption over hand-built bucket snapshots."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from assay.checks import MissingEvidence, Status, collection_error, registry
from assay.checks.aws.s3 import DefaultEncryptionParams, default_encryption

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def bucket(encryption: Any) -> dict[str, Any]:
    return {
        "type": "aws.s3.bucket",
        "id": "arn:aws:s3:::logs",
        "name": "logs",
        "scope": {"provider": "aws", "account": "123456789012", "region": "us-east-1"},
        "attributes": {"region": "us-east-1", "encryption": encryption, "versioning": None},
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


def test_is_registered_for_buckets_with_its_permissions() -> None:
    spec = registry.get_check("aws.s3.default_encryption")
    assert spec.func is default_encryption
    assert spec.resource == "aws.s3.bucket"
    assert "s3:GetEncryptionConfiguration" in spec.permissions


def test_sse_kms_passes_and_reports_the_key() -> None:
    result = default_encryption(bucket(rules("aws:kms")), DefaultEncryptionParams())
    assert result.status is Status.PASS
    assert result.observed == {"algorithm": "aws:kms", "kms_key_id": KEY}


def test_sse_s3_passes_with_the_default_algorithms() -> None:
    result = default_encryption(bucket(rules("AES256")), DefaultEncryptionParams())
    assert result.status is Status.PASS
    assert "AES256" in result.reason


def test_no_default_encryption_fails_saying_so() -> None:
    result = default_encryption(bucket(None), DefaultEncryptionParams())
    assert result.status is Status.FAIL
    assert "no default encryption" in result.reason
    assert result.observed == {"encryption": None}


def test_an_algorithm_outside_the_allowed_list_fails_naming_both() -> None:
    params = DefaultEncryptionParams(algorithms=["aws:kms"])
    result = default_encryption(bucket(rules("AES256")), params)
    assert result.status is Status.FAIL
    assert "AES256" in result.reason and "aws:kms" in result.reason
    assert result.observed == {"algorithms": ["AES256"], "allowed": ["aws:kms"]}


def test_any_allowed_rule_is_enough() -> None:
    params = DefaultEncryptionParams(algorithms=["aws:kms:dsse"])
    result = default_encryption(bucket(rules("AES256", "aws:kms:dsse")), params)
    assert result.status is Status.PASS
    assert result.observed["algorithm"] == "aws:kms:dsse"


def test_an_uncollected_encryption_raises_missing_evidence() -> None:
    marker = collection_error("AccessDenied", "Access Denied", "s3:GetEncryptionConfiguration")
    with pytest.raises(MissingEvidence, match="s3:GetEncryptionConfiguration"):
        default_encryption(bucket(marker), DefaultEncryptionParams())


@pytest.mark.parametrize(
    ("params", "field"),
    [({"algorithms": []}, "algorithms"), ({"algoritms": ["AES256"]}, "algoritms")],
)
def test_bad_params_are_rejected_naming_the_field(params: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        DefaultEncryptionParams.model_validate(params)
    assert caught.value.errors()[0]["loc"] == (field,)
