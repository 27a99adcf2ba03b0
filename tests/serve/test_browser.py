"""The console as a person uses it, in headless Chromium: sign in with a token, walk from
the runs to a finding, filter, see the proof verified by the page itself, export."""

from __future__ import annotations

import sqlite3
import zipfile
from pathlib import Path
from typing import Any

import pytest
from conftest import ADDRESS, Evidence, open_request
from playwright.sync_api import Page, expect

from assay.evidence import open_ledger, verify_bundle
from assay.serve.dsr import DsrDesk
from assay.serve.tokens import Role

# A customer of the example shop, as they wrote their address in the request.
SUBJECT = ("email", "bob@example.com")

pytestmark = pytest.mark.integration


def sign_in(page: Page, url: str, token: str, lands: str = "/runs") -> None:
    page.goto(f"{url}/login")
    page.fill("#token", token)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{url}{lands}")


def test_an_auditor_walks_from_the_runs_to_a_verified_proof(
    page: Page, console_url: str, tokens: dict[Role, str], evidence: Evidence
) -> None:
    sign_in(page, console_url, tokens[Role.AUDITOR])
    expect(page.locator("#who")).to_have_text("auditor tester · auditor")
    rows = page.locator("#runs tbody tr")
    expect(rows).to_have_count(2)
    newest = rows.first
    expect(newest.locator(".score")).to_have_text("40%")
    expect(newest).to_contain_text("complete")
    expect(newest).to_contain_text("example.com/evidence/console@")

    newest.locator("a").click()
    expect(page).to_have_url(f"{console_url}/runs/{evidence.runs[1]}")
    expect(page.locator("#changes")).to_contain_text("2 new failures, 1 fixed, 2 still failing")
    expect(page.locator("svg.trend circle")).to_have_count(2)
    expect(page.locator("#findings tbody tr")).to_have_count(6)

    # Filters apply as soon as a choice changes (once the page's script is loaded);
    # search narrows further.
    page.wait_for_load_state("load")
    page.select_option("select[name=change]", "new_failure")
    expect(page.locator("#findings tbody tr")).to_have_count(2)
    page.fill("#q", "w4")
    page.press("#q", "Enter")
    expect(page.locator("#findings tbody tr")).to_have_count(1)
    expect(page.locator("#matched")).to_have_text("1 finding of 6")

    page.click("#findings tbody tr a")
    expect(page.locator("h1")).to_contain_text("test-widget-locked on w4")
    expect(page.locator("#reason")).to_have_text("lock level 0 < 2")
    expect(page.locator("#observed")).to_contain_text('"lock_level": 0')
    expect(page.locator("#remediation")).to_have_text("Lock the widget.")
    expect(page.locator("#server-verdict")).to_contain_text("verified")
    verdict = page.locator("#browser-verdict")
    expect(verdict).to_have_attribute("data-state", "verified")
    expect(verdict).to_contain_text(f"signed by {evidence.key.verifier}")


def test_a_waived_finding_shows_its_waiver(
    page: Page, console_url: str, tokens: dict[Role, str], evidence: Evidence
) -> None:
    sign_in(page, console_url, tokens[Role.AUDITOR])
    page.goto(f"{console_url}/runs/{evidence.runs[1]}?status=waived")
    expect(page.locator("#findings tbody tr")).to_have_count(1)
    page.click("#findings tbody tr a")
    expect(page.locator("#waiver")).to_contain_text(
        "W-SCRATCH: Scratch widgets hold nothing worth locking. (approved by security@"
    )


def test_a_tampered_proof_fails_in_the_browser(
    page: Page, console_url: str, tokens: dict[Role, str], evidence: Evidence
) -> None:
    """The page checks what it shows: alter the record it embeds and the check fails."""
    sign_in(page, console_url, tokens[Role.AUDITOR])

    def tamper(route: object) -> None:
        response = route.fetch()  # type: ignore[attr-defined]
        body = response.text().replace("lock level 0 < 2", "lock level 9 < 2")
        route.fulfill(response=response, body=body)  # type: ignore[attr-defined]

    page.route("**/records/*", tamper)
    seq = page_seq_of(page, console_url, evidence, "w4")
    page.goto(f"{console_url}/records/{seq}")
    verdict = page.locator("#browser-verdict")
    expect(verdict).to_have_attribute("data-state", "failed")
    expect(verdict).to_contain_text("the proof gives root")


def page_seq_of(page: Page, url: str, evidence: Evidence, name: str) -> int:
    response = page.request.get(f"{url}/api/v1/runs/{evidence.runs[1]}/findings?q={name}")
    return int(response.json()["findings"][0]["seq"])


