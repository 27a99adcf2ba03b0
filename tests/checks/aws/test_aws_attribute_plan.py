"""Which attributes a control reads, and what collecting only those needs."""

from __future__ import annotations

from typing import Any

import pytest

from assay.checks import registry


@pytest.mark.parametrize(
    ("rule", "reads"),
    [
        ({"path": "storage_encrypted", "eq": True}, {"storage_encrypted"}),
        ({"path": "encryption.rules[0].algorithm", "eq": "AES256"}, {"encryption"}),
        ({"path": "length(access_keys[?active])", "lte": 1}, {"access_keys"}),
        (
            {
                "any": [
                    {"path": "kms_key_id", "exists": True},
                    {"not": {"path": "sqs_managed_sse", "eq": False}},
                ]
            },
            {"kms_key_id", "sqs_managed_sse"},
        ),
        ({"path": 'tags."data-class"', "eq": "audit"}, {"tags"}),
        ({"path": "[a, b.c]", "eq": [1, 2]}, {"a", "b"}),
        ({"path": "@", "exists": True}, None),  # the whole resource: everything
    ],
)
def test_a_rule_reads_the_roots_of_its_paths(rule: dict[str, Any], reads: set[str] | None) -> None:
    found = registry.attributes_needed(rule=rule)
    assert found == (None if reads is None else frozenset(reads))


def test_a_check_reads_what_it_declares() -> None:
    assert registry.attributes_needed("aws.s3.access_logging") == frozenset({"logging"})


def test_one_control_needing_everything_plans_everything() -> None:
    assert registry.plan_attributes([frozenset({"a"}), frozenset({"b"})]) == {"a", "b"}
    assert registry.plan_attributes([frozenset({"a"}), None]) is None


def test_permissions_follow_the_wanted_attributes() -> None:
    spec = registry.collectors()["aws.rds.instance"]
    assert "kms:DescribeKey" in spec.permissions
    assert "kms:DescribeKey" not in spec.permissions_for({"storage_encrypted"})
    assert "rds:DescribeDBParameters" in spec.permissions_for({"tls_parameter"})
    assert spec.permissions_for(None) == spec.permissions
