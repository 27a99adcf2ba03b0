"""The AWS provider without a network: options, sessions, clients, the detail pool.

Creating a boto3 client makes no AWS call, so none of these needs a server; what talks
to one (identity, assume-role, collectors) is in tests/integration/test_aws_collect.py.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from assay.checks import registry
from assay.checks.aws.provider import (
    AwsConnection,
    AwsTarget,
    _emulator_host,
    connect,
    identity,
)

pytestmark = pytest.mark.usefixtures("no_user_aws_config")


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
        ({"regions": "everywhere"}, "regions", "Input should be 'all'"),
        ({"workers": 0}, "workers", "greater than or equal to 1"),
        ({"retry_mode": "legacy"}, "retry_mode", "'standard' or 'adaptive'"),
        ({"max_attempts": 50}, "max_attempts", "less than or equal to 20"),
    ],
)
def test_bad_options_are_rejected_naming_the_field(
    options: dict[str, Any], field: str | None, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        AwsTarget.model_validate(options)
    errors = caught.value.errors()
    assert any(
        e["loc"][: 1 if field else 0] == ((field,) if field else ()) and message in e["msg"]
        for e in errors
    ), errors


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


def test_clients_carry_the_timeout_retries_pool_and_endpoint() -> None:
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
    # Every detail worker and collector thread can hold a connection of the pool.
    assert config.max_pool_connections == 16 + 8
    assert conn.client("s3", "us-west-2").meta.region_name == "us-west-2"


def test_retries_and_workers_are_options() -> None:
    conn = connect(AwsTarget(retry_mode="adaptive", max_attempts=3, workers=4), 5.0)
    config = conn.client("ec2").meta.config
    assert config.retries == {"mode": "adaptive", "total_max_attempts": 4}
    assert config.max_pool_connections == 4 + 8


def test_regions_all_are_asked_for_later_and_the_home_region_serves_global_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    # Nothing listens on port 9: connecting makes no call, the region list is asked for
    # on first use (tests/integration/test_aws_collect.py asks an emulator).
    conn = connect(AwsTarget(regions="all", endpoint_url="http://127.0.0.1:9"), 1.0)
    assert conn.home_region == "eu-central-1"
    assert conn.client("ec2").meta.region_name == "eu-central-1"


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


def test_parallel_keeps_order_and_bounds_concurrency() -> None:
    conn = AwsConnection(connect(AwsTarget(), 5.0).session, ["us-east-1"], workers=3)
    running, peak = 0, 0
    lock = threading.Lock()

    def work(n: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.01)
        with lock:
            running -= 1
        return n * n

    assert conn.parallel(work, range(20)) == [n * n for n in range(20)]
    assert 1 < peak <= 3


def test_parallel_raises_the_first_error_and_runs_nested_calls_inline() -> None:
    conn = AwsConnection(connect(AwsTarget(), 5.0).session, ["us-east-1"], workers=2)

    def fail(n: int) -> int:
        raise ValueError(f"item {n}")

    with pytest.raises(ValueError, match="item 0"):
        conn.parallel(fail, [0, 1, 2])

    # Each outer item fans out again; with two workers and no inline fallback this would
    # wait forever on its own pool.
    def outer(n: int) -> list[int]:
        return conn.parallel(lambda m: n * 10 + m, range(3))

    assert conn.parallel(outer, range(4)) == [[n * 10 + m for m in range(3)] for n in range(4)]


def test_shared_reads_happen_once_for_concurrent_callers() -> None:
    conn = AwsConnection(connect(AwsTarget(), 5.0).session, ["us-east-1"])
    calls: list[int] = []
    start = threading.Barrier(8)

    def read() -> str:
        calls.append(1)
        time.sleep(0.02)
        return "value"

    got: list[str] = []

    def ask() -> None:
        start.wait()
        got.append(conn.shared("key", read))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == ["value"] * 8 and len(calls) == 1


def test_a_failed_shared_read_is_tried_again() -> None:
    conn = AwsConnection(connect(AwsTarget(), 5.0).session, ["us-east-1"])
    attempts = iter([RuntimeError("throttled"), "ok"])

    def read() -> str:
        result = next(attempts)
        if isinstance(result, Exception):
            raise result
        return result

    with pytest.raises(RuntimeError):
        conn.shared("flaky", read)
    assert conn.shared("flaky", read) == "ok"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "http://123456789012.127.0.0.1:5000/v20180820/configuration/publicAccessBlock",
            "http://127.0.0.1:5000/v20180820/configuration/publicAccessBlock",
        ),
        ("http://123456789012.localhost:4566/x", "http://localhost:4566/x"),
        ("http://123456789012.[::1]:4566/x", "http://[::1]:4566/x"),
        (
            "https://123456789012.s3-control.us-east-1.amazonaws.com/x",
            "https://123456789012.s3-control.us-east-1.amazonaws.com/x",
        ),
        ("http://s3.127.0.0.1:5000/x", "http://s3.127.0.0.1:5000/x"),
    ],
)
def test_s3_control_reaches_an_emulator_without_the_account_in_its_host(
    url: str, expected: str
) -> None:
    request = SimpleNamespace(url=url)
    _emulator_host(request)
    assert request.url == expected
