"""Versions with an end date: EKS Kubernetes versions and Lambda runtimes.

The dates are parameters (a dated table in the control), judged at collection time so a
replayed snapshot keeps its verdict; a profile overrides them as AWS publishes new dates.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assay.checks.aws.collect.awslambda import FUNCTION
from assay.checks.aws.collect.eks import CLUSTER
from assay.checks.registry import check
from assay.checks.result import Result, attribute, collected_at


def _judge(resource: dict[str, Any], what: str, value: str, ends: dict[str, date]) -> Result:
    if value not in ends:
        return Result.error(
            f"{what} {value} is not in the control's table of end dates; add it to the params",
            version=value,
        )
    end, today = ends[value], collected_at(resource, "date versions by").date()
    if today >= end:
        return Result.failed(
            f"{what} {value} left support on {end.isoformat()}",
            version=value,
            ended=end.isoformat(),
        )
    return Result.passed(
        f"{what} {value} is supported until {end.isoformat()}", version=value, ends=end.isoformat()
    )


class EksVersionParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    end_of_standard_support: dict[str, date] = Field(
        default={
            "1.28": date(2024, 11, 26),
            "1.29": date(2025, 3, 23),
            "1.30": date(2025, 7, 23),
            "1.31": date(2025, 11, 26),
            "1.32": date(2026, 3, 23),
            "1.33": date(2026, 7, 29),
            "1.34": date(2026, 12, 2),
            "1.35": date(2027, 3, 27),
        },
        min_length=1,
        description="Kubernetes version -> the day EKS standard support ends (EKS release "
        "calendar).",
    )


@check(
    "aws.eks.supported_version",
    resource=CLUSTER,
    params=EksVersionParams,
    permissions=["eks:ListClusters", "eks:DescribeCluster"],
    reads=["version"],
)
def supported_version(resource: dict[str, Any], params: EksVersionParams) -> Result:
    """Pass when the cluster's Kubernetes version is still in EKS standard support on the
    day it was collected; a version missing from the table is an error, not a guess."""
    return _judge(
        resource,
        "Kubernetes version",
        str(attribute(resource, "version")),
        params.end_of_standard_support,
    )


class RuntimeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deprecated_on: dict[str, date] = Field(
        default={
            "nodejs12.x": date(2023, 3, 31),
            "nodejs14.x": date(2023, 12, 4),
            "nodejs16.x": date(2024, 6, 12),
            "nodejs18.x": date(2025, 9, 1),
            "nodejs20.x": date(2026, 4, 30),
            "python3.7": date(2023, 12, 4),
            "python3.8": date(2024, 10, 14),
            "python3.9": date(2025, 12, 15),
            "java8": date(2024, 1, 8),
            "go1.x": date(2024, 1, 8),
            "provided": date(2024, 1, 8),
            "dotnet6": date(2024, 12, 20),
            "dotnet7": date(2024, 5, 14),
            "ruby2.7": date(2023, 12, 7),
            "ruby3.2": date(2026, 3, 31),
        },
        min_length=1,
        description="Runtime identifier -> the day Lambda deprecates it (Lambda runtimes "
        "page); a runtime not listed has no announced deprecation.",
    )


@check(
    "aws.lambda.supported_runtime",
    resource=FUNCTION,
    params=RuntimeParams,
    permissions=["lambda:ListFunctions"],
    reads=["runtime"],
)
def supported_runtime(resource: dict[str, Any], params: RuntimeParams) -> Result:
    """Pass when the function's runtime is not yet deprecated on the day it was collected;
    container-image functions (no runtime) are not_applicable."""
    runtime = attribute(resource, "runtime")
    if runtime is None:
        return Result.not_applicable("the function is a container image: it has no managed runtime")
    if runtime not in params.deprecated_on:
        return Result.passed(f"runtime {runtime} has no announced deprecation", version=runtime)
    return _judge(resource, "runtime", str(runtime), params.deprecated_on)
