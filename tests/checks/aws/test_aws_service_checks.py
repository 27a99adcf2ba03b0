"""KMS, RDS, EC2, CloudTrail, CloudWatch Logs and GuardDuty controls over snapshots."""

from __future__ import annotations

from typing import Any

import pytest
from aws_snapshots import judge, snapshot

from assay.checks import Status, collection_error
from assay.checks.aws.checks.logs import RetentionParams, retention
from assay.checks.aws.collect.rds import tls_parameter_name
from assay.checks.aws.kms_keys import rotatable

DENIED = collection_error("AccessDenied", "denied", "x:Y")


def key(**changes: Any) -> dict[str, Any]:
    base = {
        "manager": "CUSTOMER",
        "spec": "SYMMETRIC_DEFAULT",
        "usage": "ENCRYPT_DECRYPT",
        "state": "Enabled",
        "origin": "AWS_KMS",
        "rotation_enabled": True,
        "aliases": [],
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({}, Status.PASS),
        ({"rotation_enabled": False}, Status.FAIL),
        ({"manager": "AWS", "rotation_enabled": None}, Status.NOT_APPLICABLE),
        ({"spec": "RSA_2048", "rotation_enabled": None}, Status.NOT_APPLICABLE),
        ({"state": "PendingDeletion", "rotation_enabled": None}, Status.NOT_APPLICABLE),
        ({"origin": "EXTERNAL", "rotation_enabled": None}, Status.NOT_APPLICABLE),
        ({"rotation_enabled": DENIED}, Status.ERROR),
        (dict.fromkeys(("manager", "spec", "usage", "state", "origin"), DENIED), Status.ERROR),
    ],
)
def test_kms_key_rotation(changes: dict[str, Any], status: Status) -> None:
    result = judge("aws-kms-key-rotation", key(**changes))
    assert result.status is status
    if status is Status.FAIL:
        assert result.reason.startswith("rotation_enabled is false")


def test_only_kms_generated_customer_symmetric_enabled_keys_rotate() -> None:
    assert rotatable(key())
    assert not rotatable(key(manager="AWS"))


def instance(**changes: Any) -> dict[str, Any]:
    base = {
        "engine": "postgres",
        "engine_version": "16.3",
        "storage_encrypted": True,
        "kms_key_id": "arn:aws:kms:us-east-1:123456789012:key/k",
        "publicly_accessible": False,
        "backup_retention_days": 7,
        "deletion_protection": True,
        "parameter_group": "tls-only",
        "tags": {},
        "tls_parameter": {"name": "rds.force_ssl", "value": "1"},
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    ("control", "changes", "reason"),
    [
        ("aws-rds-storage-encrypted", {"storage_encrypted": False}, "storage_encrypted is false"),
        ("aws-rds-not-public", {"publicly_accessible": True}, "publicly_accessible is true"),
        ("aws-rds-deletion-protection", {"deletion_protection": False}, "deletion_protection"),
        ("aws-rds-backup-retention", {"backup_retention_days": 3}, "backup_retention_days is 3"),
        ("aws-rds-backup-retention", {"backup_retention_days": 0}, "automated backups are off"),
        (
            "aws-rds-force-ssl",
            {"tls_parameter": {"name": "rds.force_ssl", "value": "0"}},
            "tls_parameter rds.force_ssl is 0 in parameter group tls-only",
        ),
        (
            "aws-rds-force-ssl",
            {"tls_parameter": {"name": "rds.force_ssl", "value": None}},
            "rds.force_ssl is not set",
        ),
    ],
)
def test_rds_controls_pass_a_hardened_instance_and_fail_naming_the_attribute(
    control: str, changes: dict[str, Any], reason: str
) -> None:
    assert judge(control, instance()).status is Status.PASS
    result = judge(control, instance(**changes))
    assert result.status is Status.FAIL
    assert reason in result.reason


def test_rds_tls_by_engine() -> None:
    mysql = instance(
        engine="mysql", tls_parameter={"name": "require_secure_transport", "value": "ON"}
    )
    assert judge("aws-rds-force-ssl", mysql).status is Status.PASS
    oracle = judge("aws-rds-force-ssl", instance(engine="oracle-ee", tls_parameter=None))
    assert oracle.status is Status.NOT_APPLICABLE
    aurora = judge("aws-rds-force-ssl", instance(engine="aurora-postgresql", tls_parameter=None))
    assert aurora.status is Status.ERROR and "cluster parameter group" in aurora.reason
    denied = judge("aws-rds-force-ssl", instance(tls_parameter=DENIED))
    assert denied.status is Status.ERROR
    assert [tls_parameter_name(e) for e in ("postgres", "sqlserver-se", "mariadb", "db2-se")] == [
        "rds.force_ssl",
        "rds.force_ssl",
        "require_secure_transport",
        None,
    ]


def rule(protocol: str, low: int | None, high: int | None, *cidrs: str) -> dict[str, Any]:
    return {
        "protocol": protocol,
        "from_port": low,
        "to_port": high,
        "ipv4": [c for c in cidrs if ":" not in c],
        "ipv6": [c for c in cidrs if ":" in c],
    }


def group(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"group_name": "g", "vpc_id": "vpc-1", "tags": {}, "ingress": list(rules)}


