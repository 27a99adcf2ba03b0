"""SNS topics (`aws.sns.topic`) and SQS queues (`aws.sqs.queue`)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from assay.checks.aws.policy import parse
from assay.checks.aws.provider import DESCRIBE_REGIONS, AwsConnection
from assay.checks.aws.reading import read_attribute
from assay.checks.registry import collector
from assay.checks.result import ERROR_KEY

TOPIC = "aws.sns.topic"
QUEUE = "aws.sqs.queue"
_TOPICS = "sns:ListTopics"
_TOPIC_ATTRIBUTES = "sns:GetTopicAttributes"
_QUEUES = "sqs:ListQueues"
_QUEUE_ATTRIBUTES = "sqs:GetQueueAttributes"


@collector(TOPIC, permissions=[_TOPICS, _TOPIC_ATTRIBUTES, DESCRIBE_REGIONS])
def collect_topics(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """Every SNS topic in each target region.

    Attributes: `kms_key_id` (None: the topic is not encrypted at rest; SNS has no default
    encryption) and `policy` (the access policy document, or None).
    """
    listed = conn.listed_per_region("sns", "list_topics", "Topics", _TOPICS)
    items = [(region, topic["TopicArn"]) for region, topic in listed]
    yield from conn.parallel(partial(_topic, conn), items)


def _topic(conn: AwsConnection, item: tuple[str, str]) -> dict[str, Any]:
    region, arn = item
    found = read_attribute(
        partial(conn.client("sns", region).get_topic_attributes, TopicArn=arn),
        lambda response: dict(response.get("Attributes", {})),
        permission=_TOPIC_ATTRIBUTES,
    )
    return {
        "type": TOPIC,
        "id": arn,
        "name": arn.rsplit(":", 1)[-1],
        "scope": conn.scope(region),
        "attributes": _split(found, {"kms_key_id": "KmsMasterKeyId", "policy": "Policy"}),
    }


@collector(QUEUE, permissions=[_QUEUES, _QUEUE_ATTRIBUTES, DESCRIBE_REGIONS])
def collect_queues(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """Every SQS queue in each target region.

    Attributes: `kms_key_id` (SSE-KMS key, or None), `sqs_managed_sse` (bool: SSE-SQS,
    on by default for new queues) and `policy` (the access policy document, or None).
    """
    items = conn.listed_per_region("sqs", "list_queues", "QueueUrls", _QUEUES)
    yield from conn.parallel(partial(_queue, conn), items)


def _queue(conn: AwsConnection, item: tuple[str, str]) -> dict[str, Any]:
    region, url = item
    found = read_attribute(
        partial(
            conn.client("sqs", region).get_queue_attributes, QueueUrl=url, AttributeNames=["All"]
        ),
        lambda response: dict(response.get("Attributes", {})),
        permission=_QUEUE_ATTRIBUTES,
    )
    attributes = _split(
        found,
        {
            "arn": "QueueArn",
            "kms_key_id": "KmsMasterKeyId",
            "policy": "Policy",
            "sqs_managed_sse": "SqsManagedSseEnabled",
        },
    )
    if isinstance(attributes["sqs_managed_sse"], str | None):
        attributes["sqs_managed_sse"] = attributes["sqs_managed_sse"] == "true"
    arn = attributes.pop("arn")
    name = url.rsplit("/", 1)[-1]
    return {
        "type": QUEUE,
        "id": arn
        if isinstance(arn, str)
        else f"arn:{conn.partition}:sqs:{region}:{conn.account}:{name}",
        "name": name,
        "scope": conn.scope(region),
        "attributes": attributes,
    }


def _split(found: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """Attributes from a service's attribute map; a marker in place of the map goes to each."""
    if ERROR_KEY in found:
        return dict.fromkeys(names, found)
    out = {ours: found.get(theirs) for ours, theirs in names.items()}
    policy = out.get("policy")
    if isinstance(policy, str) and policy:
        out["policy"] = parse(policy)
    return out
