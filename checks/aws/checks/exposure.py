"""Resource policies that let anyone in: ECR repositories, Lambda functions, SNS topics and
SQS queues. The policy reading is `assay.checks.aws.policy.public_statements`, the same as
for S3 bucket policies."""

from __future__ import annotations

from typing import Any

from assay.checks.aws.collect.awslambda import FUNCTION
from assay.checks.aws.collect.ecr import REPOSITORY
from assay.checks.aws.collect.messaging import QUEUE, TOPIC
from assay.checks.aws.policy import public_statements
from assay.checks.registry import check
from assay.checks.result import Result, attribute


def _judge(resource: dict[str, Any], what: str) -> Result:
    found = public_statements(attribute(resource, "policy"))
    if found:
        return Result.failed(
            f"the {what} policy allows anyone ({', '.join(found)})", statements=found
        )
    return Result.passed(f"no statement of the {what} policy allows anyone")


@check(
    "aws.ecr.not_public",
    resource=REPOSITORY,
    permissions=["ecr:DescribeRepositories", "ecr:GetRepositoryPolicy"],
    reads=["policy"],
)
def ecr_not_public(resource: dict[str, Any], params: Any) -> Result:
    """Fail when the repository policy allows anyone (Principal "*") without a
    restricting condition."""
    return _judge(resource, "repository")


@check(
    "aws.sns.not_public",
    resource=TOPIC,
    permissions=["sns:ListTopics", "sns:GetTopicAttributes"],
    reads=["policy"],
)
def sns_not_public(resource: dict[str, Any], params: Any) -> Result:
    """Fail when the topic's access policy allows anyone without a restricting condition."""
    return _judge(resource, "topic access")


@check(
    "aws.sqs.not_public",
    resource=QUEUE,
    permissions=["sqs:ListQueues", "sqs:GetQueueAttributes"],
    reads=["policy"],
)
def sqs_not_public(resource: dict[str, Any], params: Any) -> Result:
    """Fail when the queue's access policy allows anyone without a restricting condition."""
    return _judge(resource, "queue access")


@check(
    "aws.lambda.not_public",
    resource=FUNCTION,
    permissions=["lambda:ListFunctions", "lambda:GetPolicy", "lambda:GetFunctionUrlConfig"],
    reads=["policy", "url_auth_type"],
)
def lambda_not_public(resource: dict[str, Any], params: Any) -> Result:
    """Fail when the function's resource policy lets anyone invoke it, or its function URL
    needs no authentication (AuthType NONE)."""
    open_url = attribute(resource, "url_auth_type") == "NONE"
    found = public_statements(attribute(resource, "policy"))
    exposed = [f"the resource policy allows anyone ({', '.join(found)})"] if found else []
    if open_url:
        exposed.append("the function URL needs no authentication (AuthType NONE)")
    if exposed:
        return Result.failed("; ".join(exposed), statements=found, open_url=open_url)
    return Result.passed("neither the resource policy nor the function URL admits anyone")
