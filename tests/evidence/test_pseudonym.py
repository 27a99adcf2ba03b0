"""Pseudonyms: stable per key, different across keys and kinds, the key file private."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from assay.evidence.pseudonym import (
    KEY_ENV,
    Pseudonymizer,
    PseudonymKeyError,
    contains_email,
    load_key,
    pseudonymise_emails,
)


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


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("subject jane.doe@example.com bound", "jane.doe@example.com"),
        ("local admin root@localhost", "root@localhost"),
        ("owner jörg@bücher.de", "jörg@bücher.de"),
        ("mailto:jane%40example.com", "jane%40example.com"),
        ("MAILTO:JANE%40EXAMPLE.COM", "JANE%40EXAMPLE.COM"),
    ],
)
def test_every_spelling_of_an_address_is_pseudonymised(text: str, address: str) -> None:
    p = Pseudonymizer(b"k" * 32)
    found: dict[str, str] = {}
    out = pseudonymise_emails({address: [text]}, p, found)
    assert address not in json.dumps(out, ensure_ascii=False)
    assert found and set(found.values()) == {address}
    [key] = out  # the dict key too
    assert key.startswith("hmac-sha256:")


def test_one_address_one_pseudonym_whatever_the_spelling() -> None:
    p = Pseudonymizer(b"k" * 32)
    spellings = ["Jane@Example.com", "jane%40example.com", "JANE%40EXAMPLE.COM"]
    assert len({pseudonymise_emails(s, p, {}) for s in spellings}) == 1
    idn = {pseudonymise_emails(s, p, {}) for s in ["jörg@bücher.de", "jörg@xn--bcher-kva.de"]}
    assert len(idn) == 1


def test_an_image_digest_is_not_an_address() -> None:
    text = "registry.example.com/app@sha256:" + "a" * 64
    assert pseudonymise_emails(text, Pseudonymizer(b"k" * 32), {}) == text
    assert not contains_email(text)
    assert contains_email({"keys": {"x@y": 1}})
