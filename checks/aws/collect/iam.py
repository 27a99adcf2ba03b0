"""IAM account collectors: the password policy, the root user, and customer/inline policies.

Users, from the credential report, are in `iam_users`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from botocore import xform_name

from assay.checks.attribute_paths import without_floats
from assay.checks.aws.policy import parse
from assay.checks.aws.provider import GLOBAL_REGION, AwsConnection
from assay.checks.aws.reading import listing, read_attribute
from assay.checks.registry import collector

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
