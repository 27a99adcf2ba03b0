"""The AWS provider: target options, and the connection every AWS collector receives."""

from __future__ import annotations

import re
import threading
from typing import Any

import boto3
import botocore.session
from botocore.client import BaseClient
from botocore.config import Config
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    CredentialResolver,
    DeferredRefreshableCredentials,
)
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from assay.checks.registry import provider

DEFAULT_REGION = "us-east-1"
SESSION_NAME = "assay"

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")


class AwsTarget(BaseModel):
    """How to reach one AWS account. Credentials come from the standard chain, never from here."""

    model_config = ConfigDict(extra="forbid")

    profile: str | None = None
    regions: list[str] | None = None
    endpoint_url: str | None = None
    role_arn: str | None = None
    external_id: str | None = None

    @field_validator("regions")
    @classmethod
    def _regions(cls, regions: list[str] | None) -> list[str] | None:
        if regions is None:
            return None
        if not regions:
            raise ValueError("expected at least one region, or no `regions` key at all")
        for region in regions:
            if not _REGION.match(region):
                raise ValueError(f"{region!r} is not an AWS region name; expected e.g. us-east-1")
        if len(set(regions)) != len(regions):
            raise ValueError(f"regions are listed twice: {regions}")
        return regions

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// URL; got {url!r}")
        return url

    @field_validator("role_arn")
    @classmethod
    def _role(cls, arn: str | None) -> str | None:
        if arn is not None and not _ROLE_ARN.match(arn):
            raise ValueError(
                f"expected an IAM role ARN like arn:aws:iam::123456789012:role/name; got {arn!r}"
            )
        return arn

    @model_validator(mode="after")
    def _external_id_needs_role(self) -> AwsTarget:
        if self.external_id is not None and self.role_arn is None:
            raise ValueError("external_id is only used with role_arn; set role_arn too")
        return self


class AwsConnection:
    """One boto3 session for one account, shared by every collector of a run.

    Collectors may call `client` from many threads: clients are created under a lock
    (``Session.client`` is not thread-safe), then cached per (service, region) and shared,
    which boto3 clients allow.
    """

    def __init__(
        self,
        session: boto3.Session,
        regions: list[str],
        *,
        endpoint_url: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.session = session
        self.regions = tuple(regions)
        self.endpoint_url = endpoint_url
        self.config = _client_config(timeout)
        self._clients: dict[tuple[str, str], Any] = {}
        self._caller: dict[str, str] | None = None
        self._lock = threading.Lock()

    def client(self, service: str, region: str | None = None) -> Any:
        """The cached client for `service` in `region` (default: the first target region)."""
        key = (service, region or self.regions[0])
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self.session.client(
                    service,  # type: ignore[call-overload]
                    region_name=key[1],
                    endpoint_url=self.endpoint_url,
                    config=self.config,
                )
            return self._clients[key]

    @property
    def account(self) -> str:
        """The 12-digit account id the credentials act in (one STS call, made once)."""
        return self._caller_identity()["account"]

    @property
    def arn(self) -> str:
        """The ARN of the principal the credentials belong to."""
        return self._caller_identity()["arn"]

    @property
    def partition(self) -> str:
        """``aws``, ``aws-cn`` or ``aws-us-gov``: the first element of every ARN we build."""
        return self.session.get_partition_for_region(self.regions[0])

    def scope(self, region: str) -> dict[str, str]:
        """The `scope` of a resource snapshot collected in `region` of this account."""
        return {"provider": "aws", "account": self.account, "region": region}

    def _caller_identity(self) -> dict[str, str]:
        sts = self.client("sts")
        with self._lock:
            if self._caller is None:
                found = sts.get_caller_identity()
                self._caller = {"account": found["Account"], "arn": found["Arn"]}
            return self._caller


def _client_config(timeout: float) -> Config:
    return Config(
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"mode": "standard", "max_attempts": 5},
    )


def identity(conn: AwsConnection) -> dict[str, Any]:
    """Who the connection acts as: ``{"account": ..., "arn": ...}``."""
    return {"account": conn.account, "arn": conn.arn}


@provider("aws", options=AwsTarget, identity=identity)
def connect(options: AwsTarget, timeout: float) -> AwsConnection:
    """Open a session from the standard credential chain (or `options.profile`).

    With `role_arn`, the session assumes that role and renews the role's credentials
    before they expire, so long collections do not fail after an hour. No AWS call is
    made here; the first one is `identity` (or a collector).
    """
    base = boto3.Session(profile_name=options.profile)
    regions = options.regions or [base.region_name or DEFAULT_REGION]
    if options.role_arn is None:
        return AwsConnection(base, regions, endpoint_url=options.endpoint_url, timeout=timeout)
    source = base.get_credentials()
    if source is None:
        raise LookupError(
            f"no AWS credentials found to assume {options.role_arn} with "
            "(environment, shared credentials file, profile or instance role)"
        )
    config = _client_config(timeout)

    def sts_client(service: str, **credentials: Any) -> BaseClient:
        return base.client(  # type: ignore[no-any-return,call-overload]
            service,
            region_name=regions[0],
            endpoint_url=options.endpoint_url,
            config=config,
            **credentials,
        )

    extra: dict[str, Any] = {"RoleSessionName": SESSION_NAME}
    if options.external_id is not None:
        extra["ExternalId"] = options.external_id
    fetcher = AssumeRoleCredentialFetcher(sts_client, source, options.role_arn, extra_args=extra)
    role = botocore.session.Session(profile=options.profile)
    role.register_component(
        "credential_provider",
        CredentialResolver(
            [_Fixed(DeferredRefreshableCredentials(fetcher.fetch_credentials, "assume-role"))]
        ),
    )
    return AwsConnection(
        boto3.Session(botocore_session=role, region_name=regions[0]),
        regions,
        endpoint_url=options.endpoint_url,
        timeout=timeout,
    )


class _Fixed(CredentialProvider):
    """A credential chain of one link: the role's self-renewing credentials."""

    METHOD = "assume-role"

    def __init__(self, credentials: DeferredRefreshableCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> DeferredRefreshableCredentials:
        return self._credentials
