"""The AWS control files: well-formed, named after their ids, bound to what is registered,
and carrying what an auditor needs (SOC 2 criteria, severity, remediation, Prowler id)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from assay.checks import compile_rule, registry
from assay.controls import catalog_root
from assay.engine.catalog import load_catalog
from assay.engine.models import Control

AWS_CONTROLS = {
    "aws-acm-certificate-expiry",
    "aws-backup-plan-coverage",
    "aws-backup-vault-encrypted",
    "aws-backup-vault-lock",
    "aws-cloudfront-logging",
    "aws-cloudfront-minimum-tls",
    "aws-cloudfront-origin-https",
    "aws-cloudfront-viewer-https",
    "aws-cloudfront-waf",
    "aws-cloudtrail-multi-region",
    "aws-cloudtrail-trail-cloudwatch-logs",
    "aws-cloudtrail-trail-kms",
    "aws-cloudtrail-trail-log-validation",
    "aws-cloudtrail-trail-logging",
    "aws-cloudtrail-trail-multi-region",
    "aws-config-recorder",
    "aws-dynamodb-kms",
    "aws-dynamodb-pitr",
    "aws-ebs-default-encryption",
    "aws-ebs-volume-encrypted",
    "aws-ec2-no-public-admin-ports",
    "aws-ecr-immutable-tags",
    "aws-ecr-lifecycle-policy",
    "aws-ecr-not-public",
    "aws-ecr-scan-on-push",
    "aws-efs-encrypted",
    "aws-eks-control-plane-logging",
    "aws-eks-endpoint-restricted",
    "aws-eks-secrets-encryption",
    "aws-eks-supported-version",
    "aws-elasticache-auth",
    "aws-elasticache-automatic-failover",
    "aws-elasticache-encrypted-at-rest",
    "aws-elasticache-encrypted-in-transit",
    "aws-elasticache-multi-az",
    "aws-elasticache-snapshot-retention",
    "aws-elbv2-access-logs",
    "aws-elbv2-deletion-protection",
    "aws-elbv2-http-redirect",
    "aws-elbv2-tls-policy",
    "aws-guardduty-enabled",
    "aws-iam-access-key-rotation",
    "aws-iam-no-admin-policies",
    "aws-iam-password-policy",
    "aws-iam-root-access-keys",
    "aws-iam-root-mfa",
    "aws-iam-unused-credentials",
    "aws-iam-user-console-mfa",
    "aws-iam-user-no-admin-privileges",
    "aws-iam-user-one-active-key",
    "aws-iam-user-permissions-via-groups",
    "aws-kms-key-rotation",
    "aws-lambda-not-public",
    "aws-lambda-supported-runtime",
    "aws-logs-retention",
    "aws-rds-auto-minor-upgrade",
    "aws-rds-backup-replication",
    "aws-rds-backup-retention",
    "aws-rds-deletion-protection",
    "aws-rds-force-ssl",
    "aws-rds-iam-auth",
    "aws-rds-log-exports",
    "aws-rds-multi-az",
    "aws-rds-not-public",
    "aws-rds-performance-insights-kms",
    "aws-rds-storage-encrypted",
    "aws-s3-access-logging",
    "aws-s3-account-public-access-block",
    "aws-s3-bucket-not-public",
    "aws-s3-bucket-public-access-block",
    "aws-s3-default-encryption",
    "aws-s3-dr-replication",
    "aws-s3-secure-transport",
    "aws-s3-versioning",
    "aws-secretsmanager-rotation",
    "aws-sns-encrypted",
    "aws-sns-not-public",
    "aws-sqs-encrypted",
    "aws-sqs-not-public",
    "aws-vpc-flow-logs",
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
    assert control.resource in registry.collectors()
    if control.check is not None:
        spec = registry.get_check(control.check)
        assert spec.resource == control.resource
        spec.params.model_validate(control.params)
    else:
        assert "params" not in raw, "a rule takes no params"
        compile_rule(control.rule)


@pytest.mark.parametrize("control_id", sorted(AWS_CONTROLS))
def test_control_carries_soc2_criteria_prowler_references_and_an_aws_tag(
    control_id: str,
) -> None:
    control, _ = load(control_id)
    soc2 = {c.id for c in load_catalog().frameworks["soc2"].criteria}
    assert control.frameworks["soc2"] and set(control.frameworks["soc2"]) <= soc2
    prowler = control.references["prowler"]
    assert all(
        isinstance(p, str) and p.islower()
        for p in ([prowler] if isinstance(prowler, str) else prowler)
    )
    assert "aws" in control.tags
    assert control.description and control.remediation


def test_every_aws_check_and_collector_feeds_a_shipped_control() -> None:
    controls = [load(cid)[0] for cid in AWS_CONTROLS]
    used_checks = {c.check for c in controls if c.check}
    used_types = {c.resource for c in controls}
    aws_checks = {name for name in registry.checks() if name.startswith("aws.")}
    aws_types = {t for t, spec in registry.collectors().items() if spec.provider == "aws"}
    assert aws_checks == used_checks
    assert aws_types == used_types
