"""The IAM checks and rule controls over hand-built snapshots.

moto reports the root user without MFA and without access keys, and dates every credential
"now"; the verdicts it cannot produce (root MFA passing, root keys, stale or unused
credentials failing) are pinned here with snapshots."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from aws_snapshots import COLLECTED_AT, judge, snapshot
from pydantic import ValidationError

from assay.checks import MissingEvidence, Status, collection_error, registry
from assay.checks.aws.checks.iam import PasswordPolicyParams, no_admin_policies, password_policy
from assay.checks.aws.checks.iam_users import (
    KeyRotationParams,
    UnusedCredentialsParams,
    access_key_rotation,
    unused_credentials,
    user_console_mfa,
)
from assay.checks.registry import NoParams

STRONG = {
    "present": True,
    "minimum_password_length": 14,
    "require_symbols": True,
    "require_numbers": True,
    "require_uppercase_characters": True,
    "require_lowercase_characters": True,
    "allow_users_to_change_password": True,
    "expire_passwords": True,
    "max_password_age": 90,
    "password_reuse_prevention": 24,
    "hard_expiry": False,
}


def policy(**changes: Any) -> dict[str, Any]:
    attributes = {**STRONG, **changes}
    return {
        "type": "aws.iam.password_policy",
        "id": "arn:aws:iam::123456789012:account-password-policy",
        "name": "account-password-policy",
        "scope": {"provider": "aws", "account": "123456789012", "region": "global"},
        "attributes": {k: v for k, v in attributes.items() if v is not ...},
    }


def test_is_registered_with_its_permission() -> None:
    spec = registry.get_check("aws.iam.password_policy")
    assert spec.func is password_policy
    assert spec.resource == "aws.iam.password_policy"
    assert spec.permissions == ("iam:GetAccountPasswordPolicy",)


def test_a_policy_meeting_every_default_requirement_passes() -> None:
    result = password_policy(policy(), PasswordPolicyParams())
    assert result.status is Status.PASS
    assert result.observed == {
        "minimum_password_length": 14,
        "max_password_age": 90,
        "password_reuse_prevention": 24,
    }


def test_no_policy_fails() -> None:
    resource = policy()
    resource["attributes"] = {"present": False}
    result = password_policy(resource, PasswordPolicyParams())
    assert result.status is Status.FAIL
    assert "no password policy" in result.reason
    assert result.observed == {"present": False}


def test_every_unmet_requirement_is_listed_with_its_observed_value() -> None:
    # AWS omits MaxPasswordAge and PasswordReusePrevention when they are not set.
    weak = policy(
        minimum_password_length=8,
        require_symbols=False,
        require_uppercase_characters=False,
        expire_passwords=False,
        max_password_age=...,
        password_reuse_prevention=...,
    )
    result = password_policy(weak, PasswordPolicyParams())
    assert result.status is Status.FAIL
    assert result.observed == {
        "minimum_password_length": 8,
        "require_symbols": False,
        "require_uppercase_characters": False,
        "max_password_age": None,
        "password_reuse_prevention": None,
    }
    for phrase in (
        "minimum length is 8, expected at least 12",
        "symbols are not required",
        "uppercase letters are not required",
        "passwords never expire",
        "0 previous passwords are remembered, expected at least 24",
    ):
        assert phrase in result.reason
    assert "numbers" not in result.reason and "lowercase" not in result.reason


def test_too_long_an_expiry_and_too_short_a_memory_fail_with_their_values() -> None:
    result = password_policy(
        policy(max_password_age=365, password_reuse_prevention=5), PasswordPolicyParams()
    )
    assert result.status is Status.FAIL
    assert result.observed == {"max_password_age": 365, "password_reuse_prevention": 5}
    assert "expire after 365 days, expected 90" in result.reason


def test_params_relax_requirements() -> None:
    relaxed = PasswordPolicyParams(
        min_length=8, require_symbols=False, max_age_days=None, reuse_prevention=None
    )
    weak = policy(
        minimum_password_length=8,
        require_symbols=False,
        expire_passwords=False,
        max_password_age=...,
        password_reuse_prevention=...,
    )
    assert password_policy(weak, relaxed).status is Status.PASS


def test_an_unreadable_policy_raises_missing_evidence() -> None:
    resource = policy()
    resource["attributes"] = {
        "present": collection_error(
            "AccessDenied", "not authorized", "iam:GetAccountPasswordPolicy"
        )
    }
    with pytest.raises(MissingEvidence, match="iam:GetAccountPasswordPolicy"):
        password_policy(resource, PasswordPolicyParams())


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"min_length": 4}, "min_length"),
        ({"reuse_prevention": 25}, "reuse_prevention"),
        ({"max_age": 90}, "max_age"),
    ],
)
def test_bad_params_are_rejected_naming_the_field(params: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PasswordPolicyParams.model_validate(params)
    assert caught.value.errors()[0]["loc"] == (field,)


@pytest.mark.parametrize(
    ("attributes", "mfa", "keys"),
    [
        ({"mfa_enabled": True, "access_keys_present": False}, Status.PASS, Status.PASS),
        ({"mfa_enabled": False, "access_keys_present": True}, Status.FAIL, Status.FAIL),
    ],
)
def test_root_user_controls(attributes: dict[str, bool], mfa: Status, keys: Status) -> None:
    assert judge("aws-iam-root-mfa", attributes).status is mfa
    result = judge("aws-iam-root-access-keys", attributes)
    assert result.status is keys
    if keys is Status.FAIL:
        assert result.reason == "access_keys_present is true, expected false"


def test_an_unreadable_account_summary_is_an_error_for_both_root_controls() -> None:
    marker = collection_error("AccessDenied", "denied", "iam:GetAccountSummary")
    both = {"mfa_enabled": marker, "access_keys_present": marker}
    for control in ("aws-iam-root-mfa", "aws-iam-root-access-keys"):
        result = judge(control, both)
        assert result.status is Status.ERROR
        assert "missing permission iam:GetAccountSummary" in result.reason


def days_before(days: int) -> str:
    when = datetime.fromisoformat(COLLECTED_AT) - timedelta(days=days)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def user(**attributes: Any) -> dict[str, Any]:
    base = {
        "created": days_before(400),
        "password_enabled": False,
        "password_last_used": None,
        "password_last_changed": None,
        "mfa_active": False,
        "access_keys": [],
    }
    return snapshot("aws.iam.user", {**base, **attributes}, name="alice")


def key(slot: int, rotated: int, used: int | None, active: bool = True) -> dict[str, Any]:
    return {
        "slot": slot,
        "active": active,
        "last_rotated": days_before(rotated),
        "last_used": days_before(used) if used is not None else None,
    }


def test_console_mfa() -> None:
    no_password = user()
    assert user_console_mfa(no_password, NoParams()).status is Status.NOT_APPLICABLE
    with_mfa = user(password_enabled=True, mfa_active=True)
    assert user_console_mfa(with_mfa, NoParams()).status is Status.PASS
    without = user_console_mfa(user(password_enabled=True), NoParams())
    assert without.status is Status.FAIL
    assert "mfa_active is false" in without.reason


def test_key_rotation_fails_for_each_stale_active_key() -> None:
    keys = [key(1, rotated=120, used=1), key(2, rotated=10, used=None)]
    result = access_key_rotation(user(access_keys=keys), KeyRotationParams())
    assert result.status is Status.FAIL
    assert result.reason == "access_key_1 was last rotated 120 days ago, more than 90"
    assert result.observed == {"access_key_1_age_days": 120}
    fresh = access_key_rotation(user(access_keys=keys[1:]), KeyRotationParams())
    assert (fresh.status, fresh.observed) == (Status.PASS, {"access_key_2_age_days": 10})
    loose = access_key_rotation(user(access_keys=keys), KeyRotationParams(max_age_days=180))
    assert loose.status is Status.PASS


def test_key_rotation_ignores_inactive_keys() -> None:
    inactive = user(access_keys=[key(1, rotated=900, used=None, active=False)])
    assert access_key_rotation(inactive, KeyRotationParams()).status is Status.NOT_APPLICABLE


def test_unused_credentials_count_from_last_use_else_from_creation() -> None:
    idle = user(
        password_enabled=True,
        password_last_used=days_before(60),
        access_keys=[key(1, rotated=200, used=None), key(2, rotated=200, used=3)],
    )
    result = unused_credentials(idle, UnusedCredentialsParams())
    assert result.status is Status.FAIL
    assert result.reason == (
        "password unused for 60 days, more than 45; disable it; "
        "access_key_1 unused for 200 days, more than 45; disable it"
    )
    assert result.observed == {
        "password_unused_days": 60,
        "access_key_1_unused_days": 200,
        "access_key_2_unused_days": 3,
    }
    never_used = user(password_enabled=True, password_last_changed=days_before(10))
    assert unused_credentials(never_used, UnusedCredentialsParams()).status is Status.PASS
    assert unused_credentials(user(), UnusedCredentialsParams()).status is Status.NOT_APPLICABLE


def test_user_checks_need_collected_at() -> None:
    resource = user(access_keys=[key(1, rotated=1, used=1)])
    del resource["collected_at"]
    with pytest.raises(MissingEvidence, match="collected_at"):
        access_key_rotation(resource, KeyRotationParams())


def test_user_controls_run_with_their_shipped_params() -> None:
    stale = {
        "created": days_before(100),
        "password_enabled": False,
        "password_last_used": None,
        "password_last_changed": None,
        "mfa_active": False,
        "access_keys": [key(1, rotated=100, used=50)],
    }
    assert judge("aws-iam-access-key-rotation", stale).status is Status.FAIL
    assert judge("aws-iam-unused-credentials", stale).status is Status.FAIL
    assert judge("aws-iam-user-console-mfa", stale).status is Status.NOT_APPLICABLE


ADMIN = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def test_admin_policies_fail_whether_managed_or_inline() -> None:
    managed = snapshot(
        "aws.iam.policy", {"kind": "managed", "document": ADMIN, "attachment_count": 2}
    )
    result = no_admin_policies(managed, NoParams())
    assert result.status is Status.FAIL
    assert result.reason == (
        "the customer-managed policy (attached 2 times) allows * on * (statement #1)"
    )
    inline = snapshot(
        "aws.iam.policy",
        {
            "kind": "inline",
            "document": ADMIN,
            "principal": "arn:aws:iam::123456789012:role/ops",
            "principal_type": "role",
        },
    )
    assert "inline policy of role arn:aws:iam::123456789012:role/ops" in (
        no_admin_policies(inline, NoParams()).reason
    )
    scoped = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    managed["attributes"]["document"] = scoped
    assert no_admin_policies(managed, NoParams()).status is Status.PASS