def test_diff_waivers_and_evidence_pages(
    page: Page, console_url: str, tokens: dict[Role, str], evidence: Evidence, tmp_path: Path
) -> None:
    sign_in(page, console_url, tokens[Role.AUDITOR])
    page.click("text=Diff")
    page.select_option("#run-a", evidence.runs[0])
    page.select_option("#run-b", evidence.runs[1])
    page.click("text=Compare")
    expect(page.locator("#diff-counts")).to_have_text("2 new failures, 1 fixed, 2 still failing")

    page.click("text=Waivers")
    expect(page.locator("#waivers tbody tr")).to_have_count(1)
    expect(page.locator("#waivers")).to_contain_text("W-SCRATCH")

    page.click("text=Evidence")
    with open_ledger(evidence.ledger_url, create=False) as ledger:
        labels = [c.label for c in ledger.checkpoints()][::-1]  # the newest first
    expect(page.locator("#checkpoints tbody tr td:first-child")).to_have_text(labels)
    page.click("text=Verify the ledger now")
    for _ in range(50):
        state = page.locator("#verification [data-state]").get_attribute("data-state")
        if state != "running":
            break
        page.reload()
    expect(page.locator("#verification")).to_contain_text("✓ verified")

    with page.expect_download() as download:
        page.click("text=Export bundle")
    bundle = tmp_path / "bundle.zip"
    download.value.save_as(bundle)
    assert zipfile.is_zipfile(bundle)
    assert verify_bundle(bundle, [evidence.key.verifier]).ok


def test_an_auditor_never_reaches_the_dsr_queue_or_personal_data(
    page: Page, console_url: str, tokens: dict[Role, str], evidence: Evidence
) -> None:
    sign_in(page, console_url, tokens[Role.AUDITOR])
    expect(page.locator("nav")).not_to_contain_text("DSR")
    page.goto(f"{console_url}/dsr")
    expect(page.locator("h1")).to_have_text("Not allowed")
    assert page.request.get(f"{console_url}/api/v1/dsr/requests").status == 403
    # The address is a resource id in both runs: every page shows its pseudonym only.
    for path in ("/runs", f"/runs/{evidence.runs[1]}", f"/runs/{evidence.runs[0]}"):
        page.goto(console_url + path)
        assert ADDRESS not in page.content()
        assert "alice" not in page.content().lower()


def test_a_wrong_token_is_refused_and_signing_out_ends_the_session(
    page: Page, console_url: str, tokens: dict[Role, str]
) -> None:
    page.goto(f"{console_url}/login")
    page.fill("#token", tokens[Role.AUDITOR][:-2] + "xx")
    page.click("button[type=submit]")
    expect(page.locator(".alert")).to_contain_text("unknown, revoked or mistyped")
    sign_in(page, console_url, tokens[Role.AUDITOR])
    page.click("text=Sign out")
    expect(page).to_have_url(f"{console_url}/login")
    page.goto(f"{console_url}/runs")
    expect(page).to_have_url(f"{console_url}/login?next=/runs")


def test_the_privacy_team_runs_an_erasure_from_the_queue(
    page: Page, console_url: str, tokens: dict[Role, str], shop: DsrDesk, evidence: Evidence
) -> None:
    request_id = open_request(shop, "erasure", SUBJECT)
    sign_in(page, console_url, tokens[Role.PRIVACY], lands="/dsr")
    expect(page.locator("nav")).not_to_contain_text("Runs")
    row = page.locator(f"#requests tr[data-request='{request_id}']")
    expect(row).to_contain_text("verify the subject's identity")
    row.locator("a").click()

    page.fill("#verify input[name=method]", "reply from the account address")
    page.click("#verify button")
    expect(page.locator("#state")).to_have_text("verified")

    page.fill("#dry-run input[name=identity]", f"email={SUBJECT[1]}")
    page.click("#dry-run button")
    expect(page.locator("#outcome h2")).to_contain_text("dry run: nothing was written")
    expect(page.locator("#plan")).to_contain_text("shop.customers")
    expect(page.locator("#state")).to_have_text("planned")
    assert customer_rows(shop) == 1

    # The confirmation is typed, or nothing happens.
    page.fill("#erase input[name=identity]", f"email={SUBJECT[1]}")
    page.fill("#erase input[name=confirm]", "yes")
    page.click("#erase button")
    expect(page.locator(".alert")).to_contain_text(f"type the request id {request_id}")
    assert customer_rows(shop) == 1

    page.goto(f"{console_url}/dsr/{request_id}")
    page.fill("#erase input[name=identity]", f"email={SUBJECT[1]}")
    page.fill("#erase input[name=confirm]", request_id)
    page.click("#erase button")
    expect(page.locator("#erased")).to_contain_text("nothing erasable remains")
    expect(page.locator("#state")).to_have_text("completed")
    assert customer_rows(shop) == 0

    actions = [
        (rec["action"], rec["by"])
        for rec in ledger_records(evidence)
        if rec.get("event") == "console_action" and rec["request"] == request_id
    ]
    assert actions == [
        ("verify", "privacy tester"),
        ("dry-run", "privacy tester"),
        ("erase", "privacy tester"),
    ]
    assert SUBJECT[1].lower() not in page.content().lower()


def customer_rows(shop: DsrDesk) -> int:
    db = sqlite3.connect(shop.connections["shop"])
    try:
        (n,) = db.execute(
            "SELECT count(*) FROM customers WHERE lower(email) = ?", (SUBJECT[1].lower(),)
        ).fetchone()
        return int(n)
    finally:
        db.close()


def ledger_records(evidence: Evidence) -> list[dict[str, Any]]:
    with open_ledger(evidence.ledger_url, create=False) as ledger:
        return [stored.record for stored in ledger.records()]
