"""The HTML report as a person sees it: rendered by headless Chromium, screenshot and page text."""

from __future__ import annotations

import html
import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from widgets import widget_snapshot

from assay.engine.cli.main import cli
from assay.engine.collect import Snapshot, now_rfc3339, write_snapshot
from assay.testing import make_resource

pytestmark = pytest.mark.integration
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--hide-scrollbars",
]


def test_html_report_renders_with_score_failures_and_trend(
    tmp_path: Path, controls_dir: Path, monkeypatch: pytest.MonkeyPatch, chromium: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "assay.yaml").write_text(
        f"controls_dirs: [{controls_dir.name}]\ncontrols: {{ids: [test-widget-locked]}}\n"
    )
    for levels in ((5, 5, 1), (5, 1, 1)):  # two runs, so the trend has two points
        snap = tmp_path / "snap.jsonl"
        write_snapshot(widget_snapshot({f"w{i}": lv for i, lv in enumerate(levels)}, "t"), snap)
        res = CliRunner().invoke(cli, ["evaluate", str(snap), "-f", "html=report.html"])
        assert res.exit_code == 1, res.output
    page = (tmp_path / "report.html").resolve()
    shot = tmp_path / "report.png"
    common = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    subprocess.run(
        [*common, "--window-size=1280,1400", f"--screenshot={shot}", page.as_uri()],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    dom = subprocess.run(
        [*common, "--dump-dom", page.as_uri()],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert '<div class="n" id="overall-score">33%</div>' in dom
    assert "test-widget-locked" in dom and "lock level 1 &lt; 2" in dom
    assert dom.count('class="dot"') == 2  # both runs on the trend chart
    assert '<svg class="trend"' in dom and '<svg class="bars"' in dom


MEASURE = """<!doctype html><html><body>
<iframe id="r" src="report.html" style="width:1280px;height:900px" onload="
  const d = document.getElementById('r').contentDocument;
  const cells = [...d.querySelectorAll('td.control')].map(c => {
    const all = d.createRange(); all.selectNodeContents(c);
    return {id_lines: c.querySelector('code').getClientRects().length,
            height: all.getBoundingClientRect().height,
            line: parseFloat(getComputedStyle(c).fontSize) * 1.5};
  });
  document.getElementById('m').textContent = JSON.stringify(cells);
"></iframe><pre id="m"></pre></body></html>"""


def test_the_control_column_fits_an_id_and_title_without_a_tall_wrap(
    tmp_path: Path, controls_dir: Path, monkeypatch: pytest.MonkeyPatch, chromium: str
) -> None:
    monkeypatch.chdir(tmp_path)
    long_id = "test-widget-locked-by-the-tenant-isolation-controller"
    (controls_dir / f"{long_id}.yaml").write_text(
        (controls_dir / "test-widget-locked.yaml")
        .read_text()
        .replace("id: test-widget-locked", f"id: {long_id}")
        .replace("title: Widgets are locked", "title: Widgets in every tenant namespace are locked")
    )
    (tmp_path / "assay.yaml").write_text(
        f"controls_dirs: [{controls_dir.name}]\ncontrols: {{ids: [{long_id}]}}\n"
    )
    r = make_resource("test.widget", {"lock_level": 1}, id="widget:w", name="w")
    r["collected_at"] = now_rfc3339()
    write_snapshot(Snapshot(now_rfc3339(), resources=[r]), tmp_path / "snap.jsonl")
    res = CliRunner().invoke(cli, ["evaluate", "snap.jsonl", "-f", "html=report.html"])
    assert res.exit_code == 1, res.output
    (tmp_path / "measure.html").write_text(MEASURE)
    dom = subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            "--allow-file-access-from-files",
            "--virtual-time-budget=5000",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            (tmp_path / "measure.html").as_uri(),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    [cell] = json.loads(html.unescape(dom.split('<pre id="m">')[1].split("</pre>")[0]))
    assert cell["id_lines"] == 1  # the id is never broken
    assert cell["height"] <= 4 * cell["line"]  # id and title in a few lines, not six
