"""Sharded runs end to end on offline Kubernetes manifests: shards, completion, re-runs."""

from __future__ import annotations

import json
import secrets
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from assay.engine.changes import run_index
from assay.engine.cli.main import cli
from assay.engine.complete import RunIncomplete, complete_run
from assay.engine.planner import make_plan
from assay.engine.severity import Severity
from assay.engine.shard import Shard, assign
from assay.engine.sharded import UNIT_FINISHED, run_shard, work_plan
from assay.evidence import open_ledger

CLUSTER = Path(__file__).resolve().parents[2] / "examples" / "k8s" / "demo-cluster"
LEDGER = "sqlite:///ledger.db"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ASSAY_PSEUDONYM_KEY", secrets.token_hex(32))
    for name in ("ASSAY_LEDGER", "ASSAY_SHARD", "ASSAY_SHARDS", "ASSAY_RUN_ID", "ASSAY_JOB_UID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("JOB_COMPLETION_INDEX", raising=False)
    targets = "".join(
        f"  - {{name: {f.stem}, provider: k8s, manifests: '{f}'}}\n"
        for f in sorted(CLUSTER.glob("*.yaml"))
    )
    (tmp_path / "assay.yaml").write_text(f"controls: {{tags: [k8s]}}\ntargets:\n{targets}")
    return tmp_path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def verdicts(doc: dict[str, object]) -> Counter[tuple[str, str, str]]:
    results = doc["results"]
    assert isinstance(results, list)
    return Counter((r["control"], r["resource"]["id"], r["status"]) for r in results)


def shard(index: int, count: int, run: str = "nightly-1") -> Result:
    res = invoke("run", "--ledger", LEDGER, "--shard", f"{index}/{count}", "--run-id", run)
    assert res.exit_code == 0, res.output
    return res


def test_three_shards_give_the_verdicts_of_one_unsharded_run(workspace: Path) -> None:
    whole = invoke("run", "--ledger", "sqlite:///whole.db", "-f", "json")
    expected = verdicts(json.loads(whole.stdout))
    assert len(expected) > 20 and max(expected.values()) == 1
    for i in range(3):
        assert "Reports come with the run's completion" in shard(i, 3).stderr
    done = invoke(
        "runs", "complete", "nightly-1", "--shards", "3", "--ledger", LEDGER, "-f", "json"
    )
    assert done.exit_code == whole.exit_code, done.output
    doc = json.loads(done.stdout)
    assert verdicts(doc) == expected
    assert doc["run"]["id"] == "nightly-1"
    assert {t["name"] for t in doc["run"]["targets"]} == {f.stem for f in CLUSTER.glob("*.yaml")}
    with open_ledger(LEDGER) as ledger:
        [entry] = run_index(ledger).runs(finished=True)
        assert entry.run == "nightly-1" and entry.results == sum(expected.values())
        closing = ledger.record(entry.last_seq)
        assert closing is not None and "shard" not in closing.record
        assert set(closing.record["costs"]) == {f.stem for f in CLUSTER.glob("*.yaml")}
    assert invoke("evidence", "verify", "--ledger", LEDGER).exit_code == 0


def test_a_missing_shard_leaves_the_run_incomplete_until_it_runs(workspace: Path) -> None:
    shard(0, 3)
    shard(2, 3)
    early = invoke("runs", "complete", "nightly-1", "--shards", "3", "--ledger", LEDGER)
    assert early.exit_code == 3
    assert "run nightly-1 is incomplete: 2 of 3 shards finished; shard 1 never started" in (
        early.stderr
    )
    with open_ledger(LEDGER) as ledger:
        assert run_index(ledger).runs(finished=True) == []  # not a baseline yet
    shard(1, 3)
    done = invoke("runs", "complete", "nightly-1", "--shards", "3", "--ledger", LEDGER)
    assert done.exit_code in (0, 1, 3) and "nightly-1 complete" in done.stderr
    # Completing again writes nothing more and reports the same run.
    with open_ledger(LEDGER) as ledger:
        size = ledger.count()
    again = invoke("runs", "complete", "nightly", "--shards", "3", "--ledger", LEDGER)
    assert again.exit_code == done.exit_code
    with open_ledger(LEDGER) as ledger:
        assert ledger.count() == size


def test_a_finished_shard_run_again_records_nothing(workspace: Path) -> None:
    shard(0, 2)
    with open_ledger(LEDGER) as ledger:
        size = ledger.count()
    assert "had already finished" in shard(0, 2).stderr
    with open_ledger(LEDGER) as ledger:
        assert ledger.count() == size


def test_a_shard_that_died_midway_resumes_without_repeating_a_unit(workspace: Path) -> None:
    plan = make_plan(workspace / "assay.yaml")

    class Died(Exception):
        pass

    def die_after_first(unit: str, results: int) -> None:
        raise Died(unit)

    with pytest.raises(Died):
        run_shard(
            plan,
            Shard(0, 1),
            "nightly-1",
            ledger_url=LEDGER,
            profile="assay.yaml",
            progress=die_after_first,
        )
    early = invoke("runs", "complete", "nightly-1", "--shards", "1", "--ledger", LEDGER)
    assert "shard 0 started but not finished" in early.stderr and early.exit_code == 3
    resumed = shard(0, 1)
    assert "(1 already were)" in resumed.stderr
    done = invoke(
        "runs", "complete", "nightly-1", "--shards", "1", "--ledger", LEDGER, "-f", "json"
    )
    whole = invoke("run", "--ledger", "sqlite:///whole.db", "-f", "json")
    assert verdicts(json.loads(done.stdout)) == verdicts(json.loads(whole.stdout))
    with open_ledger(LEDGER) as ledger:
        units = Counter(
            r.record["unit"] for r in ledger.records() if r.record.get("kind") == UNIT_FINISHED
        )
    assert len(units) == 5 and set(units.values()) == {1}


def test_shards_that_disagree_on_the_count_cannot_complete(workspace: Path) -> None:
    shard(0, 2)
    res = invoke("run", "--ledger", LEDGER, "--shard", "1/3", "--run-id", "nightly-1")
    assert res.exit_code == 2
    assert "shard 0 of run nightly-1 runs with 2 shards, this one with 3" in res.stderr
    wrong = invoke("runs", "complete", "nightly-1", "--shards", "1", "--ledger", LEDGER)
    assert wrong.exit_code == 2 and "sharded 2 ways, not 1" in wrong.stderr


def test_the_indexed_job_completion_index_completes_the_run(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSAY_JOB_UID", "0b6f7c3e-5a41-4c1e-8d2f-9e3a1b2c4d5e")
    monkeypatch.setenv("ASSAY_SHARDS", "2")
    for index in range(2):
        monkeypatch.setenv("JOB_COMPLETION_INDEX", str(index))
        assert invoke("run", "--ledger", LEDGER, "--completer").exit_code == 0
    monkeypatch.setenv("JOB_COMPLETION_INDEX", "2")
    res = invoke("run", "--ledger", LEDGER, "--completer", "-f", "json=out.json")
    assert "complete: 2 shards" in res.stderr
    doc = json.loads((workspace / "out.json").read_text())
    with open_ledger(LEDGER) as ledger:
        [entry] = run_index(ledger).runs(finished=True)
    assert doc["run"]["id"] == entry.run and len(doc["results"]) == entry.results


def test_waiting_completes_once_the_last_shard_finishes(workspace: Path) -> None:
    plan = make_plan(workspace / "assay.yaml")
    shard(0, 2)
    polls: list[float] = []

    def late_shard(seconds: float) -> None:
        # While the completion waits, the missing shard runs and finishes.
        polls.append(seconds)
        if len(polls) == 2:
            shard(1, 2)

    report = complete_run(
        plan,
        "nightly-1",
        2,
        ledger_url=LEDGER,
        fail_on=Severity.LOW,
        profile="assay.yaml",
        wait=60,
        poll=0.5,
        sleep=late_shard,
    )
    assert polls == [0.5, 0.5] and report.ledger is not None
    with pytest.raises(RunIncomplete, match="shards 0, 1 never started"):
        complete_run(
            plan, "nightly-2", 2, ledger_url=LEDGER, fail_on=Severity.LOW, profile="x", wait=0
        )


def test_the_rebuilt_index_counts_a_sharded_run_as_the_appends_did(workspace: Path) -> None:
    shard(0, 2)
    with open_ledger(LEDGER) as ledger:
        ledger.rebuild_run_index()
        [entry] = run_index(ledger).runs()
        assert not entry.finished and entry.starts == 1
    shard(1, 2)
    invoke("runs", "complete", "nightly-1", "--shards", "2", "--ledger", LEDGER)
    with open_ledger(LEDGER) as ledger:
        appended = run_index(ledger).runs()
        ledger.rebuild_run_index()
        assert run_index(ledger).runs() == appended
        [entry] = appended
        assert entry.finished and (entry.starts, entry.finishes) == (1, 1)
        assert len(entry.counts) == 1  # the closing record's, for the whole run
        assert sum(entry.counts[0]["by_status"].values()) == entry.results


def test_a_run_id_without_a_shard_is_a_usage_error(workspace: Path) -> None:
    res = CliRunner().invoke(cli, ["run", "--ledger", LEDGER, "--run-id", "nightly-1"])
    assert res.exit_code == 2 and "add --shard I/N" in res.output
    with open_ledger(LEDGER) as ledger:
        assert ledger.count() == 0


def test_the_next_run_weighs_each_target_by_what_it_cost_in_the_last(workspace: Path) -> None:
    plan = make_plan(workspace / "assay.yaml")
    with open_ledger(LEDGER) as ledger:
        first = work_plan(plan, run_index(ledger), 2, 10.0)
    assert first.weights == {}  # nothing known yet: every target weighs the same
    for i in range(2):
        shard(i, 2)
    invoke("runs", "complete", "nightly-1", "--shards", "2", "--ledger", LEDGER)
    with open_ledger(LEDGER) as ledger:
        index = run_index(ledger)
        [entry] = index.runs(finished=True)
        closing = ledger.record(entry.last_seq)
        assert closing is not None
        costs = closing.record["costs"]
        second = work_plan(plan, index, 2, 10.0)
    assert second.weights == {name: float(ms) for name, ms in costs.items()}
    assert second.assignment == assign(second.target_names, second.weights, 2)
    assert second.digest != first.digest
