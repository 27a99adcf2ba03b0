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


AUTHORIZATION_DETAILS = "iam:GetAccountAuthorizationDetails"


def authorization_details(conn: AwsConnection) -> dict[str, list[dict[str, Any]]]:
    """Every user, group and role with its inline policies and attachments, and every
    customer-managed policy with its versions: the account's
    ``get_account_authorization_details`` pages merged, read once per connection (the
    policy and user collectors share it). A failed call raises botocore's ClientError:
    the caller decides whether that fails a list or spoils one attribute."""

    def read() -> dict[str, list[dict[str, Any]]]:
        iam: IAMClient = conn.client("iam")
        merged: dict[str, list[dict[str, Any]]] = {
            key: [] for key in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")
        }
        pages = iam.get_paginator("get_account_authorization_details").paginate(
            Filter=["LocalManagedPolicy", "User", "Group", "Role"]
        )
        for page in pages:
            found: dict[str, Any] = dict(page)
            for key, items in merged.items():
                items += found.get(key, [])
        return merged

    return conn.shared("iam.authorization_details", read)


@collector(POLICY, permissions=[AUTHORIZATION_DETAILS])
def collect_policies(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """Every customer-managed policy (its default version) and every inline policy of a
    user, group or role, read in one paginated call for the whole account.

    Managed: id is the policy ARN; attributes `kind` ``"managed"``, `document`,
    `attachment_count`. Inline: id is ``<principal ARN>#policy/<name>`` (inline policies
    have no ARN); attributes `kind` ``"inline"``, `document`, `principal` (its ARN),
    `principal_type` (user, group or role).
    """
    with listing(AUTHORIZATION_DETAILS):
        details = authorization_details(conn)
    scope = conn.scope(GLOBAL_REGION)
    for policy in details["Policies"]:
        yield _managed(scope, policy)
    for list_key, name_key, policies_key, kind in _INLINE:
        for principal in details[list_key]:
            for inline in principal.get(policies_key, []):
                yield _inline(scope, principal["Arn"], principal[name_key], kind, inline)


def default_document(policy: dict[str, Any]) -> dict[str, Any] | None:
    """The document of a managed policy's default version, from its authorization details."""
    versions = policy.get("PolicyVersionList", [])
    default: dict[str, Any] = next((v for v in versions if v.get("IsDefaultVersion")), {})
    return document(default.get("Document"))


def _managed(scope: dict[str, str], policy: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": POLICY,
        "id": policy["Arn"],
        # The name is the ARN's last segment, for when a response omits PolicyName.
        "name": policy.get("PolicyName") or str(policy["Arn"]).rsplit("/", 1)[-1],
        "scope": scope,
        "attributes": {
            "kind": "managed",
            "document": default_document(policy),
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
            "document": document(inline.get("PolicyDocument")),
            "principal": arn,
            "principal_type": kind,
        },
    }


def document(raw: Any) -> dict[str, Any] | None:
    """A policy document as IAM returned it: botocore decodes IAM's URL-encoded documents
    to dicts; the raw text is parsed too."""
    if raw is None:
        return None
    if isinstance(raw, str):
        return parse(raw)
    return without_floats(raw)  # type: ignore[no-any-return]
