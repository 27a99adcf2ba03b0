"""Errors the engine raises; each carries its exit code and how to fix it.

Library code raises these; only the CLI turns them into exits.
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path

from assay.errors import DiagnosticError


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # a failure at or above --fail-on
    USAGE = 2  # usage or configuration error; nothing ran
    ERRORS = 3  # the run finished but some results are `error`
    EVIDENCE = 4  # evidence verification failed


class AssayError(DiagnosticError):
    exit_code = ExitCode.USAGE


class ConfigError(AssayError):
    """Bad input: a control, profile or snapshot file, with the place it was found."""

    def __init__(
        self,
        message: str,
        *,
        file: Path | str | None = None,
        line: int | None = None,
        field: str | None = None,
        remediation: str | None = None,
    ) -> None:
        where = ""
        if file is not None:
            where = f"{file}:{line}: " if line else f"{file}: "
        if field:
            where += f"{field}: "
        super().__init__(where + message, remediation=remediation)
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field


class ConfigErrors(AssayError):
    """Several configuration errors found in one pass, reported together."""

    def __init__(self, errors: list[ConfigError]) -> None:
        super().__init__("\n".join(e.message for e in errors))
        self.errors = errors


class EvidenceError(AssayError):
    exit_code = ExitCode.EVIDENCE
