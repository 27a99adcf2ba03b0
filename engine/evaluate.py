"""Evaluation: snapshots -> findings, with waivers, scores and the exit code a CI run gates on."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from assay.checks import MissingEvidence, Result, Status
from assay.engine.catalog import LoadedControl
from assay.engine.collect import Snapshot
from assay.engine.models import Waiver
from assay.engine.planner import Plan
from assay.engine.severity import Severity
from assay.errors import ExitCode


@dataclass(slots=True)
class Finding:
    control: LoadedControl
    resource: dict[str, Any]  # type, id, name, scope
    result: Result
    waiver: Waiver | None = None
    expired_waiver: Waiver | None = None

    @property
    def status(self) -> Status:
        return self.result.status

    @property
    def gating(self) -> bool:
        """A failure not accepted by a current waiver."""
        return self.result.status is Status.FAIL and self.waiver is None


@dataclass
class Tally:
    """Results counted for a score: each finding once."""

    passed: int = 0
    failed: int = 0  # not waived
    waived: int = 0
    errors: int = 0
    not_applicable: int = 0

    @property
    def score(self) -> float | None:
        """passed / (passed + unwaived failed); None when nothing was decided."""
        decided = self.passed + self.failed
        return self.passed / decided if decided else None

    def add(self, f: Finding) -> None:
        if f.status is Status.PASS:
            self.passed += 1
        elif f.status is Status.FAIL:
            if f.waiver:
                self.waived += 1
            else:
                self.failed += 1
        elif f.status is Status.ERROR:
            self.errors += 1
        else:
            self.not_applicable += 1


@dataclass
class CriterionScore(Tally):
    framework: str = ""
    criterion: str = ""
    title: str = ""
    controls: list[str] = field(default_factory=list)


@dataclass
class FrameworkScore(Tally):
    """A framework's results: every finding of a control mapped to one of its scored
    criteria, counted once however many of them the control maps to."""

    framework: str = ""
    title: str = ""
    criteria: int = 0  # how many of its criteria are scored
    controls: list[str] = field(default_factory=list)


@dataclass
class Summary:
    counts: Counter[str] = field(default_factory=Counter)
    waived: int = 0
    expired_waivers: list[Waiver] = field(default_factory=list)
    failed_by_severity: Counter[str] = field(default_factory=Counter)
    scores: list[CriterionScore] = field(default_factory=list)
    frameworks: list[FrameworkScore] = field(default_factory=list)

    @property
    def tally(self) -> list[tuple[str, int]]:
        """The results counted one way for every view: `failed` is the failures no waiver
        accepts (what gates), `waived` the accepted ones, never counted twice."""
        fail = self.counts.get(Status.FAIL.value, 0)
        return [
            ("passed", self.counts.get(Status.PASS.value, 0)),
            ("failed", fail - self.waived),
            ("waived", self.waived),
            ("could not decide", self.counts.get(Status.ERROR.value, 0)),
            ("not applicable", self.counts.get(Status.NOT_APPLICABLE.value, 0)),
        ]


def evaluate(plan: Plan, snap: Snapshot, now: datetime | None = None) -> list[Finding]:
    """Run every planned control over every resource of its type; a faulty check never raises."""
    now = now or datetime.now(UTC)
    max_age = timedelta(hours=plan.profile.max_snapshot_age_hours)
    by_type: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for r in snap.resources:
        by_type.setdefault(r["type"], []).append((r, resource_ref(r)))
    stale = _stale_stamps(snap.resources, now, max_age)
    today = now.date()
    findings: list[Finding] = []
    for loaded in plan.controls:
        for res, ref in by_type.get(loaded.control.resource, ()):
            reason = stale.get(res.get("collected_at", ""))
            result = Result.error(reason) if reason else run_one(loaded, res, now)
            findings.append(_waive(Finding(loaded, ref, result), plan.profile.waivers, today))
        for failure in snap.failures:
            if failure.resource_type == loaded.control.resource:
                ref = {
                    "type": failure.resource_type,
                    "id": f"{failure.target}/{failure.resource_type}",
                    "name": failure.target,
                    "scope": {"provider": failure.provider, "target": failure.target},
                }
                findings.append(Finding(loaded, ref, Result.error(failure.reason)))
    return findings


def run_one(loaded: LoadedControl, resource: dict[str, Any], now: datetime) -> Result:
    """One control on one resource; a check that raises gives `error`, never pass or fail."""
    try:
        result = loaded.evaluate(resource, now)
    except MissingEvidence as exc:
        return Result.error(str(exc))
    except Exception as exc:
        return Result.error(f"check {loaded.control.check} raised {type(exc).__name__}: {exc}")
    if not isinstance(result, Result):
        return Result.error(
            f"check {loaded.control.check} returned {type(result).__name__}, expected Result"
        )
    return result


def resource_ref(res: dict[str, Any]) -> dict[str, Any]:
    """What a finding says of its resource; `source` (file, line) when read from a file."""
    ref = {
        "type": res["type"],
        "id": res["id"],
        "name": res.get("name") or res["id"],
        "scope": res["scope"],
    }
    if "source" in res:
        ref["source"] = res["source"]
    return ref


def _stale_stamps(
    resources: Iterable[dict[str, Any]], now: datetime, max_age: timedelta
) -> dict[str, str]:
    """collected_at -> reason, for stamps older than the limit (parsed once per distinct stamp)."""
    out: dict[str, str] = {}
    for stamp in {r.get("collected_at", "") for r in resources}:
        try:
            when = datetime.fromisoformat(stamp)
        except ValueError:
            out[stamp] = f"resource has no valid collected_at timestamp (got {stamp!r})"
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if now - when > max_age:
            hours = int((now - when).total_seconds() // 3600)
            out[stamp] = (
                f"evidence collected at {stamp} is {hours}h old, older than the "
                f"{int(max_age.total_seconds() // 3600)}h limit; collect again"
            )
    return out


def _waive(f: Finding, waivers: list[Waiver], today: date) -> Finding:
    if f.result.status is not Status.FAIL:
        return f
    for w in waivers:
        if w.matches(f.control.control.id, f.resource["id"], f.resource["name"]):
            if w.expires >= today:
                f.waiver = w
                return f
            f.expired_waiver = f.expired_waiver or w
    return f


def summarise(plan: Plan, findings: list[Finding], today: date | None = None) -> Summary:
    """Counts and scores; every expired waiver in the profile is reported, matched or not."""
    today = today or datetime.now(UTC).date()
    s = Summary()
    for f in findings:
        s.counts[f.status.value] += 1
        if f.waiver:
            s.waived += 1
        elif f.status is Status.FAIL:
            s.failed_by_severity[f.control.control.severity.value] += 1
    s.expired_waivers = [w for w in plan.profile.waivers if w.expires < today]
    s.scores = criterion_scores(plan, findings)
    s.frameworks = framework_scores(plan, s.scores, findings)
    return s


def criterion_scores(plan: Plan, findings: list[Finding]) -> list[CriterionScore]:
    """One score per criterion a planned control maps to, among those the run's framework
    selection covers (`Plan.scores_criterion`)."""
    titles = {
        (fw.id, c.id): c.title for fw in plan.catalog.frameworks.values() for c in fw.criteria
    }
    planned = {c.control.id for c in plan.controls}
    scores: dict[tuple[str, str], CriterionScore] = {}
    for key, cids in plan.catalog.criteria().items():
        selected = [c for c in cids if c in planned]
        if selected and plan.scores_criterion(*key):
            scores[key] = CriterionScore(
                framework=key[0], criterion=key[1], title=titles.get(key, ""), controls=selected
            )
    by_control: dict[str, list[CriterionScore]] = {}
    for score in scores.values():
        for cid in score.controls:
            by_control.setdefault(cid, []).append(score)
    for f in findings:
        for score in by_control.get(f.control.control.id, ()):
            score.add(f)
    # In the order of the framework files, which list criteria in the framework's own order.
    order = {
        (fw.id, c.id): (i, j)
        for i, fw in enumerate(plan.catalog.frameworks.values())
        for j, c in enumerate(fw.criteria)
    }
    return [scores[k] for k in sorted(scores, key=order.__getitem__)]


def framework_scores(
    plan: Plan, scores: list[CriterionScore], findings: list[Finding]
) -> list[FrameworkScore]:
    """One score per framework with a scored criterion, in catalog order."""
    frameworks: dict[str, FrameworkScore] = {}
    for fw in plan.catalog.frameworks.values():
        mine = [s for s in scores if s.framework == fw.id]
        if mine:
            controls = sorted({cid for s in mine for cid in s.controls})
            frameworks[fw.id] = FrameworkScore(
                framework=fw.id, title=fw.title, criteria=len(mine), controls=controls
            )
    by_control: dict[str, list[FrameworkScore]] = {}
    for score in frameworks.values():
        for cid in score.controls:
            by_control.setdefault(cid, []).append(score)
    for f in findings:
        for score in by_control.get(f.control.control.id, ()):
            score.add(f)
    return list(frameworks.values())


def exit_code(
    findings: Iterable[Finding],
    fail_on: Severity,
    gates: Callable[[Finding], bool] | None = None,
) -> ExitCode:
    """1 for an unwaived failure at or above `fail_on`, else 3 if any result is `error`, else 0.

    `gates`, when given, narrows which failures may gate (e.g. only those new since the
    baseline); errors are never narrowed away.
    """
    errors = False
    for f in findings:
        if (
            f.gating
            and f.control.control.severity.rank >= fail_on.rank
            and (gates is None or gates(f))
        ):
            return ExitCode.FAILED
        errors = errors or f.status is Status.ERROR
    return ExitCode.ERRORS if errors else ExitCode.OK
