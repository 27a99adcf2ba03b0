"""What a new user does: `assay demo --serve`, open the link, walk from the runs to a
finding's verified proof, then run the demo's erasure request from the queue."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = [pytest.mark.integration, pytest.mark.slow]
LINK = re.compile(r"open, once, to sign in: (http://127\.0\.0\.1:\d+)(/login/once/\S+)")


@pytest.fixture
def demo_link(tmp_path: Path) -> Iterator[tuple[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ASSAY_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "assay", "demo", "--serve", "--port", "0", "--workdir", "."],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    seen = []
    found = None
    for line in process.stdout:
        seen.append(line)
        found = LINK.search(line)
        if found:
            break
    if found is None:
        process.wait(10)
        pytest.fail("no sign-in link; the demo said:\n" + "".join(seen[-40:]))
    # Keep draining, so the console never blocks on a full pipe.
    threading.Thread(target=process.stdout.read, daemon=True).start()
    yield found.group(1), found.group(2)
    process.send_signal(signal.SIGINT)
    assert process.wait(20) == 0


def test_a_new_user_walks_the_demo_in_the_browser(
    demo_link: tuple[str, str], page: Page, browser: Browser
) -> None:
    url, link = demo_link
    page.goto(url + link)
    expect(page).to_have_url(f"{url}/runs")
    expect(page.locator("#who")).to_contain_text("one-time link · admin")
    page.locator("#runs tbody tr a").first.click()
    expect(page).to_have_url(re.compile(r"/runs/[^/?]+$"))
    # The filters apply on change once the page's script is loaded.
    page.wait_for_load_state("load")
    page.select_option("select[name=status]", "fail")
    page.wait_for_url("**status=fail**")
    page.locator("#findings tbody tr a").first.click()
    expect(page.locator("#browser-verdict")).to_have_attribute("data-state", "verified")

    page.click("text=DSR queue")
    page.locator("#requests tr", has_text="erasure").first.locator("a").click()
    expect(page.locator("#state")).to_have_text("planned")
    identity = "email=alice.example@example.com"
    page.fill("#dry-run input[name=identity]", identity)
    page.click("#dry-run button")
    expect(page.locator("#outcome h2")).to_contain_text("dry run")
    request_id = page.locator("h1 code").inner_text()
    page.fill("#erase input[name=identity]", identity)
    page.fill("#erase input[name=confirm]", request_id)
    page.click("#erase button")
    expect(page.locator("#state")).to_have_text("completed")
    # The link was spent: a second visit, in a fresh context, does not sign in.
    context = browser.new_context()
    other = context.new_page()
    other.goto(url + link)
    expect(other).to_have_url(f"{url}/login?failed=1")
    context.close()
