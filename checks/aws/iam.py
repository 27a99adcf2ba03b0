"""IAM account settings: the password policy, the root user, and customer/inline policies.

Users, from the credential report, are in `iam_users`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from botocore import xform_name
from pydantic import BaseModel, ConfigDict, Field

from assay.checks.aws.api import listing, read_attribute
from assay.checks.aws.policy import admin_statements, parse
from assay.checks.aws.provider import GLOBAL_REGION, AwsConnection
from assay.checks.paths import without_floats
from assay.checks.registry import check, collector
from assay.checks.result import Result, attribute

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_iam.type_defs import (
        GetAccountPasswordPolicyResponseTypeDef,
        GetAccountSummaryResponseTypeDef,
    )

PASSWORD_POLICY = "aws.iam.password_policy"
ROOT_USER = "aws.iam.root_user"
POLICY = "aws.iam.policy"


@collector(PASSWORD_POLICY, permissions=["iam:GetAccountPasswordPolicy"])
def collect_password_policy(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """One resource per account.

    Attributes: ``present: True`` and the policy's fields in snake_case
    (``minimum_password_length``, ``require_symbols``, ``max_password_age``, ...; a field
    AWS omits is absent), or ``{"present": False}`` when the account has no policy.
    """
    iam: IAMClient = conn.client("iam")
    policy = read_attribute(
        iam.get_account_password_policy,
        _policy,
        permission="iam:GetAccountPasswordPolicy",
        absent={"NoSuchEntity"},
        default={"present": False},
    )
    # A denied read leaves a marker in `present`, which every password check reads first.
    attributes = policy if "present" in policy else {"present": policy}
    yield {
        "type": PASSWORD_POLICY,
        "id": f"arn:{conn.partition}:iam::{conn.account}:account-password-policy",
        "name": "account-password-policy",
        "scope": conn.scope(GLOBAL_REGION),
        "attributes": attributes,
    }


def _policy(response: GetAccountPasswordPolicyResponseTypeDef) -> dict[str, Any]:
    fields = response["PasswordPolicy"]
    return {"present": True, **{xform_name(key): value for key, value in fields.items()}}


class PasswordPolicyParams(BaseModel):
    """What the policy must require; `None` for the last two drops that requirement."""

    model_config = ConfigDict(extra="forbid")

    min_length: int = Field(default=12, ge=6, le=128)
    require_symbols: bool = True
    require_numbers: bool = True
    require_uppercase: bool = True
    require_lowercase: bool = True
    max_age_days: int | None = Field(default=90, ge=1, le=1095)
    reuse_prevention: int | None = Field(default=24, ge=1, le=24)


# (param, attribute, what is unmet when the policy does not require it)
_CHARACTER_CLASSES = (
    ("require_symbols", "require_symbols", "symbols"),
    ("require_numbers", "require_numbers", "numbers"),
    ("require_uppercase", "require_uppercase_characters", "uppercase letters"),
    ("require_lowercase", "require_lowercase_characters", "lowercase letters"),
)


@check(
    PASSWORD_POLICY,
    resource=PASSWORD_POLICY,
    params=PasswordPolicyParams,
    permissions=["iam:GetAccountPasswordPolicy"],
)
def password_policy(resource: dict[str, Any], params: PasswordPolicyParams) -> Result:
    """Pass when the policy meets every requirement in `params`; a failure lists each unmet
    one with the value observed (``observed`` maps attribute -> observed value)."""
    if not attribute(resource, "present"):
        return Result.failed(
            "the account has no password policy, so IAM's default (8 characters, "
            "no complexity, no expiry, reuse allowed) applies",
            present=False,
        )
    unmet: list[str] = []
    observed: dict[str, Any] = {}

    length = attribute(resource, "minimum_password_length") or 0
    if length < params.min_length:
        unmet.append(f"minimum length is {length}, expected at least {params.min_length}")
        observed["minimum_password_length"] = length

    for param, name, what in _CHARACTER_CLASSES:
        if getattr(params, param) and not attribute(resource, name):
            unmet.append(f"{what} are not required")
            observed[name] = bool(attribute(resource, name))

    if params.max_age_days is not None:
        expires = attribute(resource, "expire_passwords")
        age = attribute(resource, "max_password_age")
        if not expires or age is None:
            unmet.append(f"passwords never expire, expected within {params.max_age_days} days")
            observed["max_password_age"] = None
        elif age > params.max_age_days:
            unmet.append(f"passwords expire after {age} days, expected {params.max_age_days}")
            observed["max_password_age"] = age

    if params.reuse_prevention is not None:
        remembered = attribute(resource, "password_reuse_prevention")
        if remembered is None or remembered < params.reuse_prevention:
            unmet.append(
                f"{remembered or 0} previous passwords are remembered, "
                f"expected at least {params.reuse_prevention}"
            )
            observed["password_reuse_prevention"] = remembered

    if unmet:
        return Result.failed("; ".join(unmet), **observed)
    return Result.passed("the password policy meets every requirement", **_summary(resource))


def _summary(resource: dict[str, Any]) -> dict[str, Any]:
    keys = ("minimum_password_length", "max_password_age", "password_reuse_prevention")
    return {key: resource["attributes"].get(key) for key in keys}


@collector(ROOT_USER, permissions=["iam:GetAccountSummary"])
def collect_root_user(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """One resource per account: the root user, from the account summary.

    Attributes: `mfa_enabled` and `access_keys_present` (bools). The summary is current,
    unlike the credential report's root row, which may be four hours old.
    """
    iam: IAMClient = conn.client("iam")
    summary = read_attribute(iam.get_account_summary, _root, permission="iam:GetAccountSummary")
    yield {
        "type": ROOT_USER,
        "id": f"arn:{conn.partition}:iam::{conn.account}:root",
        "name": "root",
        "scope": conn.scope(GLOBAL_REGION),
        # A denied read leaves its marker in both attributes.
        "attributes": summary if "mfa_enabled" in summary else dict.fromkeys(_ROOT_KEYS, summary),
    }


_ROOT_KEYS = ("mfa_enabled", "access_keys_present")


def _root(response: GetAccountSummaryResponseTypeDef) -> dict[str, bool]:
    summary = response["SummaryMap"]
    return {
        "mfa_enabled": summary.get("AccountMFAEnabled", 0) == 1,
        "access_keys_present": summary.get("AccountAccessKeysPresent", 0) > 0,
    }


# Principals carry their inline policies in these lists of the authorization details.
_INLINE = (
    ("UserDetailList", "UserName", "UserPolicyList", "user"),
    ("GroupDetailList", "GroupName", "GroupPolicyList", "group"),
    ("RoleDetailList", "RoleName", "RolePolicyList", "role"),
)


@collector(POLICY, permissions=["iam:GetAccountAuthorizationDetails"])
def collect_policies(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """Every customer-managed policy (its default version) and every inline policy of a
    user, group or role, read in one paginated call for the whole account.

    Managed: id is the policy ARN; attributes `kind` ``"managed"``, `document`,
    `attachment_count`. Inline: id is ``<principal ARN>#policy/<name>`` (inline policies
    have no ARN); attributes `kind` ``"inline"``, `document`, `principal` (its ARN),
    `principal_type` (user, group or role).
    """
    iam: IAMClient = conn.client("iam")
    pages = iam.get_paginator("get_account_authorization_details").paginate(
        Filter=["LocalManagedPolicy", "User", "Group", "Role"]
    )
    scope = conn.scope(GLOBAL_REGION)
    with listing("iam:GetAccountAuthorizationDetails"):
        for page in pages:
            details: dict[str, Any] = dict(page)
            for policy in details.get("Policies", []):
                yield _managed(scope, policy)
            for list_key, name_key, policies_key, kind in _INLINE:
                for principal in details.get(list_key, []):
                    for inline in principal.get(policies_key, []):
                        yield _inline(scope, principal["Arn"], principal[name_key], kind, inline)


def _managed(scope: dict[str, str], policy: dict[str, Any]) -> dict[str, Any]:
    versions = policy.get("PolicyVersionList", [])
    default: dict[str, Any] = next((v for v in versions if v.get("IsDefaultVersion")), {})
    return {
        "type": POLICY,
        "id": policy["Arn"],
        # The name is the ARN's last segment, for when a response omits PolicyName.
        "name": policy.get("PolicyName") or str(policy["Arn"]).rsplit("/", 1)[-1],
        "scope": scope,
        "attributes": {
            "kind": "managed",
            "document": _document(default.get("Document")),
            "attachment_count": int(policy.get("AttachmentCount", 0)),
        },
    }


def _inline(
    scope: dict[str, str], arn: str, principal: str, kind: str, inline: dict[str, Any]
) -> dict[str, Any]:
    name = inline.get("PolicyName", "")
    return {
        "type": POLICY,
        "id": f"{arn}#policy/{name}",
        "name": f"{principal}/{name}",
        "scope": scope,
        "attributes": {
            "kind": "inline",
            "document": _document(inline.get("PolicyDocument")),
            "principal": arn,
            "principal_type": kind,
        },
    }


def _document(document: Any) -> dict[str, Any] | None:
    # botocore decodes IAM's URL-encoded documents to dicts; be ready for the raw text too.
    if document is None:
        return None
    if isinstance(document, str):
        return parse(document)
    return without_floats(document)  # type: ignore[no-any-return]


@check(
    "aws.iam.no_admin_policies",
    resource=POLICY,
    permissions=["iam:GetAccountAuthorizationDetails"],
)
def no_admin_policies(resource: dict[str, Any], params: Any) -> Result:
    """Fail when a statement of the policy allows Action "*" on Resource "*".

    Conditions are not weighed: an administrator policy behind a condition is still one.
    """
    found = admin_statements(attribute(resource, "document"))
    kind = attribute(resource, "kind")
    where = (
        f"inline policy of {attribute(resource, 'principal_type')} "
        f"{attribute(resource, 'principal')}"
        if kind == "inline"
        else f"customer-managed policy (attached {attribute(resource, 'attachment_count')} times)"
    )
    if found:
        return Result.failed(
            f"the {where} allows * on * ({', '.join(found)})", statements=found, kind=kind
        )
    return Result.passed(f"no statement of the {where} allows * on *", kind=kind)
