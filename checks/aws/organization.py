"""An AWS Organization as one target: its active accounts, each reached through a role.

A target with ``organization: true`` stands for every active account the credentials
can list (``organizations:ListAccounts``, from the management account or a delegated
administrator), narrowed by ``accounts: {include, exclude, ous}``. Each account becomes
a target of its own (`OrganizationOptions.members`) that assumes
``arn:<partition>:iam::<account>:role/<role_name>`` with the external id; an account
whose role cannot be assumed fails alone, as any unreachable target does.

A member with several regions splits into work units (`OrganizationOptions.split_regions`):
one per region for the collectors that read one region at a time (they declare
``ec2:DescribeRegions``), and one for the rest (IAM, the bucket list, and the
account-wide views built from every region, `ACCOUNT_WIDE`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    from assay.checks.aws.provider import AwsTarget

_ACCOUNT = re.compile(r"^\d{12}$")
_OU = re.compile(r"^(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})$")
_ROLE_NAME = re.compile(r"^[\w+=,.@-]+(/[\w+=,.@-]+)*$")
ACTIVE = "ACTIVE"
# The permissions discovery needs, in the account whose credentials list the organisation.
DISCOVERY_PERMISSIONS = (
    "organizations:ListAccounts",
    "organizations:ListAccountsForParent",
    "organizations:ListOrganizationalUnitsForParent",
    "sts:AssumeRole",
)


def account_wide_types() -> frozenset[str]:
    """Resource types whose collectors read every region but describe the account as a
    whole (a multi-region trail is seen from each region): never split by region."""
    from assay.checks.aws.collect import cloudtrail

    return frozenset({cloudtrail.ACCOUNT, cloudtrail.TRAIL})


class AccountFilter(BaseModel):
    """Which of the organisation's active accounts to audit (all, by default)."""

    model_config = ConfigDict(extra="forbid")

    include: list[str] = Field(default_factory=list, description="Only these account ids.")
    exclude: list[str] = Field(default_factory=list, description="Never these account ids.")
    ous: list[str] = Field(
        default_factory=list,
        description="Only accounts under these organisational units (or roots), at any depth.",
    )

    @field_validator("include", "exclude")
    @classmethod
    def _accounts(cls, ids: list[str]) -> list[str]:
        for account in ids:
            if not _ACCOUNT.match(account):
                raise ValueError(f"{account!r} is not an AWS account id; expected 12 digits")
        return ids

    @field_validator("ous")
    @classmethod
    def _ous(cls, ids: list[str]) -> list[str]:
        for ou in ids:
            if not _OU.match(ou):
                raise ValueError(f"{ou!r} is not an OU or root id; expected ou-... or r-...")
        return ids


class OrganizationOptions(BaseModel):
    """The organisation fields of an AWS target (`AwsTarget` inherits them)."""

    organization: bool = Field(
        default=False,
        description="Audit every active account of the AWS Organization the credentials "
        "can list, each through `role_name`.",
    )
    role_name: str | None = Field(
        default=None, description="The role assumed in each account (organization only)."
    )
    accounts: AccountFilter | None = Field(
        default=None, description="Which accounts: include, exclude, ous (organization only)."
    )

    @field_validator("role_name")
    @classmethod
    def _role_name(cls, name: str | None) -> str | None:
        if name is not None and not _ROLE_NAME.match(name):
            raise ValueError(f"expected an IAM role name (optionally with a path); got {name!r}")
        return name

    @model_validator(mode="after")
    def _organization_fields(self) -> OrganizationOptions:
        if not self.organization:
            if self.role_name is not None or self.accounts is not None:
                raise ValueError("role_name and accounts are only used with organization: true")
            return self
        if self.role_name is None:
            raise ValueError(
                "organization: true needs role_name, the role to assume in each account"
            )
        if getattr(self, "role_arn", None) is not None:
            raise ValueError(
                "organization: true lists the accounts with the target's own credentials; "
                "drop role_arn (each account's role is role_name)"
            )
        return self

    def members(self, timeout: float) -> list[tuple[str, BaseModel]] | None:
        """``(account id, options)`` for every account to audit, by account id; None
        unless ``organization: true`` (the target stands for itself). Raises (botocore
        errors) when the accounts cannot be listed."""
        if not self.organization:
            return None
        target: AwsTarget = self  # type: ignore[assignment]
        return [
            (account, member_options(target, account, partition))
            for account, partition in list_accounts(target, timeout)
        ]

    def split_regions(
        self, resource_types: Sequence[str]
    ) -> list[tuple[str | None, BaseModel, tuple[str, ...]]]:
        """The target's work units: ``(region, options, resource types)``, the first with
        region None for the types that are not read one region at a time."""
        target: AwsTarget = self  # type: ignore[assignment]
        regions = target.regions
        if not isinstance(regions, list) or len(regions) < 2:
            return [(None, target, tuple(resource_types))]
        regional = _regional(resource_types)
        rest = tuple(t for t in resource_types if t not in regional)
        units: list[tuple[str | None, BaseModel, tuple[str, ...]]] = [(None, target, rest)]
        if regional:
            units += [
                (region, target.model_copy(update={"regions": [region]}), regional)
                for region in regions
            ]
        return units


