"""Third-party checks arrive through the `assay.checks` entry point; a broken one is reported."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from assay.checks import Status, registry
from assay.engine.cli.main import cli
from assay.testing import make_resource, run_check

PLUGIN = """
from assay.checks import Result, check

@check("acme.vault.retention", resource="acme.vault", permissions=["acme:DescribeVault"])
def retention(resource, params):
    days = resource["attributes"]["retention_days"]
    if days < 365:
        return Result.failed(f"retention is {days} days", retention_days=days)
    return Result.passed(f"retention is {days} days", retention_days=days)
"""


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    """Every test here registers on its own copy of the registry."""
    with registry.isolated():
        yield


def install_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, source: str
) -> None:
    """A distribution on sys.path declaring `module` in the assay.checks entry-point group."""
    (tmp_path / f"{module}.py").write_text(source)
    dist = tmp_path / f"{module}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[assay.checks]\n{module} = {module}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)


def test_plugin_checks_load_from_the_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_plugin(tmp_path, monkeypatch, "acme_assay_ok", PLUGIN)
    assert "acme.vault.retention" in registry.checks()
    assert run_check("acme.vault.retention", {"retention_days": 30}).status is Status.FAIL
    vault = make_resource("acme.vault", {"retention_days": 400})
    assert run_check("acme.vault.retention", vault).status is Status.PASS


def test_a_plugin_that_fails_to_import_is_reported_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_plugin(tmp_path, monkeypatch, "acme_assay_broken", "import no_such_module\n")
    with pytest.raises(registry.RegistryError) as info:
        registry.checks()
    assert "check plugin 'acme_assay_broken' (acme_assay_broken) failed to import" in str(
        info.value
    )
    assert "no_such_module" in str(info.value)
    res = CliRunner().invoke(cli, ["controls", "list"])
    assert res.exit_code == 2
    assert "acme_assay_broken" in res.output


def test_registration_rejects_a_check_without_permissions() -> None:
    with pytest.raises(registry.RegistryError, match="declares no permissions"):
        registry.check("acme.none", resource="acme.thing", permissions=[])(lambda r, p: None)


def test_unknown_check_is_a_registry_error() -> None:
    with pytest.raises(registry.RegistryError, match=r"no check named 'acme\.missing'"):
        run_check("acme.missing", {})


def test_a_provider_registered_twice_is_refused() -> None:
    def connect(options: object, timeout: float) -> object:
        return options

    def other(options: object, timeout: float) -> object:
        return options

    register = registry.provider("acme", options=registry.NoParams, identity=lambda c: {})
    register(connect)
    register(connect)  # the same function again (a module imported twice) is fine
    with pytest.raises(registry.RegistryError, match="provider 'acme' is registered twice"):
        register(other)


def test_isolated_registrations_do_not_outlive_the_block() -> None:
    with registry.isolated():
        registry.check("acme.temp", resource="acme.thing", permissions=["acme:Read"])(
            lambda r, p: None
        )
        assert "acme.temp" in registry.checks()
    assert "acme.temp" not in registry.checks()
