"""Reading AWS: which errors become data, markers, AccessDenied or propagate; times and ages.

The calls here raise botocore's own ClientError, shaped as botocore parses an AWS error
response (and as it parses the XML errors emulators send to JSON clients);
tests/integration/test_aws_*.py get real denials from moto's server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from assay.checks import MissingEvidence, collection_error
from assay.checks.aws.checks.iam_users import age_days
from assay.checks.aws.reading import (
    AccessDenied,
    error_code,
    error_message,
    is_denied,
    listing,
    read_attribute,
    tag_dict,
    timestamp,
)
from assay.checks.result import ERROR_KEY, attribute


def client_error(code: str, message: str = "it went wrong", status: int = 400) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "GetBucketEncryption")


def failing(code: str, message: str = "it went wrong", status: int = 400) -> Callable[[], Any]:
    def call() -> dict[str, Any]:
        raise client_error(code, message, status)

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


def test_an_xml_error_body_a_json_client_could_not_parse_keeps_its_code_and_message() -> None:
    body = (
        '<?xml version="1.0"?><ErrorResponse><Errors><Error><Code>AccessDenied</Code>'
        "<Message>User: u is not authorized to perform: kms:ListKeys</Message></Error>"
        "</Errors></ErrorResponse>"
    )
    exc = client_error("403", body, status=403)
    assert error_code(exc) == "AccessDenied"
    assert error_message(exc) == "User: u is not authorized to perform: kms:ListKeys"
    assert is_denied(exc)


def test_a_code_in_the_errors_list_is_found() -> None:
    response: Any = {
        "Error": {"Code": "", "Message": ""},
        "Errors": {"Error": {"Code": "AccessDenied", "Message": "not authorized"}},
        "ResponseMetadata": {"HTTPStatusCode": 403},
    }
    exc = ClientError(response, "GetPublicAccessBlock")
    assert (error_code(exc), error_message(exc), is_denied(exc)) == (
        "AccessDenied",
        "not authorized",
        True,
    )


def test_a_403_without_a_code_is_a_denial_but_a_named_403_is_not() -> None:
    assert is_denied(client_error("", "", status=403))
    assert not is_denied(client_error("SignatureDoesNotMatch", "bad signature", status=403))
    assert not is_denied(client_error("InternalError", "", status=500))


def test_a_refused_listing_raises_access_denied_naming_the_permission() -> None:
    with pytest.raises(AccessDenied) as caught, listing("ec2:DescribeVolumes"):
        failing("UnauthorizedOperation", "You are not authorized")()
    assert str(caught.value) == (
        "UnauthorizedOperation: You are not authorized (missing permission ec2:DescribeVolumes)"
    )


def test_a_listing_passes_other_errors_through() -> None:
    with pytest.raises(ClientError, match="InternalError"), listing("ec2:DescribeVolumes"):
        failing("InternalError")()


def test_tag_lists_become_dicts() -> None:
    assert tag_dict([{"Key": "env", "Value": "prod"}, {"Key": "empty"}]) == {
        "env": "prod",
        "empty": "",
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T12:00:00+00:00", "2024-05-01T12:00:00Z"),
        ("2024-05-01T14:00:00+02:00", "2024-05-01T12:00:00Z"),
        ("2024-05-01T12:00:00", "2024-05-01T12:00:00Z"),
        (None, None),
    ],
)
def test_timestamps_become_rfc3339_utc(value: str | None, expected: str | None) -> None:
    assert timestamp(value) == expected


def test_ages_are_measured_at_collection() -> None:
    resource = {"collected_at": "2024-05-31T00:00:00Z"}
    assert age_days(resource, "2024-05-01T00:00:00Z") == 30
    assert age_days(resource, "2024-05-30T00:00:01Z") == 0
    with pytest.raises(MissingEvidence, match="collected_at"):
        age_days({}, "2024-05-01T00:00:00Z")
