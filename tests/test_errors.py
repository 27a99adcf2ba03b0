"""One error type: every error the package raises is an AssayError carrying its exit code,
and only the command line exits."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import assay
from assay.errors import AssayError, ExitCode

ROOT = Path(__file__).resolve().parents[1]
# Signals that never reach a user as errors: a check's "not collected" (an `error`
# verdict), and the verifier's and rule compiler's findings, which become reports and
# input errors with their place.
SIGNALS = {
    "assay.checks.result.MissingEvidence",
    "assay.evidence.verify.VerificationError",
    "assay.evidence.verify.LogVerificationError",
    "assay.checks.rules.RuleError",
    "assay.evidence.canonical._Violation",
}
# The command line: the only code that may exit.
CLI = ("engine/cli/", "demo/command.py", "assay/__main__.py")


def exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    # The parts install from their own folders (package-dir): walk each of them.
    names = [info.name for info in pkgutil.iter_modules(assay.__path__, "assay.")]
    for part in ("checks", "engine", "evidence", "gdpr", "demo"):
        package = importlib.import_module(f"assay.{part}")
        names += [package.__name__]
        names += [i.name for i in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")]
    for name in names:
        module = importlib.import_module(name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found[f"{module.__name__}.{name}"] = value
    return found


def test_every_error_of_the_package_is_an_assay_error() -> None:
    classes = exception_classes()
    assert len(classes) > 20  # the walk found the package's errors
    assert set(SIGNALS) <= set(classes)
    wrong = sorted(
        n for n, c in classes.items() if n not in SIGNALS and not issubclass(c, AssayError)
    )
    assert wrong == []


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("assay.errors.ConfigError", ExitCode.USAGE),
        ("assay.errors.EvidenceError", ExitCode.EVIDENCE),
        ("assay.evidence.record.LedgerError", ExitCode.USAGE),
        ("assay.evidence.record.LedgerDamagedError", ExitCode.EVIDENCE),
        ("assay.evidence.keys.SigningKeyError", ExitCode.USAGE),
        ("assay.gdpr.errors.ConflictError", ExitCode.ERRORS),
        ("assay.gdpr.errors.ResidualDataError", ExitCode.ERRORS),
        ("assay.gdpr.errors.PackageError", ExitCode.EVIDENCE),
        ("assay.gdpr.errors.PackageInputError", ExitCode.USAGE),
        ("assay.checks.registry.RegistryError", ExitCode.USAGE),
        ("assay.files.UnsafePathError", ExitCode.USAGE),
    ],
)
def test_an_errors_exit_code_is_its_class(name: str, code: ExitCode) -> None:
    cls = exception_classes()[name]
    assert issubclass(cls, AssayError) and cls.exit_code == code


def test_library_code_never_exits() -> None:
    exits = []
    for folder in ("assay", "checks", "engine", "evidence", "gdpr", "demo"):
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(CLI):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Attribute)
                    and node.attr == "exit"
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "sys"
                ):
                    exits.append(f"{rel}:{node.lineno}")
    assert exits == []
