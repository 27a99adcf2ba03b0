"""Detail reads that collectors turn into attributes, and the AWS error codes that decide how.

A collector lists resources with a paginator (a failed list call fails the whole collector:
without the list there is nothing to judge), then reads each resource's details with
`read_attribute`, so that one unreadable detail spoils only the controls that need it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from assay.checks.result import collection_error

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


def error_code(exc: ClientError) -> str:
    """The AWS error code of a failed call (e.g. ``AccessDenied``), or ``Unknown``."""
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


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
        if code in DENIED_CODES or code in THROTTLED_CODES:
            message = str(exc.response.get("Error", {}).get("Message") or exc)
            return collection_error(code, message, permission if code in DENIED_CODES else None)
        raise
    return shape(response)


def tag_dict(tags: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """AWS's ``[{"Key": k, "Value": v}, ...]`` tag lists as ``{k: v}``."""
    return {str(tag["Key"]): str(tag.get("Value", "")) for tag in tags}
