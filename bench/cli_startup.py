"""How long `assay ... --help` takes, beside Python's own start and `import click`.

    python bench/cli_startup.py [--repeat 15]

Each command runs in a fresh process; the median of the runs is printed, in seconds and
as a ratio to a bare interpreter, so a loaded machine still gives comparable figures.
The target is 0.3 s or less for every --help.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

COMMANDS = (
    ["--help"],
    ["run", "--help"],
    ["dsr", "--help"],
    ["dsr", "erase", "--help"],
    ["evidence", "verify", "--help"],
    ["demo", "--help"],
)


def median_seconds(argv: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    assay = shutil.which("assay")
    if assay is None:
        sys.exit("assay is not on PATH: pip install -e . first")
    bare = median_seconds([sys.executable, "-c", "pass"], args.repeat)
    click = median_seconds([sys.executable, "-c", "import click"], args.repeat)
    print(f"python -c pass        {bare:6.3f} s")
    print(f"python -c import click {click:6.3f} s  ({click / bare:4.1f}x bare)")
    worst = 0.0
    for cmd in COMMANDS:
        took = median_seconds([assay, *cmd], args.repeat)
        worst = max(worst, took)
        print(f"assay {' '.join(cmd):22} {took:6.3f} s  ({took / bare:4.1f}x bare)")
    print(f"slowest --help: {worst:.3f} s (target <= 0.300 s)")


if __name__ == "__main__":
    main()
