"""The AWS control files: well-formed, named after their ids, bound to what is registered."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from assay.checks import compile_rule, registry
from assay.controls import catalog_root
from assay.engine.models import Control

AWS_CONTROLS = {
    "aws-ebs-volume-encrypted",
    "aws-iam-password-policy",
    "aws-s3-default-encryption",
    "aws-s3-versioning",
}


def load(control_id: str) -> tuple[Control, dict[str, Any]]:
    raw = yaml.safe_load(catalog_root().joinpath("aws", f"{control_id}.yaml").read_text())
    return Control.model_validate(raw), raw


def test_the_catalog_ships_the_aws_controls() -> None:
    names = {p.name for p in catalog_root().joinpath("aws").iterdir()}
    assert names == {f"{cid}.yaml" for cid in AWS_CONTROLS}


@pytest.mark.parametrize("control_id", sorted(AWS_CONTROLS))
def test_control_binds_to_a_registered_check_or_a_valid_rule(control_id: str) -> None:
    control, raw = load(control_id)
    assert control.id == control_id
    assert control.frameworks["soc2"]
    assert control.resource in registry.collectors()
    if control.check is not None:
        spec = registry.get_check(control.check)
        assert spec.resource == control.resource
        spec.params.model_validate(control.params)
    else:
        assert "params" not in raw, "a rule takes no params"
        compile_rule(control.rule)