def _regional(resource_types: Sequence[str]) -> tuple[str, ...]:
    from assay.checks import registry
    from assay.checks.aws.provider import DESCRIBE_REGIONS

    wide = account_wide_types()
    specs = {t: registry.get_collector(t) for t in resource_types if t not in wide}
    return tuple(
        t for t, spec in specs.items() if spec is not None and DESCRIBE_REGIONS in spec.permissions
    )


def member_options(target: AwsTarget, account: str, partition: str = "aws") -> AwsTarget:
    """The options of one account: the target's, with the account's role assumed.

    Adaptive retries unless the target chose a mode: shards of one run may call the same
    account at once, and adaptive mode slows the client down when AWS throttles it.
    """
    update: dict[str, Any] = {
        "organization": False,
        "role_name": None,
        "accounts": None,
        "role_arn": f"arn:{partition}:iam::{account}:role/{target.role_name}",
    }
    if "retry_mode" not in target.model_fields_set:
        update["retry_mode"] = "adaptive"
    return target.model_copy(update=update)


def list_accounts(target: AwsTarget, timeout: float) -> list[tuple[str, str]]:
    """``(account id, partition)`` of every active account the filter keeps, sorted."""
    session = boto3.Session(profile_name=target.profile)
    client = session.client(
        "organizations",
        region_name=_home(target, session),
        endpoint_url=target.endpoint_url,
        config=Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"mode": "adaptive", "max_attempts": target.max_attempts},
        ),
    )
    chosen = target.accounts or AccountFilter()
    found = {
        account["Id"]: account["Arn"].split(":")[1]
        for account in _pages(client, "list_accounts", "Accounts")
        if _active(account)
    }
    keep = set(found)
    if chosen.ous:
        keep &= {a for ou in chosen.ous for a in _under(client, ou)}
    if chosen.include:
        keep &= set(chosen.include)
    keep -= set(chosen.exclude)
    return sorted((account, found[account]) for account in keep)


def _home(target: AwsTarget, session: boto3.Session) -> str:
    if isinstance(target.regions, list):
        return target.regions[0]
    return session.region_name or "us-east-1"


def _active(account: dict[str, Any]) -> bool:
    # `State` replaced `Status` in 2025; either says whether the account is active.
    return str(account.get("State") or account.get("Status") or "").upper() == ACTIVE


def _under(client: Any, parent: str) -> Iterator[str]:
    """The ids of the accounts under `parent` (an OU or root), at any depth."""
    for account in _pages(client, "list_accounts_for_parent", "Accounts", ParentId=parent):
        yield account["Id"]
    for ou in _pages(
        client, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent
    ):
        yield from _under(client, ou["Id"])


def _pages(client: Any, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator(operation).paginate(**params):
        yield from page[key]
