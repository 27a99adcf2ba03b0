"""An AWS connection lets go of a service's clients and model once no collector running
uses the service. Creating clients makes no AWS call, so none of these needs a server."""

from __future__ import annotations

import threading

import botocore.session
import pytest

from assay.checks.aws.models import compact_models
from assay.checks.aws.provider import AwsConnection, AwsTarget, connect

pytestmark = pytest.mark.usefixtures("no_user_aws_config")


def connection(**options: object) -> AwsConnection:
    return connect(AwsTarget(regions=["eu-west-1", "us-west-2"], **options), 5.0)  # type: ignore[arg-type]


def test_a_collectors_clients_go_when_it_ends() -> None:
    conn = connection()
    with conn.collecting():
        ec2 = conn.client("ec2")
        assert conn.client("ec2") is ec2
        west = conn.client("ec2", "us-west-2")
    with conn.collecting():
        again = conn.client("ec2")
        # A new client, with its model loaded again: the old one was let go of.
        assert again is not ec2
        assert again.meta.service_model is not ec2.meta.service_model
        assert conn.client("ec2", "us-west-2") is not west


def test_a_service_another_running_collector_uses_stays() -> None:
    conn = connection()
    first_started, second_done = threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    def first() -> None:
        with conn.collecting():
            seen["first"] = conn.client("iam")
            first_started.set()
            second_done.wait(5)
            seen["first, later"] = conn.client("iam")

    thread = threading.Thread(target=first)
    thread.start()
    first_started.wait(5)
    with conn.collecting():
        seen["second"] = conn.client("iam")
        sts = conn.client("sts")
    second_done.set()
    thread.join(5)

    assert seen["second"] is seen["first"] is seen["first, later"]
    # The second collector alone used STS: its client went when it ended.
    with conn.collecting():
        assert conn.client("sts") is not sts
    # And IAM's went when the first ended.
    with conn.collecting():
        assert conn.client("iam") is not seen["first"]


def test_clients_made_by_detail_reads_count_as_their_collectors() -> None:
    conn = connection(workers=4)
    first_started, second_done = threading.Event(), threading.Event()
    made: list[object] = []

    def first() -> None:
        with conn.collecting():
            # Made on the detail pool's threads only, never on the collector's own.
            made.extend(conn.parallel(lambda region: conn.client("kms", region), conn.regions))
            first_started.set()
            second_done.wait(5)
            made.append(conn.client("kms"))

    thread = threading.Thread(target=first)
    thread.start()
    first_started.wait(5)
    with conn.collecting():
        made.append(conn.client("kms"))
    second_done.set()
    thread.join(5)

    # The second collector's end did not take KMS from the first, still running.
    assert made[2] is made[0] and made[3] is made[0]
    assert made[1] is not made[0]  # the other region's


def test_clients_made_outside_collection_are_kept() -> None:
    conn = connection()
    sts = conn.client("sts")  # as `identity` does, before any collector runs
    assert conn.client("sts") is sts
    with conn.collecting():
        pass
    assert conn.client("sts") is sts


def test_a_loader_forgets_one_service_and_no_other() -> None:
    loader = compact_models(botocore.session.Session())
    s3 = loader.load_service_model("s3", "service-2")
    control = loader.load_service_model("s3control", "service-2")
    paginators = loader.load_service_model("s3", "paginators-1")

    loader.forget("s3")

    assert loader.load_service_model("s3control", "service-2") is control
    assert loader.load_service_model("s3", "service-2") is not s3
    assert loader.load_service_model("s3", "paginators-1") is not paginators
    assert loader.load_service_model("s3", "service-2") == s3
