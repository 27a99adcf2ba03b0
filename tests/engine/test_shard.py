"""Sharding: which shard a process is, the run id shards share, and each shard's share."""

from __future__ import annotations

import itertools
import random

import pytest

from assay.engine.shard import (
    INDEX_ENV,
    JOB_UID_ENV,
    SHARD_ENV,
    Shard,
    assign,
    completer_index,
    group_of,
    parse_shard,
    plan_digest,
    resolve_run_id,
    resolve_shard,
    unit_key,
)
from assay.errors import ConfigError


def test_a_shard_is_numbered_from_zero() -> None:
    assert parse_shard("0/4") == Shard(0, 4)
    assert parse_shard(" 3/4 ") == Shard(3, 4)
    assert str(Shard(2, 5)) == "2/5"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("4/4", "expected 0 to 3"),
        ("1/0", "expected 1 to"),
        ("1-4", "expected I/N"),
        ("-1/4", "expected I/N"),
        ("a/b", "expected I/N"),
    ],
)
def test_a_bad_shard_says_what_was_expected(text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as caught:
        parse_shard(text)
    assert caught.value.field == "--shard"


def test_the_index_comes_from_assay_shard_before_the_indexed_job() -> None:
    assert resolve_shard(None, None, {INDEX_ENV: "1"}) is None  # not sharded at all
    assert resolve_shard(None, 4, {INDEX_ENV: "1"}) == Shard(1, 4)
    assert resolve_shard(None, 4, {SHARD_ENV: "2", INDEX_ENV: "1"}) == Shard(2, 4)
    assert resolve_shard("3/4", None, {INDEX_ENV: "1"}) == Shard(3, 4)


def test_shards_without_an_index_or_with_a_bad_one_is_refused() -> None:
    with pytest.raises(ConfigError, match="JOB_COMPLETION_INDEX"):
        resolve_shard(None, 4, {})
    with pytest.raises(ConfigError, match="expected 0 to 3") as caught:
        resolve_shard(None, 4, {INDEX_ENV: "4"})
    assert caught.value.field == f"${INDEX_ENV}"
    with pytest.raises(ConfigError, match="expected a shard index"):
        resolve_shard(None, 4, {SHARD_ENV: "one"})
    with pytest.raises(ConfigError, match="not both"):
        resolve_shard("0/4", 4, {})


def test_the_index_one_past_the_last_shard_completes() -> None:
    assert completer_index(4, {INDEX_ENV: "4"})
    assert not completer_index(4, {INDEX_ENV: "3"})
    assert not completer_index(4, {})
    with pytest.raises(ConfigError, match="--shards"):
        completer_index(None, {INDEX_ENV: "4"})


def test_every_pod_of_a_job_derives_the_same_run_id() -> None:
    job = {JOB_UID_ENV: "6f1c2a8e-0b7d-4f5e-9c3a-2d1e0f9b8a7c"}
    first = resolve_run_id(None, job)
    assert first == resolve_run_id(None, dict(job))
    assert first != resolve_run_id(None, {JOB_UID_ENV: "another-job"})
    assert resolve_run_id("nightly-7", job) == "nightly-7"
    with pytest.raises(ConfigError, match="--run-id"):
        resolve_run_id(None, {})


GROUPS = [f"org-{n:012d}" for n in range(37)]


def test_every_group_goes_to_exactly_one_shard_whatever_the_order() -> None:
    weights = {g: float(random.Random(g).randint(1, 100)) for g in GROUPS}
    first = assign(GROUPS, weights, 4)
    assert set(first) == set(GROUPS) and set(first.values()) == {0, 1, 2, 3}
    shuffled = GROUPS[:]
    random.Random(7).shuffle(shuffled)
    assert assign(shuffled, weights, 4) == first


def test_the_heaviest_groups_are_spread_before_the_light_ones_fill_in() -> None:
    weights = {"a": 100.0, "b": 90.0, "c": 10.0, "d": 10.0, "e": 10.0, "f": 60.0}
    got = assign(list(weights), weights, 2)
    loads = [sum(w for g, w in weights.items() if got[g] == i) for i in range(2)]
    # Longest processing time first: 100 | 90, then 60 joins the 90, the 10s the 100.
    assert sorted(loads) == [130.0, 150.0]
    assert got["a"] != got["b"] and got["f"] == got["b"]
    assert got["c"] == got["d"] == got["e"] == got["a"]


def test_an_unknown_group_weighs_the_mean_of_the_known_ones() -> None:
    weights = {"a": 300.0, "b": 100.0}
    # "new" weighs 200: heavier than b, so it is placed before b.
    assert assign(["a", "b", "new"], weights, 2) == {"a": 0, "new": 1, "b": 1}
    # Nothing known: all weigh alike and go round by name.
    assert assign(["c", "a", "b"], {}, 2) == {"a": 0, "b": 1, "c": 0}


@pytest.mark.parametrize("weight", [None, 0.0, 250.0])
def test_with_equal_weights_no_shard_gets_two_more_than_another(weight: float | None) -> None:
    weights = {} if weight is None else dict.fromkeys(GROUPS, weight)
    for count in (1, 2, 3, 4, 7):
        got = assign(GROUPS, weights, count)
        sizes = [list(got.values()).count(i) for i in range(count)]
        assert max(sizes) - min(sizes) <= 1, (count, sizes)


def test_the_plan_digest_changes_with_groups_count_or_weights() -> None:
    base = plan_digest(GROUPS, 4, {})
    assert base == plan_digest(list(reversed(GROUPS)), 4, {})
    others = [
        plan_digest(GROUPS[:-1], 4, {}),
        plan_digest(GROUPS, 3, {}),
        plan_digest(GROUPS, 4, {GROUPS[0]: 5.0}),
    ]
    assert base not in others and len(set(others)) == 3


def test_unit_keys_lead_back_to_their_group() -> None:
    for group, region in itertools.product(["org-111111111111", "cluster"], [None, "eu-west-1"]):
        key = unit_key(group, region)
        assert group_of(key) == group
    assert unit_key("org-1", None) == "org-1/*"
