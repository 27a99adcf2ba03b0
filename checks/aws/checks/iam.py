"""IAM account checks: the password policy, and administrator customer/inline policies.

The root user (`aws.iam.root_user`) is judged by rules alone; users, from the credential
report, are in `iam_users`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assay.checks.aws.collect.iam import PASSWORD_POLICY, POLICY
from assay.checks.aws.policy import admin_statements
from assay.checks.registry import check
from assay.checks.result import Result, attribute


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
    reads=[
        "present",
        "minimum_password_length",
        "expire_passwords",
        "max_password_age",
        "password_reuse_prevention",
        *(name for _, name, _ in _CHARACTER_CLASSES),
    ],
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


@check(
    "aws.iam.no_admin_policies",
    resource=POLICY,
    permissions=["iam:GetAccountAuthorizationDetails"],
    reads=["document", "kind", "principal", "principal_type", "attachment_count"],
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
