"""Exporting bundles and verifying them offline: ranges, checkpoints, views, determinism."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from bundle_tools import RUNS, build_runs, edit_lines, lines, members, rewrite, run_entries
from evidence_backends import Backend
from trestle.oscal.assessment_results import AssessmentResults

import assay.evidence.bundle.export as bundle_export
from assay.evidence import (
    Checkpoint,
    ExportResult,
    LedgerError,
    Selection,
    SigningKey,
    WorkerLost,
    export_bundle,
    merkle,
    open_ledger,
    parse_when,
    rotate_key,
    sign_checkpoint,
    verify_bundle,
)
from assay.evidence.bundle.format import MANIFEST, OSCAL, PROOFS, RECORDS, SUMMARY
from assay.evidence.bundle.records import walk_lines as real_walk_lines
from assay.evidence.bundle.verify import UNBUILT
from assay.evidence.checkpoint import checkpoint_text
from assay.evidence.note import sign_note
from assay.evidence.pseudonym import Pseudonymizer

AT_DSR = "2024-05-01T09:00:00Z"
ORDER = [
    RECORDS,
    "checkpoints/0000-size-5.note",
    "checkpoints/0001-size-10.note",
    "checkpoints/0002-size-16.note",
    PROOFS,
    OSCAL,
    SUMMARY,
    "public.vkey",
    MANIFEST,
    "manifest.sig",
]


@pytest.fixture
def ledger_path(tmp_path: Path, log_key: SigningKey) -> Path:
    path = tmp_path / "ledger.db"
    with open_ledger(str(path)) as ledger:
        build_runs(ledger, log_key)
    return path


def export(
    path: Path,
    out: Path,
    key: SigningKey,
    selection: Selection | None = None,
    since: Checkpoint | None = None,
) -> ExportResult:
    with open_ledger(str(path)) as ledger:
        return export_bundle(ledger, out, key, selection or Selection(), since=since)


def test_a_whole_ledger_exports_and_verifies(
    ledger_path: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    result = export(ledger_path, tmp_path / "all.zip", log_key)
    assert (result.start, result.end) == (0, 16)
    assert [c.size for c in result.checkpoints] == [5, 10, 16]
    with zipfile.ZipFile(result.path) as zf:
        assert zf.namelist() == ORDER
        assert {info.date_time for info in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    report = verify_bundle(result.path, [log_key.verifier], check_views=True)
    assert report.ok, report.error
    assert (report.start, report.end, report.records, report.checkpoints) == (0, 16, 16, 3)
    assert report.latest == result.latest
    assert report.signer == str(log_key.verifier)
    assert report.notes == []
    assert report.as_dict()["latest_checkpoint"]["size"] == 16
    # Records are the stored bytes, one a line.
    with open_ledger(str(ledger_path)) as ledger:
        assert lines(result.path) == [r.body + b"\n" for r in ledger.records()]


def test_the_same_ledger_gives_the_same_bytes(
    ledger_path: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    first = export(ledger_path, tmp_path / "one.zip", log_key)
    again = export(ledger_path, tmp_path / "two.zip", log_key)
    assert first.path.read_bytes() == again.path.read_bytes()
    assert first.sha256 == hashlib.sha256(first.path.read_bytes()).hexdigest()


def test_views_built_in_a_process_of_their_own_give_the_same_bytes(
    backend: Backend, tmp_path: Path, log_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    with backend.open() as ledger:
        build_runs(ledger, log_key)
        inline = export_bundle(ledger, tmp_path / "inline.zip", log_key, workers=1)
        # Any range is large enough: the OSCAL view is then built by a worker process
        # reading the ledger by its URL, while this one writes records and summary.
        monkeypatch.setattr(bundle_export, "APART_MIN", 1)
        apart = export_bundle(ledger, tmp_path / "apart.zip", log_key, workers=2)
    assert apart.path.read_bytes() == inline.path.read_bytes()
    assert verify_bundle(apart.path, [log_key.verifier], check_views=True).ok


def test_both_backends_export_the_same_log_to_the_same_bytes(
    backend: Backend, tmp_path: Path, log_key: SigningKey, ledger_path: Path
) -> None:
    with backend.open() as ledger:
        build_runs(ledger, log_key)
        from_backend = export_bundle(ledger, tmp_path / f"{backend.name}.zip", log_key)
    from_sqlite = export(ledger_path, tmp_path / "sqlite-file.zip", log_key)
    assert from_backend.path.read_bytes() == from_sqlite.path.read_bytes()
    assert verify_bundle(from_backend.path, [log_key.verifier]).ok


def test_a_run_is_exported_with_the_checkpoints_around_it(
    ledger_path: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    result = export(ledger_path, tmp_path / "b.zip", log_key, Selection(run="run-b"))
    assert (result.start, result.end) == (5, 10)
    assert [c.size for c in result.checkpoints] == [5, 10]
    assert [json.loads(line)["run"] for line in lines(result.path)] == ["run-b"] * 5
    report = verify_bundle(result.path, [log_key.verifier], check_views=True)
    assert report.ok, report.error
    assert (report.start, report.records) == (5, 5)


def test_a_period_takes_whole_days(ledger_path: Path, tmp_path: Path, log_key: SigningKey) -> None:
    day2 = Selection(since=parse_when("2024-05-02"), until=parse_when("2024-05-02", end=True))
    result = export(ledger_path, tmp_path / "day2.zip", log_key, day2)
    assert (result.start, result.end) == (5, 10)
    assert [c.size for c in result.checkpoints] == [5, 10]
    with open_ledger(str(ledger_path)) as ledger:
        ledger.append(run_entries("run-d", 4, ["pass"] * 3), key=log_key)
        sign_checkpoint(ledger, log_key)
    since_day3 = Selection(since=parse_when("2024-05-03T00:00:00Z"))
    result = export(ledger_path, tmp_path / "day3.zip", log_key, since_day3)
    assert (result.start, result.end) == (10, 21)
    assert [c.size for c in result.checkpoints] == [10, 16, 21]
    assert verify_bundle(result.path, [log_key.verifier], check_views=True).ok


def test_records_beyond_the_right_edge_of_the_range_are_proven_by_subtrees(
    tmp_path: Path, log_key: SigningKey
) -> None:
    path = tmp_path / "l.db"
    with open_ledger(str(path)) as ledger:
        # 6 records, then 11 more; one checkpoint after both.
        ledger.append(
            run_entries("one", 1, ["pass"] * 4) + run_entries("two", 2, ["fail"] * 9), key=log_key
        )
        sign_checkpoint(ledger, log_key)
    result = export(path, tmp_path / "one.zip", log_key, Selection(run="one"))
    assert (result.start, result.end, result.latest.size) == (0, 6, 17)
    # The subtrees over records 6..7, 8..15 and 16 stand in for the records not exported.
    assert len(json.loads(members(result.path)[PROOFS])["right"]) == 3
    assert verify_bundle(result.path, [log_key.verifier]).ok


def test_selections_that_match_nothing_or_are_not_signed_yet(
    ledger_path: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    with pytest.raises(LedgerError, match="no records of run nope"):
        export(ledger_path, tmp_path / "x.zip", log_key, Selection(run="nope"))
    with open_ledger(str(ledger_path)) as ledger:
        ledger.append(run_entries("late", 9, ["pass"]))
    with pytest.raises(
        LedgerError, match=r"records up to 18 are not covered by a signed checkpoint"
    ):
        export(ledger_path, tmp_path / "x.zip", log_key, Selection(run="late"))
    # The default is everything the latest checkpoint covers.
    assert export(ledger_path, tmp_path / "all.zip", log_key).end == 16
    other = SigningKey.generate("example.com/evidence/other")
    with pytest.raises(LedgerError, match=r"is not signed by .*export with the key that signed it"):
        export(ledger_path, tmp_path / "x.zip", other)
    assert not (tmp_path / "x.zip").exists()
    assert list(tmp_path.glob(".x.zip*")) == []  # no half-written file left behind


def test_parse_when_takes_dates_and_times() -> None:
    assert parse_when("2024-06-30").isoformat() == "2024-06-30T00:00:00+00:00"
    assert parse_when("2024-06-30", end=True).isoformat() == "2024-06-30T23:59:59.999999+00:00"
    assert parse_when("2024-06-30T12:00:00Z").isoformat() == "2024-06-30T12:00:00+00:00"
    with pytest.raises(ValueError, match="'30/06/2024' is not a date"):
        parse_when("30/06/2024")


# --- checkpoints an auditor pinned -------------------------------------------------------


def test_next_quarters_bundle_verifies_against_the_pinned_checkpoint(
    ledger_path: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    first = export(ledger_path, tmp_path / "q1.zip", log_key, Selection(run="run-a"))
    pinned = first.latest
    with open_ledger(str(ledger_path)) as ledger:
        ledger.append(run_entries("run-d", 4, ["pass"] * 2), key=log_key)
        sign_checkpoint(ledger, log_key)
    later = Selection(since=parse_when("2024-05-02"))
    second = export(ledger_path, tmp_path / "q2.zip", log_key, later)
    assert second.checkpoints[0] == pinned  # the bundle reaches back to it
    report = verify_bundle(second.path, [log_key.verifier], pinned)
    assert report.ok, report.error
    assert report.trusted == pinned


def test_a_pin_older_than_the_bundle_needs_since_checkpoint(
    ledger_path: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    with open_ledger(str(ledger_path)) as ledger:
        pinned = ledger.checkpoints()[0]  # size 5
    later = export(ledger_path, tmp_path / "c.zip", log_key, Selection(run="run-c"))
    report = verify_bundle(later.path, [log_key.verifier], pinned)
    assert not report.ok
    assert "cannot show it extends a checkpoint of size 5" in str(report.error)
    assert "--since-checkpoint" in str(report.error)
    bridged = export(
        ledger_path, tmp_path / "c2.zip", log_key, Selection(run="run-c"), since=pinned
    )
    assert [c.size for c in bridged.checkpoints] == [5, 10, 16]
    assert verify_bundle(bridged.path, [log_key.verifier], pinned).ok


def test_a_pin_inside_the_range_is_checked_against_the_records(
    tmp_path: Path, log_key: SigningKey
) -> None:
    path = tmp_path / "l.db"
    with open_ledger(str(path)) as ledger:
        build_runs(ledger, log_key)
    # A checkpoint at 7 that the ledger never stored (say, from a witness): the records
    # in the bundle still give its root.
    with open_ledger(str(path)) as ledger:
        root = merkle.root(ledger.nodes, 7)
        note = sign_note(checkpoint_text(log_key.name, 7, root), [log_key])
    pinned = Checkpoint(log_key.name, 7, root, note)
    bundle = export(path, tmp_path / "b.zip", log_key).path
    assert verify_bundle(bundle, [log_key.verifier], pinned).ok


def test_since_checkpoint_from_another_history_is_refused(
    ledger_path: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    other = tmp_path / "other.db"
    with open_ledger(str(other)) as ledger:
        ledger.append(run_entries("x", 1, ["fail"] * 3), key=log_key)
        stranger = sign_checkpoint(ledger, log_key)
    with pytest.raises(LedgerError, match="it is not this ledger's history"):
        export(ledger_path, tmp_path / "x.zip", log_key, since=stranger)


# --- key rotation, personal data ---------------------------------------------------------


def test_a_bundle_across_a_key_rotation_verifies_with_the_old_key(
    ledger_path: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    new = SigningKey.generate("example.com/evidence/next")
    with open_ledger(str(ledger_path)) as ledger:
        rotate_key(ledger, log_key, new, "2024-05-04T00:00:00Z")
        ledger.append(run_entries("run-d", 5, ["pass"]), key=new)
        sign_checkpoint(ledger, new)
    bundle = export(ledger_path, tmp_path / "r.zip", new, Selection(since=parse_when("2024-05-03")))
    report = verify_bundle(bundle.path, [log_key.verifier])
    assert report.ok, report.error
    assert report.signer == str(new.verifier)
    # The new key alone cannot vouch for the old origin's checkpoints.
    assert not verify_bundle(bundle.path, [new.verifier]).ok


def test_erasing_a_vault_value_leaves_ledger_and_bundle_verifiable(
    backend: Backend, tmp_path: Path, log_key: SigningKey
) -> None:
    subject = Pseudonymizer(b"k" * 32).pseudonym("email", "ada@example.com")
    with backend.open() as ledger:
        ledger.vault_put(subject, "ada@example.com")
        ledger.append([{"kind": "dsr_received", "at": AT_DSR, "subject": subject}], key=log_key)
        sign_checkpoint(ledger, log_key)
        before = export_bundle(ledger, tmp_path / "before.zip", log_key)
        assert ledger.vault_erase(subject)
        assert ledger.vault_get(subject) is None
        after = export_bundle(ledger, tmp_path / "after.zip", log_key)
    assert b"ada@example.com" not in before.path.read_bytes()
    assert before.path.read_bytes() == after.path.read_bytes()
    assert verify_bundle(after.path, [log_key.verifier]).ok


# --- views -------------------------------------------------------------------------------


def test_the_oscal_document_parses_and_links_every_result_to_its_record(
    ledger_path: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    bundle = export(ledger_path, tmp_path / "b.zip", log_key).path
    doc = json.loads(members(bundle)[OSCAL])
    ar = AssessmentResults.model_validate(doc["assessment-results"])
    assert [r.title for r in ar.results] == [f"assay run {run}" for run, _, _ in RUNS]
    records = {json.loads(line)["seq"]: line.rstrip(b"\n") for line in lines(bundle)}
    observations = [o for r in ar.results for o in r.observations or []]
    assert len(observations) == 3 + 3 + 4
    for observation in observations:
        props = {p.name: p.value for p in observation.props or []}
        [evidence] = observation.relevant_evidence or []
        seq = int(evidence.href.removeprefix("records.jsonl#seq="))
        assert props["assay-record"] == hashlib.sha256(records[seq]).hexdigest()
        assert props["assay-status"] == json.loads(records[seq])["status"]
    first = ar.results[0]
    linked = {
        o.observation_uuid for f in first.findings or [] for o in f.related_observations or []
    }
    assert linked == {o.uuid for o in first.observations or []}
    states = {f.target.target_id: f.target.status.state.value for f in first.findings or []}
    assert states == {"ctl-0": "not-satisfied", "ctl-1": "satisfied"}


def test_the_summary_says_what_is_in_the_bundle(
    ledger_path: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    bundle = export(ledger_path, tmp_path / "b.zip", log_key).path
    summary = members(bundle)[SUMMARY].decode()
    assert summary.startswith("# Evidence bundle\n\nRecords 0..15 (16) of the log")
    assert f"| {log_key.name}@16 |" in summary
    assert "| run-c | 2024-05-03T02:00:00Z | 2024-05-03T02:00:00Z | 4 | 2 | 0 | 1 |" in summary
    assert "| fail | 4 |" in summary
    assert "assay evidence verify BUNDLE.zip --key PUBLIC-KEY" in summary


def test_without_check_views_the_report_says_they_were_not_rebuilt(
    ledger_path: Path, tmp_path: Path, log_key: SigningKey
) -> None:
    bundle = export(ledger_path, tmp_path / "b.zip", log_key).path
    assert verify_bundle(bundle, [log_key.verifier]).notes == [UNBUILT]


def test_a_key_is_required() -> None:
    with pytest.raises(ValueError, match="needs the log's public key"):
        verify_bundle(Path("whatever.zip"), [])


# --- scale -------------------------------------------------------------------------------


def test_export_memory_does_not_grow_with_the_ledger(
    tmp_path: Path, log_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Records are written in chunks of this size: both ledgers below fill several.
    monkeypatch.setattr(bundle_export, "_WRITE", 1 << 16)

    def peak(records: int) -> int:
        path = tmp_path / f"{records}.db"
        with open_ledger(str(path)) as ledger:
            for start in range(0, records, 500):
                ledger.append(run_entries(f"r{start}", 1, ["pass"] * 498), key=log_key)
            sign_checkpoint(ledger, log_key)
            tracemalloc.start()
            try:
                export_bundle(ledger, tmp_path / f"{records}.zip", log_key)
                return tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()

    peak(1000)  # warm caches up
    small, large = peak(1000), peak(6000)
    assert large < small + 1_000_000, (small, large)


def test_a_large_bundle_verifies_in_parallel_as_in_one_process(
    tmp_path: Path, log_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small chunks so that a small bundle takes the parallel path.
    import assay.evidence.bundle.records as records
    import assay.evidence.bundle.verify as verify

    monkeypatch.setattr(records, "MIN_CHUNK", 16)
    monkeypatch.setattr(verify, "PARALLEL_MIN", 64)
    path = tmp_path / "l.db"
    with open_ledger(str(path)) as ledger:
        ledger.append(run_entries("x", 1, ["pass"] * 3), key=log_key)
        sign_checkpoint(ledger, log_key)
        for n in range(7):
            ledger.append(run_entries(f"r{n}", 2, ["pass", "fail"] * 7), key=log_key)
            sign_checkpoint(ledger, log_key)
    bundle = export(path, tmp_path / "b.zip", log_key, Selection(since=parse_when("2024-05-02")))
    assert (bundle.start, bundle.end) == (5, 117)
    one = verify_bundle(bundle.path, [log_key.verifier], workers=1)
    assert one.ok
    for workers in (2, 3):
        assert verify_bundle(bundle.path, [log_key.verifier], workers=workers) == one

    # A record changed and signed over: every split of the work finds it first.
    def backdate(ls: list[bytes]) -> list[bytes]:
        return [*ls[:60], ls[60].replace(b'"at":"2', b'"at":"1'), *ls[61:]]

    edited = rewrite(
        bundle.path,
        tmp_path / "e.zip",
        {RECORDS: edit_lines(backdate)},
        digests=True,
        sign=log_key,
    )
    bad = [verify_bundle(edited, [log_key.verifier], workers=n) for n in (1, 2, 3)]
    assert not bad[0].ok and bad[0].first_bad_seq == 66, bad[0].error
    seen = {(r.records, r.head, r.first_bad_seq, str(r.error)) for r in bad}
    assert len(seen) == 1, seen


def _dies_in_a_worker(parent: int, how: str) -> Callable[..., object]:
    def walk(*args: object) -> object:
        if os.getpid() != parent:
            if how == "exit":
                os._exit(3)
            raise ValueError("a bug in a worker")
        return real_walk_lines(*args)

    return walk


class _NoProcesses:
    """A start method whose processes cannot be made, as when the system has none left."""

    def Pipe(self, duplex: bool) -> object:
        return multiprocessing.get_context("fork").Pipe(duplex)

    def Process(self, **kwargs: object) -> object:
        raise OSError(11, "Resource temporarily unavailable")


@pytest.mark.parametrize("how", ["exit", "raise", "unstarted"])
def test_a_worker_that_dies_fails_or_cannot_start_stops_verification_loudly(
    tmp_path: Path, log_key: SigningKey, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    import assay.evidence.bundle.records as records
    import assay.evidence.bundle.verify as verify

    monkeypatch.setattr(records, "MIN_CHUNK", 16)
    monkeypatch.setattr(verify, "PARALLEL_MIN", 64)
    if how == "unstarted":
        monkeypatch.setattr(records, "context", _NoProcesses)
    else:
        # Workers started by fork run the patched walk (spawn would import it afresh).
        monkeypatch.setattr(records, "context", lambda: multiprocessing.get_context("fork"))
        monkeypatch.setattr(records, "walk_lines", _dies_in_a_worker(os.getpid(), how))
    path = tmp_path / "l.db"
    with open_ledger(str(path)) as ledger:
        ledger.append(run_entries("x", 1, ["pass"] * 98), key=log_key)
        sign_checkpoint(ledger, log_key)
    bundle = export(path, tmp_path / "b.zip", log_key, Selection())
    # Not a finding about the bundle: an error of its own kind, never a failed verification.
    expected: dict[str, tuple[type[Exception], str]] = {
        "exit": (WorkerLost, "a worker verifying the records died: the bundle's verification"),
        "raise": (ValueError, "a bug in a worker"),
        "unstarted": (WorkerLost, "could not start a worker to verify the records"),
    }
    kind, message = expected[how]
    with pytest.raises(kind, match=message):
        verify_bundle(bundle.path, [log_key.verifier], workers=2)
