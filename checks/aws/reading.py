"""Reading AWS: how a failed call becomes data, an error marker or a failed collector.

A collector lists resources with a paginator inside `listing(permission)` (a failed list
call fails the whole collector: without the list there is nothing to judge), then reads
each resource's details with `read_attribute`, so that one unreadable detail spoils only
the controls that need it. The collectors and the connection (listing the enabled
regions) read through here; checks never do: they read snapshots.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from assay.checks.result import collection_error
from assay.errors import AssayError

R = TypeVar("R")

# The caller lacks the permission (or an SCP, permission boundary or bucket policy says no).
DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AllAccessDisabled",
        "AuthorizationError",
        "UnauthorizedOperation",
    }
)

# Still throttled once botocore's retries are spent: the detail is unknown, not absent.
THROTTLED_CODES = frozenset(
    {
        "RequestLimitExceeded",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
    }
)

# An error body botocore could not parse (an XML error from a JSON service, as emulators
# send) still holds the code and message.
_XML_CODE = re.compile(r"<Code>(\w+)</Code>")
_XML_MESSAGE = re.compile(r"<Message>([^<]*)</Message>")


class AccessDenied(AssayError):
    """A list call was refused: the collector cannot say which resources exist."""


def error_code(exc: ClientError) -> str:
    """The AWS error code of a failed call (e.g. ``AccessDenied``), or ``Unknown``."""
    response: Mapping[str, Any] = exc.response
    code = str(response.get("Error", {}).get("Code") or "")
    if not code or code.isdigit():
        nested = response.get("Errors", {}).get("Error", {}).get("Code")
        raw = str(response.get("Error", {}).get("Message") or "")
        found = _XML_CODE.search(raw)
        code = str(nested or (found.group(1) if found else code))
    return code or "Unknown"


def error_message(exc: ClientError) -> str:
    """The AWS error message of a failed call."""
    response: Mapping[str, Any] = exc.response
    message = str(
        response.get("Error", {}).get("Message")
        or response.get("Errors", {}).get("Error", {}).get("Message")
        or exc
    )
    found = _XML_MESSAGE.search(message)
    return found.group(1) if found else message


def is_denied(exc: ClientError) -> bool:
    """Whether the call was refused for want of a permission."""
    if error_code(exc) in DENIED_CODES:
        return True
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 403 and error_code(exc) in ("Unknown", "403")


@contextmanager
def listing(permission: str) -> Iterator[None]:
    """Turn a refused list call into `AccessDenied` naming `permission`; other errors pass."""
    try:
        yield
    except ClientError as exc:
        if is_denied(exc):
            raise AccessDenied(
                f"{error_code(exc)}: {error_message(exc)} (missing permission {permission})"
            ) from exc
        raise


def read_attribute(
    call: Callable[[], R],
    shape: Callable[[R], Any],
    *,
    permission: str,
    absent: Collection[str] = (),
    default: Any = None,
) -> Any:
    """Run one detail call and return the attribute value `shape` makes of its response.

    - an error code in `absent` means the thing is legitimately not configured
      (``NoSuchBucketPolicy``, ``NoSuchEntity``...): `default` is returned, as data;
    - a denial returns a `collection_error` marker naming `permission` (exhausted
      throttling one without it), which `assay.checks.result.attribute` turns into an
      `error` verdict for the checks that read the attribute;
    - any other error propagates, failing the collector.
    """
    try:
        response = call()
    except ClientError as exc:
        code = error_code(exc)
        if code in absent:
            return default
        if is_denied(exc):
            return collection_error(code, error_message(exc), permission)
        if code in THROTTLED_CODES:
            return collection_error(code, error_message(exc))
        raise
    return shape(response)


def tag_dict(tags: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """AWS's ``[{"Key": k, "Value": v}, ...]`` tag lists as ``{k: v}``."""
    return {str(tag["Key"]): str(tag.get("Value", "")) for tag in tags}


def timestamp(value: datetime | str | None) -> str | None:
    """A datetime (or ISO 8601 text) as RFC 3339 UTC, ``2024-05-01T12:00:00Z``; None stays."""
    if value is None:
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def paginate(client: Any, operation: str, key: str, permission: str, **kwargs: Any) -> list[Any]:
    """Every item under `key` of every page of a list call, inside `listing(permission)`."""
    with listing(permission):
        pages = client.get_paginator(operation).paginate(**kwargs)
        return [item for page in pages for item in page.get(key, [])]
