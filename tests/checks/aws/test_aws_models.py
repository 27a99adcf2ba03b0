"""botocore's service models as the AWS provider loads them: botocore's, less their prose."""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from assay.checks.aws.models import compact_models
from assay.checks.aws.provider import AwsTarget, connect

pytestmark = pytest.mark.usefixtures("no_user_aws_config")


def compact_session_loader() -> Any:
    """The loader of a session `compact_models` was given."""
    session = botocore.session.Session()
    compact_models(session)
    return session.get_component("data_loader")


def without_prose(value: Any) -> Any:
    """`value` as botocore loads it, with every documentation text emptied, as plain dicts."""
    if isinstance(value, dict):
        return {k: "" if k == "documentation" else without_prose(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_prose(v) for v in value]
    return value


@pytest.mark.parametrize(
    ("service", "kind", "prose"),
    [
        ("ec2", "service-2", True),
        ("s3", "service-2", True),
        ("s3", "endpoint-rule-set-1", True),
        ("iam", "paginators-1", False),
    ],
)
def test_a_model_is_botocores_with_its_documentation_emptied(
    service: str, kind: str, prose: bool
) -> None:
    theirs = botocore.session.Session().get_component("data_loader")
    ours = compact_session_loader()

    full = theirs.load_service_model(service, kind)
    compact = ours.load_service_model(service, kind)

    assert json.dumps(compact) == json.dumps(without_prose(full))
    assert ("documentation" in json.dumps(full)) is prose
    assert not any(isinstance(v, OrderedDict) for v in _dicts(compact))


def test_equal_strings_of_a_model_are_one_object() -> None:
    loader = compact_session_loader()
    shapes = loader.load_service_model("ec2", "service-2")["shapes"]

    types = {id(shape["type"]) for shape in shapes.values() if shape["type"] == "structure"}
    members = {
        id(name)
        for shape in shapes.values()
        for name in shape.get("required", [])
        if name == "DryRun"
    }

    assert len(types) == 1
    assert len(members) <= 1


def test_clients_of_a_connection_use_the_compact_models_and_still_build_requests() -> None:
    conn = connect(AwsTarget(regions=["eu-west-1"]), 5.0)

    ec2 = conn.client("ec2")
    operation = ec2.meta.service_model.operation_model("DescribeVolumes")
    request = ec2._serializer.serialize_to_request({"VolumeIds": ["vol-1"]}, operation)

    assert operation.documentation == ""
    assert request["body"] == {
        "Action": "DescribeVolumes",
        "Version": "2016-11-15",
        "VolumeId.1": "vol-1",
    }
    assert ec2.can_paginate("describe_volumes")


def test_models_on_aws_data_path_are_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = {
        "version": "2.0",
        "metadata": {"apiVersion": "2024-01-01", "protocol": "json", "endpointPrefix": "x"},
        "operations": {},
        "shapes": {"Name": {"type": "string", "documentation": "<p>A name.</p>"}},
    }
    folder = tmp_path / "assaytest" / "2024-01-01"
    folder.mkdir(parents=True)
    (folder / "service-2.json").write_text(json.dumps(model))
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))

    loader = compact_session_loader()

    assert loader.load_service_model("assaytest", "service-2")["shapes"] == {
        "Name": {"type": "string", "documentation": ""}
    }


def _dicts(value: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.append(item)
            stack += item.values()
        elif isinstance(item, list):
            stack += item
    return found