@pytest.mark.parametrize(
    ("ingress", "reason"),
    [
        (rule("tcp", 22, 22, "0.0.0.0/0"), "TCP 22 from 0.0.0.0/0 (rule 22-22)"),
        (rule("tcp", 3000, 6000, "::/0"), "TCP 3389, 5432 from ::/0 (rule 3000-6000)"),
        (rule("-1", None, None, "0.0.0.0/0"), "all ports from 0.0.0.0/0"),
        (rule("tcp", 0, 65535, "0.0.0.0/0", "::/0"), "all ports from 0.0.0.0/0, ::/0"),
    ],
)
def test_security_groups_fail_for_admin_ports_or_all_ports_from_the_internet(
    ingress: dict[str, Any], reason: str
) -> None:
    result = judge("aws-ec2-no-public-admin-ports", group(ingress))
    assert result.status is Status.FAIL
    assert result.reason == f"ingress is open to the internet: {reason}"


@pytest.mark.parametrize(
    "ingress",
    [
        rule("tcp", 443, 443, "0.0.0.0/0"),
        rule("tcp", 22, 22, "10.0.0.0/8"),
        rule("udp", 0, 65535, "0.0.0.0/0"),
        rule("-1", None, None, "192.168.0.0/16"),
    ],
)
def test_security_groups_pass_for_other_ports_or_private_sources(ingress: dict[str, Any]) -> None:
    assert judge("aws-ec2-no-public-admin-ports", group(ingress)).status is Status.PASS


def test_ebs_default_encryption() -> None:
    assert judge("aws-ebs-default-encryption", {"ebs_encryption_by_default": True}).status is (
        Status.PASS
    )
    off = judge("aws-ebs-default-encryption", {"ebs_encryption_by_default": False})
    assert (off.status, off.reason) == (
        Status.FAIL,
        "ebs_encryption_by_default is false, expected true",
    )


def trail(**changes: Any) -> dict[str, Any]:
    base = {
        "arn": "arn:aws:cloudtrail:us-east-1:123456789012:trail/main",
        "name": "main",
        "home_region": "us-east-1",
        "multi_region": True,
        "log_file_validation": True,
        "organization": False,
        "logging": True,
    }
    return {**base, **changes}


def test_cloudtrail_needs_one_multi_region_logging_validated_trail() -> None:
    control = "aws-cloudtrail-multi-region"
    weak = trail(name="weak", multi_region=False, log_file_validation=False)
    assert judge(control, {"trails": [weak, trail()]}).status is Status.PASS
    result = judge(control, {"trails": [weak, trail(logging=False)]})
    assert result.status is Status.FAIL
    assert result.reason == (
        "no trail in trails is multi-region, logging and validating log files "
        "(weak: not multi-region, no log file validation; main: not logging)"
    )
    empty = judge(control, {"trails": []})
    assert empty.status is Status.FAIL and "no CloudTrail trail" in empty.reason


def test_cloudtrail_status_unknown_is_an_error_only_when_it_decides() -> None:
    control = "aws-cloudtrail-multi-region"
    unknown = judge(control, {"trails": [trail(logging=DENIED)]})
    assert unknown.status is Status.ERROR and "x:Y" in unknown.reason
    irrelevant = trail(multi_region=False, logging=DENIED)
    assert judge(control, {"trails": [irrelevant]}).status is Status.FAIL
    assert judge(control, {"trails": [irrelevant, trail()]}).status is Status.PASS


@pytest.mark.parametrize(
    ("name", "days", "tags", "status"),
    [
        ("/app", 400, {}, Status.PASS),
        ("/app", None, {}, Status.PASS),
        ("/app", 30, {}, Status.FAIL),
        ("/audit", 400, {"data-class": "audit"}, Status.FAIL),
        ("/audit", 2557, {"data-class": "audit"}, Status.PASS),
        ("/aws/cloudtrail/org", 400, {}, Status.PASS),
    ],
)
def test_log_retention(name: str, days: int | None, tags: dict[str, str], status: Status) -> None:
    result = judge(
        "aws-logs-retention", {"retention_days": days, "kms_key_id": None, "tags": tags}, name=name
    )
    assert result.status is status
    if status is Status.FAIL:
        assert result.reason.startswith(f"retention_days is {days}")


def test_log_retention_audit_names_are_a_param() -> None:
    group = snapshot(
        "aws.logs.log_group", {"retention_days": 400, "tags": {}}, name="/aws/cloudtrail/org"
    )
    result = retention(group, RetentionParams(audit_names=["/aws/cloudtrail/*"]))
    assert result.status is Status.FAIL
    assert "audit log group (name matches /aws/cloudtrail/*)" in result.reason


def test_guardduty() -> None:
    control = "aws-guardduty-enabled"
    assert judge(control, {"detector_id": "d1", "status": "ENABLED"}).status is Status.PASS
    suspended = judge(control, {"detector_id": "d1", "status": "DISABLED"})
    assert suspended.status is Status.FAIL and "DISABLED, expected ENABLED" in suspended.reason
    none = judge(control, {"detector_id": None, "status": None})
    assert none.status is Status.FAIL and none.reason.startswith("detector_id is null")
    assert judge(control, {"detector_id": DENIED, "status": DENIED}).status is Status.ERROR
