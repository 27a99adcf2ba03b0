"""Consoles for what assay prints: fitted to a terminal, never wrapped in a log.

On a terminal, rich fits tables and text to its width. Piped (a CI log, a file), there
is no width to fit: lines are as long as their content, so an id, a date or a command
to copy is never cut or folded onto the next line.
"""

from __future__ import annotations

import sys
from typing import IO

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from assay.engine.collect import Snapshot, collect
from assay.engine.planner import Plan

# Wide enough that no line of ours reaches it: piped output keeps every line whole.
UNBOUNDED = 1_000_000


def console(file: IO[str] | None = None, *, stderr: bool = False) -> Console:
    """A console writing to `file` (default standard output, or error with `stderr`)."""
    target = file if file is not None else (sys.stderr if stderr else sys.stdout)
    if target.isatty():
        return Console(file=target)
    return Console(file=target, width=UNBOUNDED, soft_wrap=True)


def collect_with_progress(plan: Plan, *, workers: int, timeout: float) -> Snapshot:
    """`collect`, showing on a terminal's stderr what finished (target, resource type,
    resources found) and how much is left; without a terminal, quiet."""
    err = Console(stderr=True)
    if not err.is_terminal:
        return collect(plan, workers=workers, timeout=timeout)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        total = sum(len(t.resource_types) for t in plan.targets)
        task = bar.add_task(f"collecting 0/{total}", total=total)
        found = 0

        def tick(what: str, n: int) -> None:
            nonlocal found
            found += n
            bar.advance(task)
            done = int(bar.tasks[0].completed)
            bar.update(
                task,
                description=f"collecting {done}/{total}: {what} ({n}); {found} resources so far",
            )

        return collect(plan, workers=workers, timeout=timeout, progress=tick)
