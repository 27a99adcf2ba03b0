"""The AWS provider: target options, and the connection every AWS collector receives."""

from __future__ import annotations

import contextvars
import gc
import ipaddress
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

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
from botocore.exceptions import ClientError
from pydantic import ConfigDict, Field, field_validator, model_validator

from assay.checks.aws.models import ModelLoader, compact_models
from assay.checks.aws.organization import OrganizationOptions
from assay.checks.aws.reading import listing, paginate
from assay.checks.registry import provider
from assay.errors import AssayError

DEFAULT_REGION = "us-east-1"
SESSION_NAME = "assay"
ALL_REGIONS = "all"
# Global resources (IAM, the bucket list, account settings) carry this in place of a region.
GLOBAL_REGION = "global"
# The permission `regions: all` needs; every regional collector declares it.
DESCRIBE_REGIONS = "ec2:DescribeRegions"
# Regions an account can call: on by default, or opted into.
ENABLED_REGION_STATES = ("opt-in-not-required", "opted-in")

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_local = threading.local()

T = TypeVar("T")
R = TypeVar("R")


class RoleNotAssumed(AssayError):
    """The target's role could not be assumed (refused, missing, or untrusting)."""


class AwsTarget(OrganizationOptions):
    """How to reach one AWS account, or every account of an AWS Organization (its
    `organization` fields). Credentials come from the standard chain, never from here."""

    model_config = ConfigDict(extra="forbid")

    profile: str | None = None
    regions: list[str] | Literal["all"] | None = Field(
        default=None,
        description="Region names, or `all` for every region enabled in the account "
        "(ec2:DescribeRegions); default: the profile's or environment's region.",
    )
    endpoint_url: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    workers: int = Field(
        default=16, ge=1, le=128, description="Concurrent AWS calls for per-resource details."
    )
    retry_mode: Literal["standard", "adaptive"] = "standard"
    max_attempts: int = Field(
        default=5, ge=1, le=20, description="Retries of a throttled or failed call."
    )

    @field_validator("regions")
    @classmethod
    def _regions(cls, regions: list[str] | str | None) -> list[str] | str | None:
        if regions is None or isinstance(regions, str):
            return regions
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
        if self.external_id is not None and self.role_arn is None and not self.organization:
            raise ValueError("external_id is only used with role_arn; set role_arn too")
        return self


