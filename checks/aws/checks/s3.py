"""S3 checks: buckets (`aws.s3.bucket`) and the account's S3 settings (`aws.s3.account`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assay.checks.aws.collect.s3 import ACCOUNT, BUCKET
from assay.checks.aws.policy import insecure_transport_denials, public_statements
from assay.checks.registry import check
from assay.checks.result import Result, attribute

_LIST = "s3:ListAllMyBuckets"
_PAB_FLAGS = (
    "block_public_acls",
    "ignore_public_acls",
    "block_public_policy",
    "restrict_public_buckets",
)


class DefaultEncryptionParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    algorithms: list[str] = Field(
        default=["aws:kms", "AES256"],
        min_length=1,
        description="Accepted SSE algorithms: aws:kms, aws:kms:dsse, AES256.",
    )


@check(
    "aws.s3.default_encryption",
    resource=BUCKET,
    params=DefaultEncryptionParams,
    permissions=[_LIST, "s3:GetBucketLocation", "s3:GetEncryptionConfiguration"],
    reads=["encryption"],
)
def default_encryption(resource: dict[str, Any], params: DefaultEncryptionParams) -> Result:
    """Pass when a default-encryption rule of the bucket uses one of `params.algorithms`."""
    encryption = attribute(resource, "encryption")
    rules = encryption["rules"] if encryption else []
    if not rules:
        return Result.failed("the bucket has no default encryption configured", encryption=None)
    algorithms = [rule["algorithm"] for rule in rules]
    for rule in rules:
        if rule["algorithm"] in params.algorithms:
            return Result.passed(
                f"objects are encrypted by default with {rule['algorithm']}",
                algorithm=rule["algorithm"],
                kms_key_id=rule["kms_key_id"],
            )
    return Result.failed(
        f"default encryption uses {', '.join(algorithms)}, "
        f"not one of the allowed {', '.join(params.algorithms)}",
        algorithms=algorithms,
        allowed=params.algorithms,
    )


class VersioningParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record_tags: dict[str, str] = Field(
        default={"data-class": "records"},
        description="A bucket carrying any of these tags (key: value) holds records.",
    )
    all_buckets: bool = Field(default=False, description="Require versioning on every bucket.")


@check(
    "aws.s3.versioning",
    resource=BUCKET,
    params=VersioningParams,
    permissions=[_LIST, "s3:GetBucketVersioning", "s3:GetBucketTagging"],
    reads=["tags", "versioning"],
)
def versioning(resource: dict[str, Any], params: VersioningParams) -> Result:
    """Pass when a bucket holding records has versioning Enabled; other buckets are
    not_applicable (unless `all_buckets`)."""
    tags = attribute(resource, "tags") or {}
    marked = sorted(f"{k}={v}" for k, v in params.record_tags.items() if tags.get(k) == v)
    if not marked and not params.all_buckets:
        return Result.not_applicable(
            "the bucket is not tagged as holding records "
            f"({', '.join(f'{k}={v}' for k, v in params.record_tags.items()) or 'no tags set'})",
            tags=tags,
        )
    status = attribute(resource, "versioning")
    why = f" (tagged {', '.join(marked)})" if marked else ""
    if status == "Enabled":
        return Result.passed(f"versioning is Enabled{why}", versioning=status)
    state = "Suspended" if status == "Suspended" else "never enabled"
    return Result.failed(f"versioning is {state}{why}", versioning=status)


@check(
    "aws.s3.bucket_not_public",
    resource=BUCKET,
    permissions=[
        _LIST,
        "s3:GetBucketAcl",
        "s3:GetBucketPolicy",
        "s3:GetBucketPublicAccessBlock",
        "s3:GetAccountPublicAccessBlock",
    ],
    reads=["acl_public_grants", "policy", "public_access_block", "account_public_access_block"],
)
def bucket_not_public(resource: dict[str, Any], params: Any) -> Result:
    """Fail when the bucket ACL grants AllUsers/AuthenticatedUsers, or the bucket policy
    allows anyone without a restricting condition, and Block Public Access (bucket or
    account) does not neutralise it. Block Public Access is read only when needed."""
    grants = attribute(resource, "acl_public_grants") or []
    statements = public_statements(attribute(resource, "policy"))
    if not grants and not statements:
        return Result.passed("neither the ACL nor the bucket policy grants public access")
    blocks = _effective_blocks(resource)
    exposed: list[str] = []
    observed: dict[str, Any] = {}
    if grants and not blocks["ignore_public_acls"]:
        exposed += [f"the ACL grants {g['permission']} to {g['grantee']}" for g in grants]
        observed["acl_public_grants"] = grants
    if statements and not blocks["restrict_public_buckets"]:
        exposed.append(f"the bucket policy allows anyone ({', '.join(statements)})")
        observed["policy_public_statements"] = statements
    if exposed:
        return Result.failed("; ".join(exposed), **observed)
    return Result.passed("public grants exist but Block Public Access neutralises them", **blocks)


def _effective_blocks(resource: dict[str, Any]) -> dict[str, bool]:
    bucket = attribute(resource, "public_access_block") or {}
    account = attribute(resource, "account_public_access_block") or {}
    return {
        flag: bool(bucket.get(flag) or account.get(flag))
        for flag in ("ignore_public_acls", "restrict_public_buckets")
    }


@check(
    "aws.s3.secure_transport",
    resource=BUCKET,
    permissions=[_LIST, "s3:GetBucketPolicy"],
    reads=["policy"],
)
def secure_transport(resource: dict[str, Any], params: Any) -> Result:
    """Pass when the bucket policy denies everyone all S3 actions (or object reads and
    writes) under ``aws:SecureTransport = false``."""
    policy = attribute(resource, "policy")
    if policy is None:
        return Result.failed(
            "the bucket has no policy, so requests over plain HTTP are allowed", policy=None
        )
    denials = insecure_transport_denials(policy)
    if denials:
        return Result.passed(
            f"the bucket policy denies requests without TLS ({', '.join(denials)})",
            statements=denials,
        )
    return Result.failed(
        "the bucket policy has no Deny for aws:SecureTransport = false", policy=policy
    )


@check(
    "aws.s3.access_logging",
    resource=BUCKET,
    permissions=[_LIST, "s3:GetBucketLogging"],
    reads=["logging"],
)
def access_logging(resource: dict[str, Any], params: Any) -> Result:
    """Pass when server access logging delivers the bucket's access log somewhere."""
    logging = attribute(resource, "logging")
    if not logging:
        return Result.failed("server access logging is off", logging=None)
    return Result.passed(
        f"server access logs go to s3://{logging['target_bucket']}/{logging['target_prefix']}",
        **logging,
    )


