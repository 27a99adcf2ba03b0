"""Helpers for plugin authors' tests: run a registered check on a hand-built resource.

from assay.testing import run_check

assert run_check("aws.s3.default_encryption", {"encryption": None}).status == "fail"
"""

from __future__ import annotations

from typing import Any

from assay.checks import MissingEvidence, Result, registry


def make_resource(
    resource_type: str,
    attributes: dict[str, Any],
    *,
    id: str = "test-resource",
    name: str | None = None,
    scope: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A resource snapshot shaped like a collector's output."""
    return {
        "type": resource_type,
        "id": id,
        "name": name or id,
        "scope": scope or {},
        "attributes": attributes,
    }


def run_check(name: str, resource: dict[str, Any], **params: Any) -> Result:
    """Run check `name` on `resource` (a full snapshot, or just its attributes) with `params`.

    Params are validated by the check's own model, as the engine does; a check that reads
    an attribute the collector could not gather gives `error`, as in a real run.
    """
    spec = registry.get_check(name)
    if "attributes" not in resource:
        resource = make_resource(spec.resource, resource)
    bound = spec.params.model_validate(params)
    try:
        return spec.func(resource, bound)
    except MissingEvidence as exc:
        return Result.error(str(exc))
