"""Recovery checks: S3 replication of DR-critical buckets, RDS Performance Insights keys,
AWS Backup plans covering tagged resources, and ACM certificates about to expire."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assay.checks.aws.collect.acm import CERTIFICATE
from assay.checks.aws.collect.backup import REGION as BACKUP_REGION
from assay.checks.aws.collect.rds import INSTANCE
from assay.checks.aws.collect.s3 import BUCKET
from assay.checks.registry import check
from assay.checks.result import ERROR_KEY, Result, attribute, collected_at, describe_error
from assay.words import counted


class ReplicationParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dr_tags: dict[str, str] = Field(
        default={"dr": "critical"},
        min_length=1,
        description="A bucket carrying any of these tags (key: value) must replicate to "
        "another region.",
    )


@check(
    "aws.s3.dr_replication",
    resource=BUCKET,
    params=ReplicationParams,
    permissions=[
        "s3:ListAllMyBuckets",
        "s3:GetBucketLocation",
        "s3:GetBucketTagging",
        "s3:GetReplicationConfiguration",
    ],
    reads=["tags", "region", "replication"],
)
def dr_replication(resource: dict[str, Any], params: ReplicationParams) -> Result:
    """Pass when a DR-tagged bucket has an Enabled replication rule whose destination is in
    another region; buckets without a DR tag are not_applicable."""
    tags = attribute(resource, "tags") or {}
    marked = sorted(f"{k}={v}" for k, v in params.dr_tags.items() if tags.get(k) == v)
    if not marked:
        return Result.not_applicable("the bucket is not tagged as DR-critical", tags=tags)
    region = attribute(resource, "region")
    rules = attribute(resource, "replication") or []
    unknown: list[str] = []
    for rule in rules:
        if rule["status"] != "Enabled":
            continue
        where = rule["destination_region"]
        if isinstance(where, dict) and ERROR_KEY in where:
            unknown.append(f"{rule['destination_bucket']}: {describe_error(where)}")
        elif where != region:
            return Result.passed(
                f"replicates to {rule['destination_bucket']} in {where} "
                f"(tagged {', '.join(marked)})",
                destination_bucket=rule["destination_bucket"],
                destination_region=where,
            )
    if unknown:
        return Result.error(f"the destination's region could not be read: {'; '.join(unknown)}")
    if not rules:
        return Result.failed(
            f"the bucket is tagged {', '.join(marked)} but replicates nowhere", replication=None
        )
    return Result.failed(
        f"no Enabled replication rule leaves {region} (tagged {', '.join(marked)})",
        replication=rules,
    )


@check(
    "aws.rds.performance_insights_kms",
    resource=INSTANCE,
    permissions=["rds:DescribeDBInstances", "kms:DescribeKey"],
    reads=[
        "performance_insights",
        "performance_insights_kms_key_id",
        "performance_insights_key_manager",
    ],
)
def performance_insights_kms(resource: dict[str, Any], params: Any) -> Result:
    """Pass when Performance Insights data is encrypted with a customer-managed KMS key;
    the AWS-managed default (aws/rds) or a key KMS does not know fails; instances with
    Performance Insights off are not_applicable (nothing is kept)."""
    if not attribute(resource, "performance_insights"):
        return Result.not_applicable("Performance Insights is off")
    key = attribute(resource, "performance_insights_kms_key_id")
    manager = attribute(resource, "performance_insights_key_manager")
    if manager == "CUSTOMER":
        return Result.passed(
            f"Performance Insights data is encrypted with customer-managed key {key}",
            kms_key_id=key,
        )
    why = "the AWS-managed default key" if manager == "AWS" else "a key KMS does not know"
    return Result.failed(
        f"Performance Insights data is encrypted with {why} ({key}), not a customer-managed key",
        kms_key_id=key,
        key_manager=manager,
    )


class BackupCoverageParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tags: dict[str, str] = Field(
        default={"backup": "required"},
        min_length=1,
        description="Resources tagged with any of these (key: value) must be selected by a "
        "backup plan in their region.",
    )


@check(
    "aws.backup.tagged_resources_covered",
    resource=BACKUP_REGION,
    params=BackupCoverageParams,
    permissions=[
        "backup:ListBackupPlans",
        "backup:ListBackupSelections",
        "backup:GetBackupSelection",
    ],
    reads=["plans"],
)
def tagged_resources_covered(resource: dict[str, Any], params: BackupCoverageParams) -> Result:
    """Pass when, for every tag in `params.tags`, some backup plan of the region selects
    resources by that tag (or selects every resource, ``*``)."""
    plans = attribute(resource, "plans")
    covered: dict[str, str] = {}
    unknown: list[str] = []
    for plan in plans:
        selections = plan["selections"]
        if isinstance(selections, dict) and ERROR_KEY in selections:
            unknown.append(f"{plan['name']}: {describe_error(selections)}")
            continue
        for selection in selections:
            if ERROR_KEY in selection:
                unknown.append(f"{plan['name']}: {describe_error(selection)}")
                continue
            for key, value in params.tags.items():
                every = "*" in selection["resources"]
                if every or {"key": key, "value": value} in selection["tags"]:
                    covered.setdefault(f"{key}={value}", f"{plan['name']}/{selection['name']}")
    missing = [f"{k}={v}" for k, v in params.tags.items() if f"{k}={v}" not in covered]
    if not missing:
        return Result.passed(
            "tagged resources are selected by "
            + ", ".join(f"{tag} ({by})" for tag, by in covered.items()),
            covered=covered,
        )
    if unknown:
        return Result.error(f"backup selections could not be read: {'; '.join(unknown)}")
    return Result.failed(
        f"no backup plan selects resources tagged {', '.join(missing)} "
        f"({counted(len(plans), 'plan')} in the region)",
        missing=missing,
        plans=[p["name"] for p in plans],
    )


class ExpiryParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_days_left: int = Field(default=30, ge=1, le=397)


@check(
    "aws.acm.expiry",
    resource=CERTIFICATE,
    params=ExpiryParams,
    permissions=["acm:ListCertificates"],
    reads=["status", "not_after", "in_use"],
)
def expiry(resource: dict[str, Any], params: ExpiryParams) -> Result:
    """Fail when an issued certificate expires within `min_days_left` days of collection
    (or has expired); certificates never issued (pending validation, failed) are
    not_applicable."""
    status = attribute(resource, "status")
    not_after = attribute(resource, "not_after")
    if status not in ("ISSUED", "EXPIRED") or not not_after:
        return Result.not_applicable(f"the certificate is {status}, not issued", status=status)
    stamp = collected_at(resource, "measure expiry from")
    left = (datetime.fromisoformat(not_after) - stamp).days
    if left < params.min_days_left:
        when = (
            f"expired {counted(-left, 'day')} ago ({not_after})"
            if left < 0
            else f"expires in {counted(left, 'day')} ({not_after}), within the "
            f"{params.min_days_left}-day window"
        )
        return Result.failed(
            f"the certificate {when}",
            days_left=left,
            not_after=not_after,
            in_use=attribute(resource, "in_use"),
        )
    return Result.passed(f"the certificate is valid for {counted(left, 'day')}", days_left=left)
