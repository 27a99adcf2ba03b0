"""The AWS provider without a network: option validation, sessions, the client cache.

Creating a boto3 client makes no AWS call, so none of these needs a server; what talks
to one (identity, assume-role, collectors) is in tests/integration/test_aws_collect.py.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from assay.checks import registry
from assay.checks.aws.provider import AwsConnection, AwsTarget, connect, identity


@pytest.fixture(autouse=True)
def no_user_aws_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's ~/.aws and AWS_* variables out of these tests."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))


def test_is_registered_as_the_aws_provider() -> None:
    spec = registry.providers()["aws"]
    assert (spec.options, spec.connect, spec.identity) == (AwsTarget, connect, identity)


@pytest.mark.parametrize(
    ("options", "field", "message"),
    [
        ({"regions": ["us-east-1", "useast2"]}, "regions", "'useast2' is not an AWS region"),
        ({"regions": []}, "regions", "at least one region"),
        ({"regions": ["eu-west-1", "eu-west-1"]}, "regions", "listed twice"),
        ({"endpoint_url": "localhost:5000"}, "endpoint_url", "http:// or https://"),
        ({"role_arn": "arn:aws:iam::123:role/x"}, "role_arn", "IAM role ARN"),
        ({"external_id": "abc"}, None, "only used with role_arn"),
        ({"access_key": "AKIA..."}, "access_key", "Extra inputs are not permitted"),
    ],
)
def test_bad_options_are_rejected_naming_the_field(
    options: dict[str, Any], field: str | None, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        AwsTarget.model_validate(options)
    error = caught.value.errors()[0]
    assert error["loc"][: 1 if field else 0] == ((field,) if field else ())
    assert message in error["msg"]


def test_regions_default_to_the_sessions_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    assert connect(AwsTarget(), 5.0).regions == ("eu-central-1",)


def test_regions_default_to_us_east_1_without_a_configured_region() -> None:
    assert connect(AwsTarget(), 5.0).regions == ("us-east-1",)


def test_a_named_profile_supplies_the_region(tmp_path: Path) -> None:
    (tmp_path / "config").write_text("[profile audit]\nregion = ap-southeast-2\n")
    conn = connect(AwsTarget(profile="audit"), 5.0)
    assert conn.session.profile_name == "audit"
    assert conn.regions == ("ap-southeast-2",)


def test_clients_carry_the_timeout_retries_and_endpoint() -> None:
    conn = connect(
        AwsTarget(regions=["eu-west-1", "us-west-2"], endpoint_url="http://127.0.0.1:9"), 7.0
    )
    s3 = conn.client("s3")
    assert s3.meta.region_name == "eu-west-1"
    assert s3.meta.endpoint_url == "http://127.0.0.1:9"
    config = s3.meta.config
    assert (config.connect_timeout, config.read_timeout) == (7.0, 7.0)
    # botocore reads max_attempts 5 as five retries after the first attempt.
    assert config.retries == {"mode": "standard", "total_max_attempts": 6}
    assert conn.client("s3", "us-west-2").meta.region_name == "us-west-2"


def test_clients_are_cached_per_service_and_region() -> None:
    conn = connect(AwsTarget(regions=["eu-west-1", "us-west-2"]), 5.0)
    assert conn.client("ec2") is conn.client("ec2", "eu-west-1")
    assert conn.client("ec2", "us-west-2") is not conn.client("ec2")
    assert conn.client("s3") is not conn.client("ec2")


def test_threads_asking_at_once_share_one_client() -> None:
    conn = AwsConnection(connect(AwsTarget(), 5.0).session, ["us-east-1"], timeout=5.0)
    start = threading.Barrier(16)
    got: list[Any] = []

    def ask() -> None:
        start.wait()
        got.append(conn.client("iam"))

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 16 and all(c is got[0] for c in got)


def test_the_partition_follows_the_region() -> None:
    assert connect(AwsTarget(regions=["cn-north-1"]), 5.0).partition == "aws-cn"
    assert connect(AwsTarget(regions=["us-gov-west-1"]), 5.0).partition == "aws-us-gov"
