"""EKS: the `aws.eks.cluster` collector."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from assay.checks.aws.provider import DESCRIBE_REGIONS, AwsConnection
from assay.checks.aws.reading import read_attribute
from assay.checks.registry import collector

CLUSTER = "aws.eks.cluster"
_LIST = "eks:ListClusters"
_DESCRIBE = "eks:DescribeCluster"
# What EKS does when a cluster's endpoint settings are not given (and what moto then omits).
_OPEN = ["0.0.0.0/0"]


@collector(CLUSTER, permissions=[_LIST, _DESCRIBE, DESCRIBE_REGIONS])
def collect_clusters(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """Every EKS cluster in each target region; the cluster's description is one attribute
    set, so a refused DescribeCluster spoils every attribute but `name`.

    Attributes: `version`, `secrets_kms_key` (the KMS key that envelope-encrypts Kubernetes
    secrets, or None), `log_types` (the control-plane log types enabled: ``api``,
    ``audit``, ``authenticator``...), `endpoint_public`, `endpoint_private` (bools) and
    `public_access_cidrs`. Absent endpoint fields read as EKS's defaults: public, not
    private, open to 0.0.0.0/0.
    """
    items = conn.listed_per_region("eks", "list_clusters", "clusters", _LIST)
    yield from conn.parallel(partial(_cluster, conn), items)


def _cluster(conn: AwsConnection, item: tuple[str, str]) -> dict[str, Any]:
    region, name = item
    found = read_attribute(
        partial(conn.client("eks", region).describe_cluster, name=name),
        lambda response: _attributes(response["cluster"]),
        permission=_DESCRIBE,
    )
    attributes = found if "version" in found else dict.fromkeys(_KEYS, found)
    arn = attributes.pop("arn", None) or (
        f"arn:{conn.partition}:eks:{region}:{conn.account}:cluster/{name}"
    )
    return {
        "type": CLUSTER,
        "id": arn,
        "name": name,
        "scope": conn.scope(region),
        "attributes": attributes,
    }


_KEYS = (
    "version",
    "secrets_kms_key",
    "log_types",
    "endpoint_public",
    "endpoint_private",
    "public_access_cidrs",
)


def _attributes(cluster: dict[str, Any]) -> dict[str, Any]:
    secrets_key = next(
        (
            config.get("provider", {}).get("keyArn")
            for config in cluster.get("encryptionConfig", [])
            if "secrets" in config.get("resources", [])
        ),
        None,
    )
    enabled = [
        kind
        for setup in cluster.get("logging", {}).get("clusterLogging", [])
        if setup.get("enabled")
        for kind in setup.get("types", [])
    ]
    vpc = cluster.get("resourcesVpcConfig", {})
    return {
        "arn": cluster.get("arn"),
        "version": cluster.get("version"),
        "secrets_kms_key": secrets_key,
        "log_types": sorted(enabled),
        "endpoint_public": bool(vpc.get("endpointPublicAccess", True)),
        "endpoint_private": bool(vpc.get("endpointPrivateAccess", False)),
        "public_access_cidrs": list(vpc.get("publicAccessCidrs", _OPEN)),
    }
