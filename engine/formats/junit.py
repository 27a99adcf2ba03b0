"""JUnit XML (junitparser): a test suite per control, a test case per resource.

Failures carry the reason, undecidable results are `<error>`, waived failures are
skipped with the waiver, so CI test-report views show compliance like test results.
"""

from __future__ import annotations

from typing import IO

from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

from assay.checks import Status
from assay.engine.report import RunReport


def document(report: RunReport) -> JUnitXml:
    xml = JUnitXml(name=f"assay run {report.run_id}")
    suites: dict[str, TestSuite] = {}
    for f in sorted(report.findings, key=lambda f: (f.control.control.id, f.resource["id"])):
        c = f.control.control
        suite = suites.get(c.id)
        if suite is None:
            suite = suites[c.id] = TestSuite(c.id)
            suite.timestamp = report.finished_at
            suite.add_property("severity", c.severity.value)
            suite.add_property("title", c.title)
        case = TestCase(str(f.resource["id"]), classname=c.id)
        if f.status is Status.FAIL and f.waiver:
            case.result = [
                Skipped(f"waived by {f.waiver.id} until {f.waiver.expires}: {f.waiver.reason}")
            ]
        elif f.status is Status.FAIL:
            failure = Failure(f.result.reason, type_=c.severity.value)
            failure.text = f"remediation: {c.remediation}"
            case.result = [failure]
        elif f.status is Status.ERROR:
            case.result = [Error(f.result.reason, type_="undecided")]
        elif f.status is Status.NOT_APPLICABLE:
            case.result = [Skipped(f"not applicable: {f.result.reason}")]
        suite.add_testcase(case)
    if report.summary.expired_waivers:
        suite = suites["waivers"] = TestSuite("assay-waivers")
        for w in report.summary.expired_waivers:
            case = TestCase(w.id, classname="assay-waivers")
            case.result = [
                Failure(
                    f"waiver {w.id} for {w.control} expired on {w.expires}", type_="expired_waiver"
                )
            ]
            suite.add_testcase(case)
    for suite in suites.values():
        suite.update_statistics()
        xml.add_testsuite(suite)
    xml.update_statistics()
    return xml


def write(report: RunReport, out: IO[str]) -> None:
    out.write(document(report).tostring().decode("utf-8"))
    out.write("\n")
