"""The base of every assay error: a message and, where known, how to fix it.

Library code raises these; only the command line turns them into exit codes.
"""

from __future__ import annotations


class DiagnosticError(Exception):
    def __init__(self, message: str, *, remediation: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.remediation = remediation

    def diagnostics(self) -> str:
        """What went wrong and, where known, how to fix it."""
        if self.remediation:
            return f"{self.message}\n  hint: {self.remediation}"
        return self.message
