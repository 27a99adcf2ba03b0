"""IAM users: the `aws.iam.user` collector, from the account's credential report.

One report per account replaces several calls per user (login profile, MFA devices,
access keys, their last use): its rows carry all of it.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from assay.checks.aws.collect.iam import (
    AUTHORIZATION_DETAILS,
    authorization_details,
    default_document,
    document,
)
from assay.checks.aws.provider import GLOBAL_REGION, AwsConnection
from assay.checks.aws.reading import error_code, listing, read_attribute, timestamp
from assay.checks.registry import collector, read_if_wanted
from assay.checks.result import ERROR_KEY

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient

USER = "aws.iam.user"
REPORT_PERMISSIONS = ("iam:GenerateCredentialReport", "iam:GetCredentialReport")
# What a user's effective policies are read with: the account's authorization details,
# and the documents of the AWS-managed policies attached (not in those details).
POLICY_PERMISSIONS = (AUTHORIZATION_DETAILS, "iam:GetPolicy", "iam:GetPolicyVersion")

# The report is generated asynchronously; AWS usually finishes within seconds.
REPORT_WAIT_SECONDS = 120.0
_NOT_READY = frozenset({"ReportInProgress", "ReportNotPresent", "ReportExpired"})
# Values the report uses for "no such date".
_NO_DATE = frozenset({"N/A", "no_information", "not_supported", ""})
_ROOT_ROW = "<root_account>"


@collector(USER, permissions=REPORT_PERMISSIONS, attributes={"policies": POLICY_PERMISSIONS})
def collect_users(
    conn: AwsConnection, wanted: frozenset[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Every IAM user of the account (the root user is `aws.iam.root_user`).

    Attributes: `created`, `password_enabled`, `password_last_used` (None when never
    used), `password_last_changed`, `mfa_active`, and `access_keys`: one entry per
    existing key, ``{"slot": 1 | 2, "active", "last_rotated", "last_used"}``. Times are
    RFC 3339 UTC, or None.

    `policies`: every policy that applies to the user, ``{"policy", "arn", "via",
    "document"}``, where `via` is ``inline``, ``attached`` or ``group <name>`` and `arn`
    is None for inline policies; a document that could not be read is a collection-error
    marker in its place. Read only when wanted (None: always).
    """
    iam: IAMClient = conn.client("iam")
    report = _credential_report(iam)
    policies = read_if_wanted(wanted, "policies", partial(_effective_policies, conn))
    scope = conn.scope(GLOBAL_REGION)
    for row in csv.DictReader(io.StringIO(report)):
        if row["user"] == _ROOT_ROW:
            continue
        yield {
            "type": USER,
            "id": row["arn"],
            "name": row["user"],
            "scope": scope,
            "attributes": {
                **_attributes(row),
                "policies": policies if ERROR_KEY in policies else policies.get(row["arn"], []),
            },
        }


def _effective_policies(conn: AwsConnection) -> Any:
    """User ARN -> the policies that apply to that user; a marker when the authorization
    details could not be read."""
    details = read_attribute(
        partial(authorization_details, conn),
        lambda found: found,
        permission=AUTHORIZATION_DETAILS,
    )
    if ERROR_KEY in details:
        return details
    local = {p["Arn"]: default_document(p) for p in details["Policies"]}
    groups = {g["GroupName"]: g for g in details["GroupDetailList"]}
    holders = [*details["UserDetailList"], *groups.values()]
    aws_managed = sorted(
        {
            a["PolicyArn"]
            for holder in holders
            for a in holder.get("AttachedManagedPolicies", [])
            if a["PolicyArn"] not in local
        }
    )
    found = dict(zip(aws_managed, conn.parallel(partial(_managed, conn), aws_managed), strict=True))
    documents = {**local, **found}

    def held(holder: dict[str, Any], inline_key: str, via: str) -> list[dict[str, Any]]:
        out = [
            {
                "policy": p["PolicyName"],
                "arn": None,
                "via": "inline" if via == "attached" else via,
                "document": document(p.get("PolicyDocument")),
            }
            for p in holder.get(inline_key, [])
        ]
        out += [
            {
                "policy": a["PolicyName"],
                "arn": a["PolicyArn"],
                "via": via,
                "document": documents.get(a["PolicyArn"]),
            }
            for a in holder.get("AttachedManagedPolicies", [])
        ]
        return out

    effective: dict[str, list[dict[str, Any]]] = {}
    for user in details["UserDetailList"]:
        mine = held(user, "UserPolicyList", "attached")
        for name in user.get("GroupList", []):
            if name in groups:
                mine += held(groups[name], "GroupPolicyList", f"group {name}")
        effective[user["Arn"]] = mine
    return effective


def _managed(conn: AwsConnection, arn: str) -> Any:
    """The default version's document of an AWS-managed policy (None if it is gone)."""
    iam: IAMClient = conn.client("iam")
    version = read_attribute(
        partial(iam.get_policy, PolicyArn=arn),
        lambda found: found["Policy"].get("DefaultVersionId"),
        permission="iam:GetPolicy",
        absent={"NoSuchEntity"},
    )
    if not isinstance(version, str):
        return version
    return read_attribute(
        partial(iam.get_policy_version, PolicyArn=arn, VersionId=version),
        lambda found: document(found["PolicyVersion"].get("Document")),
        permission="iam:GetPolicyVersion",
        absent={"NoSuchEntity"},
    )


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
