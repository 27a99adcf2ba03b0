"""Errors of the DSR module. Each says what went wrong, where, and how to fix it.

Library code raises these; only the command line turns them into exit codes. No message
ever repeats an identity or a value read from a datastore: they may be personal data.
"""

from __future__ import annotations

from assay.errors import AssayError, ExitCode
from assay.words import counted


class GdprError(AssayError):
    """Base class of the DSR module's errors."""


class DataMapError(GdprError):
    """The data map file is invalid; `problems` lists every problem as `file:line: field: msg`."""

    def __init__(self, problems: list[str], *, remediation: str | None = None) -> None:
        super().__init__("\n".join(problems), remediation=remediation)
        self.problems = problems


class SchemaMismatchError(GdprError):
    """The data map does not fit the live schema; `findings` holds errors and warnings."""

    def __init__(self, findings: list[object]) -> None:
        errors = [str(f) for f in findings if getattr(f, "level", "") == "error"]
        super().__init__(
            f"the data map does not fit the database ({counted(len(errors), 'error')}):\n  "
            + "\n  ".join(errors),
            remediation="run `assay dsr lint` and fix the data map; nothing was run",
        )
        self.findings = findings


class IdentityError(GdprError):
    """An identity given for a request is malformed or of an unknown type."""


class StoreError(GdprError):
    """A datastore could not be reached, or a statement failed."""


class RequestError(GdprError):
    """A request is unknown, in the wrong state for the step, or names another subject."""


class ConflictError(GdprError):
    """The data changed between plan and execution; the transaction was rolled back."""

    exit_code = ExitCode.ERRORS


class ResidualDataError(GdprError):
    """An erasure committed, but re-reading the subject still found erasable data."""

    exit_code = ExitCode.ERRORS


class PackageError(GdprError):
    """An export package is tampered with, or the passphrase is wrong (`PackageInputError`:
    malformed or unsafe)."""

    exit_code = ExitCode.EVIDENCE


class PackageInputError(PackageError):
    """Not a well-formed package, or one that cannot be unpacked safely: bad input, not a
    failed check (a wrong passphrase or a file that does not match its digest)."""

    exit_code = ExitCode.USAGE
