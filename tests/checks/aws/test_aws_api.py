"""read_attribute: which AWS errors become data, which become markers, which propagate.

The calls here raise botocore's own ClientError, shaped as botocore parses an AWS error
response; tests/integration/test_aws_collect.py gets real denials from moto's server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from assay.checks import MissingEvidence, collection_error
from assay.checks.aws.api import read_attribute, tag_dict
from assay.checks.result import ERROR_KEY, attribute


def failing(code: str, message: str = "it went wrong") -> Callable[[], dict[str, Any]]:
    def call() -> dict[str, Any]:
        raise ClientError({"Error": {"Code": code, "Message": message}}, "GetBucketEncryption")

    return call


def status(response: dict[str, Any]) -> Any:
    return response.get("Status")


def test_a_successful_call_is_shaped() -> None:
    value = read_attribute(
        lambda: {"Status": "Enabled"}, status, permission="s3:GetBucketVersioning"
    )
    assert value == "Enabled"


def test_an_absent_code_gives_the_default_as_data() -> None:
    value = read_attribute(
        failing("NoSuchTagSet"),
        status,
        permission="s3:GetBucketTagging",
        absent={"NoSuchTagSet"},
        default={},
    )
    assert value == {}


@pytest.mark.parametrize("code", ["AccessDenied", "AccessDeniedException", "UnauthorizedOperation"])
def test_a_denial_becomes_a_marker_naming_the_permission(code: str) -> None:
    value = read_attribute(
        failing(code, "User is not authorized"),
        status,
        permission="s3:GetEncryptionConfiguration",
        absent={"ServerSideEncryptionConfigurationNotFoundError"},
    )
    assert value == collection_error(
        code, "User is not authorized", "s3:GetEncryptionConfiguration"
    )
    with pytest.raises(MissingEvidence, match=r"missing permission s3:GetEncryptionConfiguration"):
        attribute({"attributes": {"encryption": value}}, "encryption")


def test_exhausted_throttling_becomes_a_marker_without_a_permission() -> None:
    value = read_attribute(
        failing("SlowDown", "Reduce your request rate"), status, permission="s3:X"
    )
    assert value == {ERROR_KEY: {"code": "SlowDown", "message": "Reduce your request rate"}}


def test_any_other_error_propagates() -> None:
    with pytest.raises(ClientError, match="NoSuchBucket"):
        read_attribute(failing("NoSuchBucket"), status, permission="s3:GetBucketVersioning")


def test_an_absent_code_is_only_absent_for_the_call_that_names_it() -> None:
    with pytest.raises(ClientError, match="NoSuchTagSet"):
        read_attribute(failing("NoSuchTagSet"), status, permission="s3:GetBucketVersioning")


def test_tag_lists_become_dicts() -> None:
    assert tag_dict([{"Key": "env", "Value": "prod"}, {"Key": "empty"}]) == {
        "env": "prod",
        "empty": "",
    }
