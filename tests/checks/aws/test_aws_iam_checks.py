"""aws.iam.password_policy over hand-built password-policy snapshots."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from assay.checks import MissingEvidence, Status, collection_error, registry
from assay.checks.aws.iam import PasswordPolicyParams, password_policy

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
