"""Lambda: the `aws.lambda.function` collector."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from assay.checks.aws.policy import parse
from assay.checks.aws.provider import DESCRIBE_REGIONS, AwsConnection
from assay.checks.aws.reading import read_attribute
from assay.checks.registry import collector, read_if_wanted

FUNCTION = "aws.lambda.function"
_LIST = "lambda:ListFunctions"
_POLICY = "lambda:GetPolicy"
_URL = "lambda:GetFunctionUrlConfig"


@collector(
    FUNCTION,
    permissions=[_LIST, DESCRIBE_REGIONS],
    attributes={"policy": (_POLICY,), "url_auth_type": (_URL,)},
)
def collect_functions(
    conn: AwsConnection, wanted: frozenset[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Every function in each target region.

    Attributes: `runtime` (None for container images), `package_type`, `policy` (the
    resource-based policy document, or None) and `url_auth_type` (the AuthType of the
    function URL, ``NONE`` letting anyone invoke it, or None without a URL); those two are
    read only when wanted (None: always).
    """
    items = conn.listed_per_region("lambda", "list_functions", "Functions", _LIST)
    yield from conn.parallel(partial(_function, conn, wanted), items)


def _function(
    conn: AwsConnection, wanted: frozenset[str] | None, item: tuple[str, dict[str, Any]]
) -> dict[str, Any]:
    region, function = item
    client = conn.client("lambda", region)
    name = function["FunctionName"]
    return {
        "type": FUNCTION,
        "id": function["FunctionArn"],
        "name": name,
        "scope": conn.scope(region),
        "attributes": {
            "runtime": function.get("Runtime"),
            "package_type": function.get("PackageType", "Zip"),
            "policy": read_if_wanted(
                wanted,
                "policy",
                lambda: read_attribute(
                    partial(client.get_policy, FunctionName=name),
                    lambda found: parse(found["Policy"]),
                    permission=_POLICY,
                    absent={"ResourceNotFoundException"},
                ),
            ),
            "url_auth_type": read_if_wanted(
                wanted,
                "url_auth_type",
                lambda: read_attribute(
                    partial(client.get_function_url_config, FunctionName=name),
                    lambda found: found.get("AuthType"),
                    permission=_URL,
                    absent={"ResourceNotFoundException"},
                ),
            ),
        },
    }
