"""Output formats for a run's report; every command that prints results offers the same ones.

Each format is a module of its name with `write(report, out)`, imported when it is first
asked for: the command line names the formats without loading any of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from assay.engine.report import RunReport

Writer = Callable[["RunReport", IO[str]], None]

NAMES = ("table", "json", "csv", "sarif", "junit", "ocsf", "oscal", "markdown", "html")


class _Formats(Mapping[str, Writer]):
    def __getitem__(self, name: str) -> Writer:
        if name not in NAMES:
            raise KeyError(name)
        writer: Writer = importlib.import_module(f"{__name__}.{name}").write
        return writer

    def __iter__(self) -> Iterator[str]:
        return iter(NAMES)

    def __len__(self) -> int:
        return len(NAMES)


FORMATS: Mapping[str, Writer] = _Formats()

__all__ = ["FORMATS", "NAMES", "Writer"]