class AwsConnection:
    """One boto3 session for one account, shared by every collector of a run.

    Collectors may call `client` from many threads: clients are created under a lock
    (``Session.client`` is not thread-safe), then cached per (service, region) and shared,
    which boto3 clients allow. `parallel` runs detail reads on one bounded pool per
    connection, so concurrent collectors together never exceed `workers` calls in flight.

    A client holds its service's model, megabytes of it, so each collector runs inside
    `collecting()`: once no collector running uses a service any more, its clients and
    model (cached by `models`) are let go of; a collector that needs them later makes them
    again.
    """

    def __init__(
        self,
        session: boto3.Session,
        regions: Sequence[str] | None,
        *,
        home_region: str | None = None,
        endpoint_url: str | None = None,
        timeout: float = 60.0,
        workers: int = 16,
        retry_mode: Literal["standard", "adaptive"] = "standard",
        max_attempts: int = 5,
        models: ModelLoader | None = None,
    ) -> None:
        self.session = session
        self.models = models
        self.home_region = home_region or (regions[0] if regions else DEFAULT_REGION)
        self.endpoint_url = endpoint_url
        self.workers = workers
        # Collector threads and detail workers share each client's connection pool.
        self.config = _client_config(
            timeout, retry_mode, max_attempts, pool=workers + _COLLECTOR_THREADS
        )
        self._regions = tuple(regions) if regions else None
        self._clients: dict[tuple[str, str], Any] = {}
        self._shared: dict[str, _Once] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        # Per service, how many running collectors have used it.
        self._users: Counter[str] = Counter()

    @property
    def regions(self) -> tuple[str, ...]:
        """The regions collected: those of the target, or every enabled one (asked once)."""
        if self._regions is not None:
            return self._regions
        return self.shared("regions", self._enabled_regions)

    def client(self, service: str, region: str | None = None) -> Any:
        """The cached client for `service` in `region` (default: the home region)."""
        key = (service, region or self.home_region)
        used = _services_used.get()
        with self._lock:
            if used is not None and service not in used:
                used.add(service)
                self._users[service] += 1
            if key not in self._clients:
                made = self.session.client(
                    service,  # type: ignore[call-overload]
                    region_name=key[1],
                    endpoint_url=self.endpoint_url,
                    config=self.config,
                )
                if service == "s3control":
                    made.meta.events.register("before-sign.s3-control", _emulator_host)
                self._clients[key] = made
            return self._clients[key]

    @contextmanager
    def collecting(self) -> Iterator[None]:
        """Around one collector's run (on its thread, its detail reads included): when it
        ends, the clients and models of the services it used that no other collector
        running uses are let go of."""
        used: set[str] = set()
        token = _services_used.set(used)
        try:
            yield
        finally:
            _services_used.reset(token)
            with self._lock:
                self._users.subtract(used)
                idle = {service for service in used if self._users[service] <= 0}
                for service in idle:
                    del self._users[service]
                self._clients = {k: c for k, c in self._clients.items() if k[0] not in idle}
                if self.models is not None:
                    for service in idle:
                        self.models.forget(service)
            if idle:
                # A client sits in reference cycles (its class, its operation models): only
                # Python's cycle collector frees it and its model, and its full passes are rare.
                gc.collect()

    def parallel(self, func: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """`[func(item) for item in items]`, run on the connection's bounded pool, in order.

        The first exception `func` raises propagates. Called from inside the pool (a
        `func` that itself fans out), it runs inline rather than wait on its own pool.
        """
        items = list(items)
        if getattr(_local, "in_pool", False) or self.workers == 1 or len(items) < 2:
            return [func(item) for item in items]
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.workers,
                    thread_name_prefix="aws-detail",
                    initializer=_mark_pool_thread,
                )
            pool = self._pool
        # Each read runs in the caller's context, so it counts as its collector's.
        context = contextvars.copy_context()
        return list(pool.map(lambda item: context.copy().run(func, item), items))

    def per_region(self, func: Callable[[str], R]) -> list[tuple[str, R]]:
        """`(region, func(region))` for every collected region, read on the bounded pool."""
        return list(zip(self.regions, self.parallel(func, self.regions), strict=True))

    def listed_per_region(
        self, service: str, operation: str, key: str, permission: str, **kwargs: Any
    ) -> list[tuple[str, Any]]:
        """`(region, item)` for every item under `key` of a paginated list call, made in
        every collected region on the bounded pool (`paginate`: a refused list fails)."""
        return [
            (region, item)
            for region, items in self.per_region(
                lambda region: paginate(
                    self.client(service, region), operation, key, permission, **kwargs
                )
            )
            for item in items
        ]

    def region_snapshots(
        self, resource_type: str, service: str, read: Callable[[str], dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """One `resource_type` snapshot per collected region (a resource standing for the
        account's settings of `service` there), its attributes `read(region)` on the pool."""
        return [
            {
                "type": resource_type,
                "id": f"arn:{self.partition}:{service}:{region}:{self.account}:region",
                "name": region,
                "scope": self.scope(region),
                "attributes": attributes,
            }
            for region, attributes in self.per_region(read)
        ]

    def shared(self, key: str, read: Callable[[], T]) -> T:
        """`read()` once per connection, whichever collector asks first; the rest wait for it.

        This is how two collectors share one API call (the account's public access block,
        the caller identity). A `read` that raises is tried again by the next caller.
        """
        with self._lock:
            cell = self._shared.setdefault(key, _Once())
        return cell.get(read)  # type: ignore[no-any-return]

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
        return self.session.get_partition_for_region(self.home_region)

    def scope(self, region: str) -> dict[str, str]:
        """The `scope` of a resource snapshot collected in `region` of this account."""
        return {"provider": "aws", "account": self.account, "region": region}

    def _caller_identity(self) -> dict[str, str]:
        def read() -> dict[str, str]:
            found = self.client("sts").get_caller_identity()
            return {"account": found["Account"], "arn": found["Arn"]}

        return self.shared("caller", read)

    def _enabled_regions(self) -> tuple[str, ...]:
        with listing(DESCRIBE_REGIONS):
            found = self.client("ec2").describe_regions(
                Filters=[{"Name": "opt-in-status", "Values": list(ENABLED_REGION_STATES)}]
            )["Regions"]
        # Filtered again here: not every endpoint (emulators) honours the filter.
        return tuple(
            sorted(
                r["RegionName"]
                for r in found
                if r.get("OptInStatus", ENABLED_REGION_STATES[0]) in ENABLED_REGION_STATES
            )
        )


# The engine runs each resource type's collector on its own thread; a few of them at once
# list while the detail pool reads.
_COLLECTOR_THREADS = 8
# The services the collector running in this context has used (None: outside collection).
_services_used: ContextVar[set[str] | None] = ContextVar("aws_services_used", default=None)


class _Once:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = False
        self._value: Any = None

    def get(self, read: Callable[[], Any]) -> Any:
        with self._lock:
            if not self._done:
                self._value = read()
                self._done = True
            return self._value


def _mark_pool_thread() -> None:
    _local.in_pool = True


def _emulator_host(request: Any, **_: Any) -> None:
    """Drop the account id S3 Control puts in front of a custom endpoint's host.

    AWS serves ``{account}.s3-control.{region}.amazonaws.com``; for an endpoint at an IP
    address or localhost (an emulator) that name resolves nowhere, and the account id also
    travels in a header. Hosts of real endpoints are left alone.
    """
    parts = urlsplit(request.url)
    head, _, rest = parts.netloc.partition(".")
    host = rest.rsplit(":", 1)[0].strip("[]")
    if head.isdigit() and (host == "localhost" or _is_ip(host)):
        request.url = urlunsplit(parts._replace(netloc=rest))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _client_config(
    timeout: float, retry_mode: Literal["standard", "adaptive"], max_attempts: int, pool: int
) -> Config:
    return Config(
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"mode": retry_mode, "max_attempts": max_attempts},
        max_pool_connections=pool,
    )


def identity(conn: AwsConnection) -> dict[str, Any]:
    """Who the connection acts as and where: ``{"account", "arn", "regions"}``."""
    return {"account": conn.account, "arn": conn.arn, "regions": list(conn.regions)}


@provider("aws", options=AwsTarget, identity=identity)
def connect(options: AwsTarget, timeout: float) -> AwsConnection:
    """Open a session from the standard credential chain (or `options.profile`).

    With `role_arn`, the session assumes that role and renews the role's credentials
    before they expire, so long collections do not fail after an hour. No AWS call is
    made here; the first one is `identity` (or a collector).
    """
    core = botocore.session.Session(profile=options.profile)
    models = compact_models(core)
    base = boto3.Session(botocore_session=core)
    regions: list[str] | None
    if options.regions == ALL_REGIONS:
        regions, home = None, base.region_name or DEFAULT_REGION
    else:
        regions = list(options.regions or [base.region_name or DEFAULT_REGION])
        home = regions[0]
    settings: dict[str, Any] = {
        "home_region": home,
        "endpoint_url": options.endpoint_url,
        "timeout": timeout,
        "workers": options.workers,
        "retry_mode": options.retry_mode,
        "max_attempts": options.max_attempts,
    }
    if options.role_arn is None:
        return AwsConnection(base, regions, models=models, **settings)
    source = base.get_credentials()
    if source is None:
        raise LookupError(
            f"no AWS credentials found to assume {options.role_arn} with "
            "(environment, shared credentials file, profile or instance role)"
        )
    config = _client_config(timeout, options.retry_mode, options.max_attempts, pool=2)

    def sts_client(service: str, **credentials: Any) -> BaseClient:
        return base.client(  # type: ignore[no-any-return,call-overload]
            service,
            region_name=home,
            endpoint_url=options.endpoint_url,
            config=config,
            **credentials,
        )

    extra: dict[str, Any] = {"RoleSessionName": SESSION_NAME}
    if options.external_id is not None:
        extra["ExternalId"] = options.external_id
    fetcher = AssumeRoleCredentialFetcher(sts_client, source, options.role_arn, extra_args=extra)

    def assume() -> dict[str, Any]:
        try:
            return fetcher.fetch_credentials()
        except ClientError as exc:
            # The role is what to fix; not every endpoint names it in its message.
            raise RoleNotAssumed(f"cannot assume {options.role_arn}: {exc}") from exc

    role = botocore.session.Session(profile=options.profile)
    role_models = compact_models(role)
    role.register_component(
        "credential_provider",
        CredentialResolver([_Fixed(DeferredRefreshableCredentials(assume, "assume-role"))]),
    )
    return AwsConnection(
        boto3.Session(botocore_session=role, region_name=home),
        regions,
        models=role_models,
        **settings,
    )


class _Fixed(CredentialProvider):
    """A credential chain of one link: the role's self-renewing credentials."""

    METHOD = "assume-role"

    def __init__(self, credentials: DeferredRefreshableCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> DeferredRefreshableCredentials:
        return self._credentials
