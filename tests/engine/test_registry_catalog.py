"""Registry and built-in catalog agree: nothing registered unused, nothing used unregistered."""

from __future__ import annotations

from assay.checks import registry
from assay.engine.catalog import load_catalog


def builtin(module: str) -> bool:
    return module.startswith("assay.")


def test_every_builtin_check_is_used_by_a_control_and_declares_permissions() -> None:
    catalog = load_catalog()  # raises if a control names a missing check or bad params
    used = {lc.control.check for lc in catalog.controls.values()}
    for name, spec in registry.checks().items():
        if not builtin(spec.func.__module__):
            continue
        assert name in used, f"check {name} is used by no control"
        assert spec.permissions, f"check {name} declares no permissions"
        assert all(":" in p for p in spec.permissions), (
            f"{name}: permissions look like service:Action"
        )


def test_every_control_resource_type_has_a_collector_with_permissions() -> None:
    catalog = load_catalog()
    collectors = registry.collectors()
    for cid, lc in catalog.controls.items():
        spec = collectors.get(lc.control.resource)
        assert spec is not None, f"{cid}: no collector for {lc.control.resource}"
        assert spec.permissions, f"collector for {lc.control.resource} declares no permissions"
        assert lc.control.provider in registry.providers()


def test_every_builtin_collector_feeds_a_control() -> None:
    types = {lc.control.resource for lc in load_catalog().controls.values()}
    for rtype, spec in registry.collectors().items():
        if builtin(spec.func.__module__):
            assert rtype in types, f"collector for {rtype} feeds no control"


def test_every_control_maps_to_a_framework_and_has_remediation() -> None:
    for cid, lc in load_catalog().controls.items():
        assert lc.control.frameworks.get("soc2"), f"{cid} maps to no SOC 2 criterion"
        assert lc.control.description, f"{cid} has no description"
