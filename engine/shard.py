"""Sharding a run: which shard this process is, the run id all shards share, and a
deterministic, balanced share of the work for each shard.

The work is a list of groups: one per target after an organisation is expanded into
its accounts (`collect.members_of`). A group is assigned whole, so every call into one
account comes from one shard and that shard's bounded pool: N shards never multiply
the load on an account. Inside a shard a group splits into work units (a region each,
and the rest), each recorded in its own batch, so a shard re-run skips finished units.

Assignment is longest-processing-time first: groups by decreasing weight (the seconds
the last complete run spent on them, where the ledger knows it), each to the least
loaded shard, ties by name and by lowest shard index. Every shard computes it from the
same inputs, so all agree without talking to each other; `plan_digest` lets the run's
completion check that they did.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from assay.errors import ConfigError

SHARD_ENV = "ASSAY_SHARD"
INDEX_ENV = "JOB_COMPLETION_INDEX"  # set by Kubernetes on the pods of an Indexed Job
RUN_ID_ENV = "ASSAY_RUN_ID"
JOB_UID_ENV = "ASSAY_JOB_UID"  # the Job's uid, through the downward API
_SHARD = re.compile(r"^(\d+)/(\d+)$")
# Run ids derived from a Job's uid live under this namespace: the same Job, the same run.
_JOB_NAMESPACE = uuid.UUID("5d0f3c9e-7b1a-4e8e-9a51-1f0b6a2c4d7e")
MAX_SHARDS = 10_000
_LIGHTEST = 1e-3


@dataclass(frozen=True, order=True)
class Shard:
    """Shard `index` of `count`, numbered from 0 (as Kubernetes numbers completions)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def as_record(self) -> dict[str, int]:
        return {"index": self.index, "count": self.count}


def parse_shard(text: str, field: str = "--shard") -> Shard:
    """``I/N`` -> Shard(I, N), with 0 <= I < N."""
    m = _SHARD.match(text.strip())
    if not m:
        raise ConfigError(f"expected I/N (e.g. 0/4, numbered from 0); got {text!r}", field=field)
    return _checked(int(m.group(1)), int(m.group(2)), field)


def _checked(index: int, count: int, field: str) -> Shard:
    if not 1 <= count <= MAX_SHARDS:
        raise ConfigError(f"expected 1 to {MAX_SHARDS} shards; got {count}", field=field)
    if not 0 <= index < count:
        raise ConfigError(
            f"shard index {index} is out of range: with {count} shards, expected 0 to {count - 1}",
            field=field,
        )
    return Shard(index, count)


def resolve_shard(shard: str | None, shards: int | None, env: Mapping[str, str]) -> Shard | None:
    """The shard this process runs: ``--shard I/N``; else ``--shards N`` with the index
    from $ASSAY_SHARD, else $JOB_COMPLETION_INDEX; None when the run is not sharded."""
    if shard is not None:
        if shards is not None:
            raise ConfigError("give --shard I/N or --shards N, not both", field="--shards")
        return parse_shard(shard)
    if shards is None:
        return None
    for name in (SHARD_ENV, INDEX_ENV):
        value = env.get(name)
        if value is None or value == "":
            continue
        if not value.strip().isdigit():
            raise ConfigError(
                f"expected a shard index (0, 1, ...); got {value!r}", field=f"${name}"
            )
        return _checked(int(value), shards, f"${name}")
    raise ConfigError(
        f"--shards {shards} needs this process's index: set ${SHARD_ENV} or "
        f"${INDEX_ENV} (an Indexed Job sets it), or give --shard I/N",
        field="--shards",
    )


def completer_index(shards: int | None, env: Mapping[str, str]) -> bool:
    """Whether this process's index ($ASSAY_SHARD, else $JOB_COMPLETION_INDEX) is
    `shards`: one past the last shard, the Indexed Job's completion that completes the run."""
    if shards is None:
        raise ConfigError("--completer needs --shards N", field="--completer")
    for name in (SHARD_ENV, INDEX_ENV):
        value = env.get(name)
        if value:
            return value.strip() == str(shards)
    return False


def resolve_run_id(run_id: str | None, env: Mapping[str, str]) -> str:
    """The run id every shard of a run shares: ``--run-id`` (or $ASSAY_RUN_ID), else one
    derived from the Job's uid ($ASSAY_JOB_UID), the same in every pod of the Job."""
    if run_id:
        return run_id
    job = env.get(JOB_UID_ENV)
    if job:
        return str(uuid.uuid5(_JOB_NAMESPACE, job))
    raise ConfigError(
        "a sharded run needs one run id for all its shards: give --run-id (or "
        f"${RUN_ID_ENV}), or set ${JOB_UID_ENV} from the Job's uid (downward API)",
        field="--run-id",
    )


def assign(groups: Sequence[str], weights: Mapping[str, float], count: int) -> dict[str, int]:
    """Group -> shard index, longest processing time first.

    A group the weights do not know weighs the mean of those they do (1.0 when none
    is known), so a new account is neither free nor the heaviest.
    """
    known = [weights[g] for g in groups if g in weights]
    default = sum(known) / len(known) if known else 1.0

    def weight(group: str) -> float:
        # Nothing weighs nothing: groups that cost 0 ms would all land on shard 0.
        return max(weights.get(group, default), _LIGHTEST)

    order = sorted(groups, key=lambda g: (-weight(g), g))
    loads = [(0.0, i) for i in range(count)]  # a heap of (load, shard index)
    out: dict[str, int] = {}
    for group in order:
        load, index = heapq.heappop(loads)
        out[group] = index
        heapq.heappush(loads, (load + weight(group), index))
    return out


def plan_digest(groups: Sequence[str], count: int, weights: Mapping[str, float]) -> str:
    """What every shard of a run must agree on: the groups, the shard count and the
    weights the assignment used (hex SHA-256, 16 digits)."""
    body = json.dumps(
        {"groups": sorted(groups), "shards": count, "weights": dict(sorted(weights.items()))},
        sort_keys=True,
    )
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def unit_key(group: str, region: str | None) -> str:
    """A work unit's key: ``<group>/<region>``, or ``<group>/*`` for the group's rest."""
    return f"{group}/{region or '*'}"


def group_of(target: str) -> str:
    """The group a result's scope target belongs to (a region unit's failures are
    scoped ``<group>/<region>``; target names never hold a slash)."""
    return target.split("/", 1)[0]
