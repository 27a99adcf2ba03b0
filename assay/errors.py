"""The one error type of assay: what went wrong, how to fix it, and the exit code it means.

Every error the package raises on purpose is an `AssayError` (the engine's, the
evidence ledger's, the DSR module's, the check API's). Library code raises them and
never exits; the CLI's one handler (`assay.engine.cli.options.handle_errors`) prints
`diagnostics()` and exits with the error's `exit_code`, a class attribute.

Not errors in this sense: `assay.checks.MissingEvidence`, which a check raises to say
that what it needs was not collected, and which the engine records as an `error`
verdict rather than stopping.
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path
from typing import ClassVar


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # a failure at or above --fail-on
    USAGE = 2  # usage, configuration or input error; nothing ran
    ERRORS = 3  # the run finished but some results are `error`
    EVIDENCE = 4  # evidence failed verification, or the ledger is damaged


class AssayError(Exception):
    """Base of every assay error: a message, and where known how to fix it."""

    exit_code: ClassVar[int] = ExitCode.USAGE

    def __init__(self, message: str, *, remediation: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.remediation = remediation

    def diagnostics(self) -> str:
        """What went wrong and, where known, how to fix it."""
        if self.remediation:
            return f"{self.message}\n  hint: {self.remediation}"
        return self.message


class ConfigError(AssayError):
    """Bad input (a control, profile, data map, snapshot or option), with where it was found:
    ``file:line: field: message``."""

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
        self.detail = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field

    @property
    def errors(self) -> list[ConfigError]:
        """This error as a list, like `ConfigErrors.errors`: one pass collects either."""
        return [self]


class ConfigErrors(AssayError):
    """Several input errors found in one pass, reported together."""

    def __init__(self, errors: list[ConfigError]) -> None:
        super().__init__("\n".join(e.message for e in errors))
        self.errors = errors


class EvidenceError(AssayError):
    """Evidence that does not verify."""

    exit_code = ExitCode.EVIDENCE
