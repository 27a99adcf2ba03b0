"""A ledger with two signed runs of widgets, a console over it, tokens for each role, and
(for the browser tests) uvicorn on a kernel-picked port and headless Chromium."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright
from widgets import WIDGET_CONTROL, widget_snapshot

from assay.demo.shop import create_shop_sqlite, shop_datamap
from assay.engine.collect import now_rfc3339
from assay.engine.planner import make_plan
from assay.engine.run import execute
from assay.engine.severity import Severity
from assay.evidence import SigningKey, create_signing_key
from assay.evidence.signing import Signer
from assay.serve.app import create_app
from assay.serve.console import Console, open_console
from assay.serve.dsr import DsrDesk
from assay.serve.tokens import Role, TokenStore

# Whose name must never reach an auditor: it is a resource id in the runs.
ADDRESS = "alice.admin@example.com"
PROFILE = """\
controls_dirs: [controls]
controls: {ids: [test-widget-locked]}
waivers:
  - id: W-SCRATCH
    control: test-widget-locked
    resources: ["widget:scratch"]
    reason: Scratch widgets hold nothing worth locking.
    approver: security@example.com
    expires: 2099-12-31
"""
# Lock levels per widget in the two runs: w1 breaks, w2 is fixed, the owned widget stays
# broken, w4 is new and broken, the scratch one is waived.
FIRST = {"w0": 5, "w1": 5, "w2": 1, ADDRESS: 1, "scratch": 0}
SECOND = {"w0": 5, "w1": 1, "w2": 5, ADDRESS: 1, "scratch": 0, "w4": 0}


@dataclass(frozen=True)
class Evidence:
    root: Path
    ledger_url: str
    profile: Path
    key: SigningKey
    runs: list[str]  # oldest first


def record_runs(root: Path, *runs: dict[str, int], ledger_url: str | None = None) -> Evidence:
    """`runs` (lock levels by widget) recorded and signed in a ledger (SQLite in `root`
    unless `ledger_url` names another)."""
    (root / "controls").mkdir(parents=True)
    (root / "controls" / "test-widget-locked.yaml").write_text(WIDGET_CONTROL)
    profile = root / "assay.yaml"
    profile.write_text(PROFILE)
    key = create_signing_key(root / "signing.key", "example.com/evidence/console")
    ledger_url = ledger_url or f"sqlite:///{root / 'ledger.db'}"
    plan = make_plan(profile, with_targets=False)
    ids = []
    for levels in runs:
        report = execute(
            plan,
            widget_snapshot(levels, "t1"),
            ledger_url=ledger_url,
            fail_on=Severity.LOW,
            profile=str(profile),
            signer=Signer(root / "signing.key", root / "checkpoints"),
            pseudonym_key=root / "pseudonym.key",
        )
        ids.append(report.run_id)
    return Evidence(root, ledger_url, profile, key, ids)


@pytest.fixture(scope="session")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> Evidence:
    return record_runs(tmp_path_factory.mktemp("console"), FIRST, SECOND)


@pytest.fixture(scope="session")
def tokens(evidence: Evidence) -> dict[Role, str]:
    store = TokenStore(evidence.root / "console-tokens.json")
    return {role: store.create(f"{role.value} tester", role, now_rfc3339())[0] for role in Role}


@pytest.fixture(scope="session")
def shop(evidence: Evidence) -> DsrDesk:
    """The example shop, its requests kept in the evidence's ledger, actions enabled."""
    db = evidence.root / "shop.db"
    create_shop_sqlite(db)
    return DsrDesk(
        shop_datamap(),
        evidence.ledger_url,
        evidence.root / "pseudonym.key",
        connections={"shop": str(db)},
        signer=Signer(evidence.root / "signing.key", evidence.root / "checkpoints"),
        actions=True,
    )


def open_request(shop: DsrDesk, kind: str, identity: tuple[str, str]) -> str:
    """A new request of `kind` for the subject of `identity`, as `assay dsr new` opens it."""
    with shop.session() as session:
        return session.book.open_request(kind, session.identities([identity])).id


@pytest.fixture(scope="session")
def console(evidence: Evidence, tokens: dict[Role, str], shop: DsrDesk) -> Iterator[Console]:
    made = open_console(
        evidence.ledger_url,
        keys=[evidence.key.verifier],
        tokens=TokenStore(evidence.root / "console-tokens.json"),
        profile=evidence.profile,
        signing_key=evidence.key,
        dsr=shop,
    )
    yield made
    made.close()


@pytest.fixture(scope="session")
def console_url(console: Console) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # the kernel picks the port: no race with other tests
    server = uvicorn.Server(uvicorn.Config(create_app(console), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture(scope="session")
def browser(chromium: str) -> Iterator[Browser]:
    """Debian's chromium, headless, driven by Playwright (one driver per test session)."""
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) and its page."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    yield context.new_page()
    context.close()
