"""Screenshots of the console's main pages, for docs/console.md, taken in headless Chromium.

    python docs/console/shoot.py [--workdir DIR] [--out docs/console]

Runs `assay demo` in the work folder (a temporary one by default) until its ledger holds
two runs, serves it as `assay demo --serve` does, signs in through the one-time link,
and writes one PNG per page: the runs, a run and its new failures, a finding with its
verified proof, the diff of the two runs, the waivers, the evidence, the DSR queue and a
request after its dry run. Needs the demo and serve extras and Debian's chromium.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import Page, sync_playwright

from assay.demo.run import run_demo
from assay.demo.shop import shop_datamap
from assay.demo.state import DemoState
from assay.engine.console import console as terminal
from assay.evidence import open_ledger
from assay.files import write_bytes
from assay.serve.app import create_app
from assay.serve.console import Console
from assay.serve.dsr import DsrDesk
from assay.serve.launch import console_from_options
from assay.serve.server import bind
from assay.serve.sessions import Identity
from assay.serve.tokens import Role

WIDTH, HEIGHT = 1280, 860


def runs_in(workdir: Path) -> int:
    ledger_db = workdir / ".assay" / "ledger.db"
    if not ledger_db.exists():
        return 0
    with open_ledger(DemoState.at(workdir).ledger_url, create=False) as ledger:
        return len(ledger.runs())  # type: ignore[attr-defined]


def demo_console(workdir: Path) -> Console:
    """The console `assay demo --serve` serves: the demo's ledger, profile and keys, and
    the example shop's requests with their actions enabled."""
    state = DemoState.at(workdir)
    shop = DsrDesk(
        shop_datamap(),
        state.ledger_url,
        state.pseudonym_key,
        connections={"shop": str(state.root / "shop.db")},
        signer=state.signer,
        actions=True,
    )
    return console_from_options(
        ledger=state.ledger_url,
        profile=state.root / "demo-profile.yaml",
        keys=(),
        signing_key=state.signing_key,
        tokens_path=state.root / "console-tokens.json",
        dsr=shop,
    )


def serve(console: Console) -> tuple[uvicorn.Server, str]:
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app(console), log_level="warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server, f"http://127.0.0.1:{sock.getsockname()[1]}"


def shoot(page: Page, out: Path, name: str) -> None:
    write_bytes(out / f"{name}.png", page.screenshot(full_page=False))
    print(f"wrote {out / name}.png")


def pages(page: Page, url: str, out: Path) -> None:
    page.goto(f"{url}/runs")
    shoot(page, out, "runs")
    page.locator("#runs tbody tr a").first.click()
    page.wait_for_load_state("load")
    shoot(page, out, "run")
    page.select_option("select[name=change]", "new_failure")
    page.wait_for_url("**change=new_failure**")
    page.locator("#filters").scroll_into_view_if_needed()
    shoot(page, out, "run-findings")
    page.locator("#findings tbody tr a").first.click()
    page.wait_for_selector("#browser-verdict[data-state=verified]")
    page.set_viewport_size({"width": WIDTH, "height": 1040})
    shoot(page, out, "finding")
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    page.goto(f"{url}/diff")
    page.locator("#run-a option").nth(1).evaluate("o => o.selected = true")
    page.click("text=Compare")
    shoot(page, out, "diff")
    page.goto(f"{url}/waivers")
    shoot(page, out, "waivers")
    page.goto(f"{url}/evidence")
    page.click("text=Verify the ledger now")
    for _ in range(100):
        if page.locator("#verification [data-state=running]").count() == 0:
            break
        time.sleep(0.2)
        page.reload()
    shoot(page, out, "evidence")
    page.goto(f"{url}/dsr?closed=true")
    shoot(page, out, "dsr-queue")
    erasure = page.locator("#requests tr", has_text="erasure").first.locator("a")
    erasure.click()
    page.fill("#dry-run input[name=identity]", "email=alice.example@example.com")
    page.click("#dry-run button")
    page.wait_for_selector("#outcome")
    shoot(page, out, "dsr-request")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, help="The demo's folder (default: a temp dir).")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = parser.parse_args()
    out = args.out.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        # From inside the work folder, as a user runs the demo: the runs record the
        # profile as .assay/demo-profile.yaml, one trend for both.
        os.chdir(args.workdir or tmp)
        while runs_in(Path(".")) < 2:
            run_demo(Path("."), terminal())
        console = demo_console(Path("."))
        server, url = serve(console)
        link = console.sessions.one_time_link(Identity("demo", Role.ADMIN, "one-time link"))
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if chromium is None:
            raise SystemExit("chromium is not installed")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium)
            page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
            page.goto(f"{url}/login/once/{link}")
            pages(page, url, out)
            browser.close()
        server.should_exit = True
        console.close()


if __name__ == "__main__":
    main()
