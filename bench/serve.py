"""The console on a big ledger: the runs list and a run of 10,000 findings, over HTTP.

    python bench/serve.py [--records 1000000] [--run-size 5000] [--open-run 10000]
                          [--repeat 5] [--dir DIR]

Builds a SQLite ledger of about --records records the way `bench/runs_index.py` does
(runs of --run-size results, the newest of --open-run), every batch appended with a
signing key, so each carries a signed checkpoint. Serves it with `assay serve`'s app on
uvicorn (127.0.0.1, a kernel-picked port) and times, as a browser would fetch them
(median of --repeat fetches, cold: the run's records read anew each time, and again
with them kept, as when the page is paged, filtered or sorted): the runs list, the newest run's
page (scores, trend, 10,000 findings compared with its baseline, the first page of
them rendered), the same filtered and searched, the JSON of all its findings, and a
finding's page with its inclusion proof checked. For scale, the time to read every
record once (what a page that scanned the ledger would pay at least) is printed, and
each page's share of it. Target: the runs list and the run page under 300 ms.
"""

from __future__ import annotations

import argparse
import http.client
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from runs_index import build  # a sibling script: bench/ is on the path

from assay.engine.collect import now_rfc3339
from assay.evidence import SigningKey
from assay.serve.app import create_app
from assay.serve.console import Console, open_console
from assay.serve.data import FindingsCache
from assay.serve.tokens import Role, TokenStore

TARGET_MS = 300


def serve(app: Any) -> tuple[uvicorn.Server, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server, sock.getsockname()[1]


def fetch(port: int, path: str, token: str) -> tuple[float, int, bytes]:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return time.perf_counter() - started, response.status, body


def timed(port: int, path: str, token: str, repeat: int, console: Console) -> tuple[float, float]:
    """Median seconds of `repeat` fetches with the console's findings cache emptied
    before each (cold: the run read from the ledger), then of `repeat` with it kept."""
    cold = []
    for _ in range(repeat):
        console.findings = FindingsCache()
        seconds, status, body = fetch(port, path, token)
        if status != 200:
            raise SystemExit(f"GET {path}: HTTP {status}: {body[:300]!r}")
        cold.append(seconds)
    warm = [fetch(port, path, token)[0] for _ in range(repeat)]
    return statistics.median(cold), statistics.median(warm)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--run-size", type=int, default=5000)
    parser.add_argument("--open-run", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", type=Path, help="Where to put the ledger (default: a temp dir).")
    args = parser.parse_args()
    key = SigningKey.generate("bench.example/evidence")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        url = f"sqlite:///{Path(tmp) / 'ledger.db'}"
        started = time.perf_counter()
        _, last = build(url, args.records, args.run_size, args.open_run, key)
        store = TokenStore(Path(tmp) / "tokens.json")
        token, _ = store.create("bench", Role.AUDITOR, now_rfc3339())
        console = open_console(url, keys=[key.verifier], tokens=store)
        records = console.ledger.count()
        print(
            f"SQLite: {records:,} records, {len(console.ledger.checkpoints()):,} signed "
            f"checkpoints, built in {time.perf_counter() - started:,.0f} s"
        )
        scan_started = time.perf_counter()
        scanned = sum(1 for _ in console.ledger.records())
        scan = time.perf_counter() - scan_started
        print(f"reading every record once ({scanned:,}): {scan * 1e3:,.0f} ms")
        server, port = serve(create_app(console))
        findings = f"/api/v1/runs/{last}/findings?limit=10000"
        _, _, body = fetch(port, f"/api/v1/runs/{last}/findings?status=fail&limit=1", token)
        seq = int(body.split(b'"seq":', 1)[1].split(b",", 1)[0])
        pages = [
            ("runs list", "/runs", True),
            (f"run page ({args.open_run:,} findings)", f"/runs/{last}", True),
            ("run page, filtered and searched", f"/runs/{last}?status=fail&q=bucket-7", False),
            (f"all {args.open_run:,} findings as JSON", findings, False),
            ("a finding with its inclusion proof", f"/records/{seq}", False),
        ]
        for label, path, targeted in pages:
            cold, warm = timed(port, path, token, args.repeat, console)
            verdict = ""
            if targeted:
                verdict = " ok" if cold * 1e3 < TARGET_MS else f" OVER the {TARGET_MS} ms target"
            print(
                f"{label}: {cold * 1e3:,.0f} ms cold ({cold / scan:.1%} of a full read), "
                f"{warm * 1e3:,.0f} ms when opened again{verdict}"
            )
        server.should_exit = True
        console.close()


if __name__ == "__main__":
    main()
