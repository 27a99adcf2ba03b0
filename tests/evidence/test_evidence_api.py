"""The package's public surface: `__all__` lists exactly what callers may import."""

from __future__ import annotations

import importlib
import inspect

import assay.evidence as evidence

# By module path: the package attributes `canonical` and `verify` are the functions.
MODULES = [
    importlib.import_module(f"assay.evidence.{name}")
    for name in ("canonical", "ledger", "pseudonym", "record", "sqlite", "verify")
]


def test_all_names_resolve_and_are_unique() -> None:
    assert len(set(evidence.__all__)) == len(evidence.__all__)
    for name in evidence.__all__:
        assert getattr(evidence, name) is not None, name


def test_public_classes_and_entry_points_are_exported() -> None:
    # Building blocks that stay module-level: the verifier's checks and sealing.
    internal = {
        "seal",
        "seal_batch",
        "record_hash",
        "check_position",
        "check_stored_hash",
        "parse_body",
        "check_version",
        "check_body_seq",
        "check_prev",
    }
    defined = {
        name
        for module in MODULES
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module.__name__
    }
    constants = {"GENESIS_PREV", "MAX_SAFE_INT", "RESERVED_KEYS", "SUPPORTED_URLS"}
    assert defined - internal == set(evidence.__all__) - constants
