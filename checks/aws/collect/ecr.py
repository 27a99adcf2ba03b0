"""ECR: the `aws.ecr.repository` collector."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from assay.checks.aws.policy import parse
from assay.checks.aws.provider import DESCRIBE_REGIONS, AwsConnection
from assay.checks.aws.reading import read_attribute
from assay.checks.registry import collector, read_if_wanted

REPOSITORY = "aws.ecr.repository"
_LIST = "ecr:DescribeRepositories"
_LIFECYCLE = "ecr:GetLifecyclePolicy"
_POLICY = "ecr:GetRepositoryPolicy"


@collector(
    REPOSITORY,
    permissions=[_LIST, DESCRIBE_REGIONS],
    attributes={"lifecycle_policy": (_LIFECYCLE,), "policy": (_POLICY,)},
)
def collect_repositories(
    conn: AwsConnection, wanted: frozenset[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Every private repository in each target region.

    Attributes: `scan_on_push` (bool), `tag_mutability` (``MUTABLE``, ``IMMUTABLE``...),
    `encryption_type`, `lifecycle_policy` (the policy document, or None when the repository
    has none) and `policy` (the repository policy document, or None); those two are read
    only when wanted (None: always).
    """
    items = conn.listed_per_region("ecr", "describe_repositories", "repositories", _LIST)
    yield from conn.parallel(partial(_repository, conn, wanted), items)


def _repository(
    conn: AwsConnection, wanted: frozenset[str] | None, item: tuple[str, dict[str, Any]]
) -> dict[str, Any]:
    region, repo = item
    ecr = conn.client("ecr", region)
    name = repo["repositoryName"]
    return {
        "type": REPOSITORY,
        "id": repo["repositoryArn"],
        "name": name,
        "scope": conn.scope(region),
        "attributes": {
            "scan_on_push": bool(
                repo.get("imageScanningConfiguration", {}).get("scanOnPush", False)
            ),
            "tag_mutability": repo.get("imageTagMutability", "MUTABLE"),
            "encryption_type": repo.get("encryptionConfiguration", {}).get("encryptionType"),
            "lifecycle_policy": read_if_wanted(
                wanted,
                "lifecycle_policy",
                lambda: read_attribute(
                    partial(ecr.get_lifecycle_policy, repositoryName=name),
                    lambda found: parse(found["lifecyclePolicyText"]),
                    permission=_LIFECYCLE,
                    absent={"LifecyclePolicyNotFoundException"},
                ),
            ),
            "policy": read_if_wanted(
                wanted,
                "policy",
                lambda: read_attribute(
                    partial(ecr.get_repository_policy, repositoryName=name),
                    lambda found: parse(found["policyText"]),
                    permission=_POLICY,
                    absent={"RepositoryPolicyNotFoundException"},
                ),
            ),
        },
    }
