"""moto's AWS emulator as an HTTP server on 127.0.0.1, for `assay demo` and the AWS tests.

moto keeps its state per process, not per server: two emulators in one process would
share one account, so `start_emulator` refuses to start a second one; `emulator_process`
runs one in a process of its own, as many as wanted.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from moto.server import ThreadedMotoServer

_running = threading.Lock()
SEED = 20261206


@contextmanager
def start_emulator() -> Iterator[str]:
    """Run moto's server on a free 127.0.0.1 port with an empty account; yield its URL.

    The server stops on exit. Its request log is silenced while it runs.
    """
    if not _running.acquire(blocking=False):
        raise RuntimeError(
            "an AWS emulator is already running in this process; moto keeps one state per "
            "process, so a second would share its account. Use the running one."
        )
    werkzeug_log = logging.getLogger("werkzeug")
    level = werkzeug_log.level
    werkzeug_log.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    try:
        server.start()
        try:
            host, port = server.get_host_and_port()
            url = f"http://{host}:{port}"
            # An earlier emulator in this process leaves its resources in moto's state.
            _post(f"{url}/moto-api/reset")
            # moto's ids (volumes, keys, groups) come from its own generator: seeded, the
            # same accounts seeded the same way get the same ids, so reruns compare.
            _post(f"{url}/moto-api/seed?a={SEED}")
            yield url
        finally:
            server.stop()
    finally:
        werkzeug_log.setLevel(level)
        _running.release()


@contextmanager
def emulator_process() -> Iterator[str]:
    """Run moto's server in a process of its own on a free 127.0.0.1 port; yield its URL.

    Its state is its own (a fresh organisation each time). MOTO_ACCOUNT_ID is not passed
    on, so keys moto did not issue act in its default (management) account. The process
    is stopped on exit.
    """
    env = {k: v for k, v in os.environ.items() if k != "MOTO_ACCOUNT_ID"}
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert server.stdout is not None
        port = None
        for line in server.stdout:
            if m := re.search(r"Running on http://127\.0\.0\.1:(\d+)", line):
                port = m.group(1)
                break
        if port is None:
            raise RuntimeError("moto server did not start")
        # Keep reading its log, or the server blocks once the pipe is full.
        threading.Thread(target=server.stdout.read, daemon=True).start()
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


def _post(url: str) -> None:
    request = urllib.request.Request(url, data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
