"""IAM users, from the account's credential report, and the checks on their credentials.

One report per account replaces several calls per user (login profile, MFA devices,
access keys, their last use): its rows carry all of it.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from assay.checks.aws.api import age_days, error_code, listing, timestamp
from assay.checks.aws.provider import GLOBAL_REGION, AwsConnection
from assay.checks.registry import check, collector
from assay.checks.result import Result, attribute

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

USER = "aws.iam.user"
REPORT_PERMISSIONS = ("iam:GenerateCredentialReport", "iam:GetCredentialReport")

# The report is generated asynchronously; AWS usually finishes within seconds.
REPORT_WAIT_SECONDS = 120.0
_NOT_READY = frozenset({"ReportInProgress", "ReportNotPresent", "ReportExpired"})
# Values the report uses for "no such date".
_NO_DATE = frozenset({"N/A", "no_information", "not_supported", ""})
_ROOT_ROW = "<root_account>"


@collector(USER, permissions=REPORT_PERMISSIONS)
def collect_users(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """Every IAM user of the account (the root user is `aws.iam.root_user`).

    Attributes: `created`, `password_enabled`, `password_last_used` (None when never
    used), `password_last_changed`, `mfa_active`, and `access_keys`: one entry per
    existing key, ``{"slot": 1 | 2, "active", "last_rotated", "last_used"}``. Times are
    RFC 3339 UTC, or None.
    """
    iam: IAMClient = conn.client("iam")
    report = _credential_report(iam)
    scope = conn.scope(GLOBAL_REGION)
    for row in csv.DictReader(io.StringIO(report)):
        if row["user"] == _ROOT_ROW:
            continue
        yield {
            "type": USER,
            "id": row["arn"],
            "name": row["user"],
            "scope": scope,
            "attributes": _attributes(row),
        }


def _credential_report(iam: IAMClient) -> str:
    deadline = time.monotonic() + REPORT_WAIT_SECONDS
    delay = 0.5
    while True:
        with listing("iam:GenerateCredentialReport"):
            state = iam.generate_credential_report().get("State")
        if state == "COMPLETE":
            try:
                with listing("iam:GetCredentialReport"):
                    return iam.get_credential_report()["Content"].decode("utf-8")
            except ClientError as exc:
                if error_code(exc) not in _NOT_READY:
                    raise
        if time.monotonic() + delay > deadline:
            raise TimeoutError(
                f"the IAM credential report was not ready within {REPORT_WAIT_SECONDS:g}s"
            )
        time.sleep(delay)
        delay = min(delay * 2, 8.0)


def _attributes(row: dict[str, str]) -> dict[str, Any]:
    keys = []
    for slot in (1, 2):
        prefix = f"access_key_{slot}_"
        rotated = _date(row.get(prefix + "last_rotated", "N/A"))
        if rotated is None:
            continue  # no key in this slot
        keys.append(
            {
                "slot": slot,
                "active": row.get(prefix + "active") == "true",
                "last_rotated": rotated,
                "last_used": _date(row.get(prefix + "last_used_date", "N/A")),
            }
        )
    return {
        "created": _date(row["user_creation_time"]),
        "password_enabled": row.get("password_enabled") == "true",
        "password_last_used": _date(row.get("password_last_used", "N/A")),
        "password_last_changed": _date(row.get("password_last_changed", "N/A")),
        "mfa_active": row.get("mfa_active") == "true",
        "access_keys": keys,
    }


def _date(value: str) -> str | None:
    return None if value in _NO_DATE else timestamp(value)


@check("aws.iam.user_console_mfa", resource=USER, permissions=REPORT_PERMISSIONS)
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
