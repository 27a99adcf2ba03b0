"""Pseudonyms: stable per key, different across keys and kinds, the key file private."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from assay.evidence.pseudonym import KEY_ENV, Pseudonymizer, PseudonymKeyError, load_key


def test_pseudonyms_are_stable_and_keyed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    key = load_key(tmp_path / "k")
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600
    assert load_key(tmp_path / "k") == key
    p = Pseudonymizer(key)
    assert p.pseudonym("email", "a@example.com") == p.pseudonym("email", "a@example.com")
    assert p.pseudonym("email", "a@example.com") != p.pseudonym("customer_id", "a@example.com")
    other = Pseudonymizer(b"\x01" * 32)
    assert other.pseudonym("email", "a@example.com") != p.pseudonym("email", "a@example.com")
    assert "a@example.com" not in p.pseudonym("email", "a@example.com")
    assert key.hex() not in repr(p)


def test_key_from_environment_and_bad_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "ab" * 32)
    assert load_key(tmp_path / "absent", create=False) == b"\xab" * 32
    monkeypatch.setenv(KEY_ENV, "not hex")
    with pytest.raises(PseudonymKeyError, match="not hex"):
        load_key(tmp_path / "absent")
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(PseudonymKeyError, match="no pseudonym key"):
        load_key(tmp_path / "absent", create=False)
    with pytest.raises(PseudonymKeyError, match="expected 32"):
        Pseudonymizer(b"short")