@check(
    "aws.s3.bucket_public_access_block",
    resource=BUCKET,
    permissions=[_LIST, "s3:GetBucketPublicAccessBlock", "s3:GetAccountPublicAccessBlock"],
    reads=["public_access_block", "account_public_access_block"],
)
def bucket_public_access_block(resource: dict[str, Any], params: Any) -> Result:
    """Pass when each of the four Block Public Access settings is in effect for the bucket,
    set on the bucket itself or on the account (S3 applies the stricter of the two).

    ``observed`` holds the bucket's and the account's flags (None when not configured) and
    which settings are off on both. The account setting is read only when the bucket's own
    leave something off.
    """
    bucket = attribute(resource, "public_access_block")
    mine = bucket or {}
    if all(mine.get(flag) for flag in _PAB_FLAGS):
        return Result.passed(
            "all four Block Public Access settings are on for the bucket itself", bucket=bucket
        )
    account = attribute(resource, "account_public_access_block")
    theirs = account or {}
    off = [flag for flag in _PAB_FLAGS if not (mine.get(flag) or theirs.get(flag))]
    observed = {"bucket": bucket, "account": account}
    if off:
        return Result.failed(
            f"{', '.join(off)} {'is' if len(off) == 1 else 'are'} off on the bucket and on "
            "the account",
            off=off,
            **observed,
        )
    return Result.passed(
        "all four Block Public Access settings are in effect, "
        f"{', '.join(f for f in _PAB_FLAGS if not mine.get(f))} through the account",
        **observed,
    )


@check(
    "aws.s3.account_public_access_block",
    resource=ACCOUNT,
    permissions=["s3:GetAccountPublicAccessBlock"],
    reads=["public_access_block"],
)
def account_public_access_block(resource: dict[str, Any], params: Any) -> Result:
    """Pass when all four account-level Block Public Access settings are on."""
    flags = attribute(resource, "public_access_block")
    if flags is None:
        return Result.failed(
            "the account has no Block Public Access configuration (every setting off)",
            public_access_block=None,
        )
    off = [flag for flag in _PAB_FLAGS if not flags.get(flag)]
    if off:
        return Result.failed(f"{', '.join(off)} {'is' if len(off) == 1 else 'are'} off", **flags)
    return Result.passed("all four Block Public Access settings are on", **flags)
