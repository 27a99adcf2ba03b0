"""The verdict a check returns, and how collectors mark evidence they could not gather."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

# A collector that could not read one attribute (AccessDenied, throttled, ...) stores
# {ERROR_KEY: {"code": ..., "message": ..., "permission": ...}} in its place, so only
# the controls that need that attribute become `error`.
ERROR_KEY = "$error"


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    NOT_APPLICABLE = "not_applicable"


class Result(BaseModel):
    """One verdict on one resource: a status, a one-sentence reason, and what was observed."""

    model_config = ConfigDict(frozen=True)

    status: Status
    reason: str
    observed: dict[str, Any] = {}

    @classmethod
    def passed(cls, reason: str, **observed: Any) -> Result:
        return cls(status=Status.PASS, reason=reason, observed=observed)

    @classmethod
    def failed(cls, reason: str, **observed: Any) -> Result:
        return cls(status=Status.FAIL, reason=reason, observed=observed)

    @classmethod
    def error(cls, reason: str, **observed: Any) -> Result:
        return cls(status=Status.ERROR, reason=reason, observed=observed)

    @classmethod
    def not_applicable(cls, reason: str, **observed: Any) -> Result:
        return cls(status=Status.NOT_APPLICABLE, reason=reason, observed=observed)


class MissingEvidence(Exception):
    """What a check needs is not in the snapshot: an attribute the collector could not
    gather (`marker` is its collection-error marker), or a path that cannot be read.

    Raised inside a check or a rule; the engine turns it into an `error` verdict whose
    reason is `detail`, never into pass or fail.
    """

    def __init__(self, detail: str, marker: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.marker = marker


def collection_error(code: str, message: str, permission: str | None = None) -> dict[str, Any]:
    """The marker a collector stores in place of an attribute it could not read."""
    detail: dict[str, Any] = {"code": code, "message": message}
    if permission:
        detail["permission"] = permission
    return {ERROR_KEY: detail}


def describe_error(marker: dict[str, Any]) -> str:
    detail = marker[ERROR_KEY]
    text = f"{detail['code']}: {detail['message']}"
    if detail.get("permission"):
        text += f" (missing permission {detail['permission']})"
    return text


def collection_errors(value: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every collection-error marker inside `value`, with its dotted path, at any depth."""
    if isinstance(value, dict):
        if ERROR_KEY in value:
            yield path, value[ERROR_KEY]
            return
        for key, item in value.items():
            yield from collection_errors(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from collection_errors(item, f"{path}[{i}]")


def collected_at(resource: Mapping[str, Any], purpose: str) -> datetime:
    """When `resource` was collected: checks date things by it, not by when they run, so a
    replayed snapshot keeps its verdict. MissingEvidence (naming `purpose`) without it."""
    stamp = resource.get("collected_at")
    if not isinstance(stamp, str):
        raise MissingEvidence(f"the snapshot has no collected_at timestamp to {purpose}")
    return datetime.fromisoformat(stamp)


def attribute(resource: dict[str, Any], name: str) -> Any:
    """The collected attribute `name`; raises MissingEvidence if collection failed for it."""
    value = resource["attributes"].get(name)
    if isinstance(value, dict) and ERROR_KEY in value:
        raise MissingEvidence(f"{name} could not be collected: {describe_error(value)}", value)
    return value
