"""Consoles for what assay prints: fitted to a terminal, never wrapped in a log.

On a terminal, rich fits tables and text to its width. Piped (a CI log, a file), there
is no width to fit: lines are as long as their content, so an id, a date or a command
to copy is never cut or folded onto the next line.
"""

from __future__ import annotations

import sys
from typing import IO

from rich.console import Console

# Wide enough that no line of ours reaches it: piped output keeps every line whole.
UNBOUNDED = 1_000_000


def console(file: IO[str] | None = None, *, stderr: bool = False) -> Console:
    """A console writing to `file` (default standard output, or error with `stderr`)."""
    target = file if file is not None else (sys.stderr if stderr else sys.stdout)
    if target.isatty():
        return Console(file=target)
    return Console(file=target, width=UNBOUNDED, soft_wrap=True)
