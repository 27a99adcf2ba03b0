"""The two kinds of note key, a log's (type 0x01) and a witness's (type 0x04): one vkey
format and one private key format, each kind refusing the other's keys and naming itself
in its errors."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from assay.evidence.cosignature import WitnessKey, WitnessSigningKey
from assay.evidence.keys import (
    NoteSigningKey,
    NoteVerifierKey,
    SigningKey,
    SigningKeyError,
    VerifierKey,
)

NAME = "example.com/log"
SEED = bytes(range(32))


def vkeys() -> tuple[str, str]:
    """The same Ed25519 public key as a log's vkey and as a witness's."""
    return str(SigningKey(NAME, SEED).verifier), str(WitnessSigningKey(NAME, SEED).verifier)


def test_one_public_key_two_types_two_key_ids() -> None:
    log, witness = VerifierKey.parse(vkeys()[0]), WitnessKey.parse(vkeys()[1])
    assert log.public == witness.public
    for key, type_byte in ((log, b"\x01"), (witness, b"\x04")):
        assert key.id == hashlib.sha256(NAME.encode() + b"\n" + type_byte + key.public).digest()[:4]
        assert str(key).split("+", 2)[2] == base64.b64encode(type_byte + key.public).decode()
    assert log.id != witness.id
    # Same name and bytes, different kinds of key: not equal.
    assert VerifierKey(NAME, log.public) != WitnessKey(NAME, log.public)
    assert VerifierKey(NAME, log.public) == log and hash(VerifierKey(NAME, log.public)) == hash(log)


def test_each_kind_refuses_the_others_key_and_says_what_it_expected() -> None:
    log, witness = vkeys()
    with pytest.raises(SigningKeyError) as raised:
        VerifierKey.parse(witness)
    assert str(raised.value) == (
        f"verifier key {witness!r}: expected an Ed25519 key (type 0x01 and 32 bytes)"
    )
    with pytest.raises(SigningKeyError) as raised:
        WitnessKey.parse(log)
    assert str(raised.value) == (
        f"witness key {log!r}: expected an Ed25519 cosigner key (type 0x04 and 32 bytes)"
    )


@pytest.mark.parametrize(("kind", "label"), [(VerifierKey, "verifier"), (WitnessKey, "witness")])
def test_bad_vkeys_name_the_kind_and_the_part(kind: type[NoteVerifierKey], label: str) -> None:
    good = vkeys()[0 if kind is VerifierKey else 1]
    name, hex_id, encoded = good.split("+", 2)
    wrong_id = f"{int(hex_id, 16) ^ 1:08x}"
    cases = {
        f"{name}+{hex_id}": f"{label} key '{name}+{hex_id}': expected <name>+<key id hex>+",
        f"{name}+{wrong_id}+{encoded}": f"key id {wrong_id} should be {hex_id}",
        f"{name}+{hex_id}+{encoded[:-1]}": f"{label} key: {encoded[:-1]!r} is not standard base64",
        f"a b+{hex_id}+{encoded}": "key name 'a b' is not allowed",
    }
    for text, message in cases.items():
        with pytest.raises(SigningKeyError) as raised:
            kind.parse(text)
        assert message in str(raised.value), text
    parsed = kind.parse(f"  {good}\n")
    assert type(parsed) is kind and str(parsed) == good


def test_both_kinds_verify_ed25519_signatures_of_their_key() -> None:
    signer = SigningKey(NAME, SEED)
    signature = signer.sign(b"message")
    for key in (signer.verifier, WitnessSigningKey(NAME, SEED).verifier):
        assert key.verify(b"message", signature)
        assert not key.verify(b"massage", signature)
        assert not key.verify(b"message", signature[:-1] + bytes([signature[-1] ^ 1]))


@pytest.mark.parametrize(
    ("kind", "label", "other"),
    [
        (SigningKey, "signing key", WitnessSigningKey),
        (WitnessSigningKey, "witness key", SigningKey),
    ],
)
def test_private_keys_of_each_kind(
    kind: type[NoteSigningKey], label: str, other: type[NoteSigningKey], tmp_path: Path
) -> None:
    key = kind(NAME, SEED)
    secret = key.private_text()
    assert type(key.verifier) is kind.VERIFIER
    assert repr(key) == f"{kind.__name__}({key.verifier})" and secret not in repr(key)
    assert kind.parse(secret).verifier == key.verifier
    with pytest.raises(SigningKeyError) as raised:
        kind.parse(other(NAME, SEED).private_text())
    assert str(raised.value).startswith(f"{label}: expected an Ed25519 ")
    assert "type 0x0" in str(raised.value) and secret.split("+")[-1] not in str(raised.value)
    # Written once, 0600, its vkey beside it; never overwritten; refused when others may read.
    made = kind.create(tmp_path / "k.key", NAME)
    assert (tmp_path / "k.pub").read_text() == f"{made.verifier}\n"
    assert kind.load(tmp_path / "k.key").verifier == made.verifier
    with pytest.raises(SigningKeyError, match="already exists; refusing to overwrite"):
        kind.create(tmp_path / "k.key", NAME)
    (tmp_path / "k.key").chmod(0o640)
    with pytest.raises(
        SigningKeyError, match=f"^{label} .*k.key has mode 0640, readable by others"
    ):
        kind.load(tmp_path / "k.key")
    with pytest.raises(SigningKeyError, match=f"^cannot read {label} "):
        kind.load(tmp_path / "missing.key")
