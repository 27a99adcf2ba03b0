"""Processes killed mid-append, and processes appending at once: the log stays whole.

Both run per backend (`evidence_backends.BACKENDS`), opening the ledger by URL in
child processes, as separate runs of assay would.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from itertools import cycle, pairwise
from typing import Any

from evidence_backends import Backend

from assay.evidence import open_ledger, verify_ledger
from assay.evidence.merkle import root

BATCH = 3000
CHILD = """
import sys
from assay.evidence import open_ledger
url, batch = sys.argv[1], int(sys.argv[2])
with open_ledger(url) as ledger:
    n = 0
    while True:
        ledger.append([{"kind": "result", "batch": n, "i": i} for i in range(batch)])
        n += 1
        print(n, flush=True)
"""


def test_a_process_killed_mid_batch_leaves_whole_batches_that_verify(backend: Backend) -> None:
    backend.open().close()
    rng = random.Random(7)
    for _ in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, backend.url, str(BATCH)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        child.stdout.readline()  # one batch committed: the next is under way
        time.sleep(rng.uniform(0.0, 0.05))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        assert child.returncode == -signal.SIGKILL
        with backend.open() as ledger:
            count = ledger.count()
            report = verify_ledger(ledger)
            assert root(ledger.nodes, count).hex() == report.root
        assert report.ok, report.error
        assert count % BATCH == 0 and count > 0, count


WRITERS = 4
PER_WRITER = 500


def _append_from_process(url: str, writer: int, start: Any) -> None:
    start.wait()  # open and append at once: creation, migration and appends all contend
    sizes = cycle([1, 7, 3, 13, 2, 1, 1])
    with open_ledger(url) as ledger:
        i = 0
        while i < PER_WRITER:
            n = min(next(sizes), PER_WRITER - i)
            ledger.append([{"kind": "result", "writer": writer, "i": i + k} for k in range(n)])
            i += n
            # SQLite's busy handler is not fair: a writer looping straight back into
            # BEGIN IMMEDIATE keeps the lock while the others back off. A pause, as
            # real work between appends gives, lets the others in.
            time.sleep(0.001)


def test_processes_appending_at_once_never_fork_the_log(backend: Backend) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WRITERS)
    processes = [
        context.Process(target=_append_from_process, args=(backend.url, n, start))
        for n in range(WRITERS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * WRITERS

    with backend.open() as ledger:
        records = list(ledger.records())
        report = verify_ledger(ledger)
        stored_root = root(ledger.nodes, ledger.count())
    assert (report.ok, report.records) == (True, WRITERS * PER_WRITER), report.error
    assert stored_root.hex() == report.root  # the tree written by appends == recomputed
    assert [r.seq for r in records] == list(range(WRITERS * PER_WRITER))

    by_writer: dict[int, list[int]] = defaultdict(list)
    writers_in_order = []
    for record in records:
        body = json.loads(record.body)
        by_writer[body["writer"]].append(body["i"])
        writers_in_order.append(body["writer"])
    assert dict(by_writer) == {w: list(range(PER_WRITER)) for w in range(WRITERS)}
    # The writers really interleaved; one after another would prove nothing.
    assert sum(a != b for a, b in pairwise(writers_in_order)) >= WRITERS
