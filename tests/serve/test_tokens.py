"""Console tokens: shown once, kept hashed, checked exactly, revoked at once."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from assay.engine.cli.main import cli
from assay.errors import ConfigError
from assay.serve.proxy import ProxyIdentity
from assay.serve.tokens import Role, TokenStore


def test_the_file_keeps_only_a_hash_of_each_token(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "t" / "tokens.json")
    token, entry = store.create("Q3 audit", Role.AUDITOR, "2026-12-06T00:00:00Z")
    text = store.path.read_text()
    assert token not in text and token.split("_", 2)[2] not in text
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.check(token) == entry
    assert store.check(f" {token}\n") == entry
    assert store.check(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert store.check("assay_00000000_" + "A" * 43) is None
    assert store.check("not a token") is None


def test_a_token_written_by_one_store_is_seen_by_another_at_once(tmp_path: Path) -> None:
    serving = TokenStore(tmp_path / "tokens.json")
    assert serving.entries() == {}
    token, entry = TokenStore(serving.path).create("late", Role.PRIVACY, "now")
    assert serving.check(token) == entry
    TokenStore(serving.path).revoke(entry.id)
    assert serving.check(token) is None


def test_a_damaged_token_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"tokens": [{"id": "x", "role": "boss"}]}))
    with pytest.raises(ConfigError, match=r"tokens\.json: tokens\[0\]: expected id, name, role"):
        TokenStore(path).entries()


def test_revoking_an_unknown_token_names_the_known_ones(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    _, entry = store.create("a", Role.ADMIN, "now")
    with pytest.raises(ConfigError, match=f"no token 'nope' \\(tokens: {entry.id}\\)"):
        store.revoke("nope")


def test_token_commands(tmp_path: Path) -> None:
    path = str(tmp_path / "tokens.json")
    runner = CliRunner()
    made = runner.invoke(
        cli, ["serve", "token", "create", "--role", "privacy", "--name", "DPO", "--tokens", path]
    )
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()
    assert token.startswith("assay_") and "shown only this once" in made.stderr
    entry = TokenStore(Path(path)).check(token)
    assert entry is not None and entry.role is Role.PRIVACY and entry.name == "DPO"
    listed = runner.invoke(cli, ["serve", "token", "list", "--tokens", path])
    assert f"{entry.id}  privacy" in listed.output and token not in listed.output
    revoked = runner.invoke(cli, ["serve", "token", "revoke", entry.id, "--tokens", path])
    assert revoked.exit_code == 0 and f"revoked token {entry.id}" in revoked.output
    bad = runner.invoke(cli, ["serve", "token", "create", "--role", "boss", "--name", "x"])
    assert bad.exit_code == 2


def test_a_proxy_is_believed_only_from_its_own_address() -> None:
    proxy = ProxyIdentity.parse(["10.0.0.5"], ["auditor=audit", "admin=ops"])
    headers = {"X-Forwarded-Email": "kim@example.com", "X-Forwarded-Groups": "staff, audit"}
    who = proxy.identify("10.0.0.5", headers)
    assert who is not None and who.role is Role.AUDITOR and who.name == "kim@example.com"
    assert proxy.identify("10.0.0.6", headers) is None
    assert proxy.identify(None, headers) is None
    assert proxy.identify("10.0.0.5", {**headers, "X-Forwarded-Groups": "staff"}) is None
    both = proxy.identify("10.0.0.5", {**headers, "X-Forwarded-Groups": "audit,ops"})
    assert both is not None and both.role is Role.ADMIN


@pytest.mark.parametrize(
    ("addresses", "grants", "message"),
    [
        (["proxy.local"], ["auditor=a"], "--proxy-address: 'proxy.local' is not an IP address"),
        (["10.0.0.5"], ["boss=a"], "--proxy-role: 'boss=a': expected ROLE=GROUP"),
        (["10.0.0.5"], [], "--proxy-role: a proxy needs at least one"),
    ],
)
def test_bad_proxy_options_are_named(addresses: list[str], grants: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ProxyIdentity.parse(addresses, grants)
    assert message in caught.value.diagnostics()
