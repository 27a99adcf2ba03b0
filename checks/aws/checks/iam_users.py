"""IAM user checks over `aws.iam.user`: console MFA, access key rotation, unused credentials,
and administrative privileges through the user's effective policies."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assay.checks.aws.collect.iam_users import POLICY_PERMISSIONS, REPORT_PERMISSIONS, USER
from assay.checks.aws.policy import administrative_grants
from assay.checks.registry import check
from assay.checks.result import (
    ERROR_KEY,
    Result,
    attribute,
    collected_at,
    describe_error,
)
from assay.words import counted


def age_days(resource: Mapping[str, Any], stamp: str) -> int:
    """Whole days from `stamp` to when `resource` was collected.

    Ages are measured at collection, not at evaluation, so a verdict replayed from a
    stored snapshot is the verdict the run recorded.
    """
    collected = collected_at(resource, "measure ages against")
    return (collected - datetime.fromisoformat(stamp)).days


@check(
    "aws.iam.user_console_mfa",
    resource=USER,
    permissions=REPORT_PERMISSIONS,
    reads=["password_enabled", "mfa_active"],
)
def user_console_mfa(resource: dict[str, Any], params: Any) -> Result:
    """Pass when a user with a console password has an MFA device; users without a
    password are not_applicable."""
    if not attribute(resource, "password_enabled"):
        return Result.not_applicable("the user has no console password", password_enabled=False)
    if attribute(resource, "mfa_active"):
        return Result.passed("the console user has an active MFA device", mfa_active=True)
    return Result.failed(
        "the user can sign in to the console with a password alone (mfa_active is false)",
        password_enabled=True,
        mfa_active=False,
    )


class KeyRotationParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_age_days: int = Field(default=90, ge=1, le=3650)


@check(
    "aws.iam.access_key_rotation",
    resource=USER,
    params=KeyRotationParams,
    permissions=REPORT_PERMISSIONS,
    reads=["access_keys"],
)
def access_key_rotation(resource: dict[str, Any], params: KeyRotationParams) -> Result:
    """Pass when every active access key was created (rotated) within `max_age_days`
    of collection; users without an active key are not_applicable."""
    active = [k for k in attribute(resource, "access_keys") if k["active"]]
    if not active:
        return Result.not_applicable("the user has no active access key")
    ages = {f"access_key_{k['slot']}": age_days(resource, k["last_rotated"]) for k in active}
    stale = {name: age for name, age in ages.items() if age > params.max_age_days}
    if stale:
        return Result.failed(
            "; ".join(
                f"{name} was last rotated {age} days ago, more than {params.max_age_days}"
                for name, age in stale.items()
            ),
            **{f"{name}_age_days": age for name, age in stale.items()},
        )
    return Result.passed(
        f"every active access key is at most {params.max_age_days} days old",
        **{f"{name}_age_days": age for name, age in ages.items()},
    )


class UnusedCredentialsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_unused_days: int = Field(default=45, ge=1, le=3650)


@check(
    "aws.iam.unused_credentials",
    resource=USER,
    params=UnusedCredentialsParams,
    permissions=REPORT_PERMISSIONS,
    reads=[
        "password_enabled",
        "password_last_used",
        "password_last_changed",
        "created",
        "access_keys",
    ],
)
def unused_credentials(resource: dict[str, Any], params: UnusedCredentialsParams) -> Result:
    """Fail when an enabled password or active access key has gone unused for more than
    `max_unused_days`. A credential never used counts from when it was set (password)
    or created (key). Users with no enabled credential are not_applicable."""
    idle: dict[str, int] = {}
    if attribute(resource, "password_enabled"):
        since = (
            attribute(resource, "password_last_used")
            or attribute(resource, "password_last_changed")
            or attribute(resource, "created")
        )
        idle["password"] = age_days(resource, since)
    for key in attribute(resource, "access_keys"):
        if key["active"]:
            idle[f"access_key_{key['slot']}"] = age_days(
                resource, key["last_used"] or key["last_rotated"]
            )
    if not idle:
        return Result.not_applicable("the user has no enabled password or active access key")
    unused = {name: days for name, days in idle.items() if days > params.max_unused_days}
    observed = {f"{name}_unused_days": days for name, days in idle.items()}
    if unused:
        return Result.failed(
            "; ".join(
                f"{name} unused for {days} days, more than {params.max_unused_days}; disable it"
                for name, days in unused.items()
            ),
            **observed,
        )
    return Result.passed(
        f"every enabled credential was used within {params.max_unused_days} days", **observed
    )


class AdminPrivilegesParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    escalation_actions: list[str] = Field(
        default=[
            "iam:AttachUserPolicy",
            "iam:AttachGroupPolicy",
            "iam:AttachRolePolicy",
            "iam:PutUserPolicy",
            "iam:PutGroupPolicy",
            "iam:PutRolePolicy",
            "iam:CreatePolicyVersion",
            "iam:SetDefaultPolicyVersion",
            "iam:AddUserToGroup",
            "iam:UpdateAssumeRolePolicy",
            "iam:CreateAccessKey",
            "iam:CreateLoginProfile",
            "iam:UpdateLoginProfile",
        ],
        min_length=1,
        description="Actions that let a principal raise its own privileges; a policy "
        "allowing any of them on every resource (iam:* does) makes its holder an "
        "administrator.",
    )


@check(
    "aws.iam.user_no_admin_privileges",
    resource=USER,
    params=AdminPrivilegesParams,
    permissions=[*REPORT_PERMISSIONS, *POLICY_PERMISSIONS],
    reads=["policies"],
)
def user_no_admin_privileges(resource: dict[str, Any], params: AdminPrivilegesParams) -> Result:
    """Fail when a policy that applies to the user (inline, attached, or through a group)
    allows every action, or a privilege-escalation action, on every resource; the reason
    names each granting policy and how the user holds it. A policy document that could not
    be read makes the verdict `error` unless another policy already fails the user."""
    grants: list[dict[str, Any]] = []
    unknown: list[str] = []
    for held in attribute(resource, "policies"):
        where = f"{held['policy']} ({held['via']})"
        doc = held["document"]
        if isinstance(doc, dict) and ERROR_KEY in doc:
            unknown.append(f"{where}: {describe_error(doc)}")
            continue
        found = administrative_grants(doc, params.escalation_actions)
        if found:
            grants.append(
                {
                    "policy": held["policy"],
                    "arn": held["arn"],
                    "via": held["via"],
                    "statements": found,
                }
            )
    if grants:
        return Result.failed(
            "the user holds administrative privileges: "
            + "; ".join(
                f"{g['policy']} ({g['via']}): {', '.join(g['statements'])}" for g in grants
            ),
            grants=grants,
        )
    if unknown:
        return Result.error(f"a policy of the user could not be read: {'; '.join(unknown)}")
    count = len(attribute(resource, "policies"))
    return Result.passed(
        f"none of the user's {counted(count, 'policy', 'policies')} grants administrative "
        "privileges",
        policies=count,
    )
