"""C2SP signed notes, verifier keys, signing key files and checkpoint texts."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from assay.evidence import (
    Checkpoint,
    CheckpointError,
    NoteError,
    SigningKey,
    SigningKeyError,
    VerifierKey,
    create_signing_key,
    load_signing_key,
    public_key_path,
    resolve_signing_key,
    write_signing_key,
)
from assay.evidence.checkpoint import checkpoint_text, parse_checkpoint_text
from assay.evidence.keys import DEFAULT_SIGNING_KEY, SIGNING_KEY_ENV, key_id
from assay.evidence.note import MAX_SIGNATURES, open_note, parse_note, sign_note

# The example of c2sp.org/signed-note.
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n— example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)
# golang.org/x/mod/sumdb/note's documented example: its private key format, and the
# signature Ed25519 must reproduce byte for byte (it is deterministic).
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n— PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_the_spec_example_verifies_and_its_key_id_is_derived() -> None:
    key = VerifierKey.parse(SPEC_VKEY)
    assert key.name == "example.com/foo"
    assert key.id.hex() == "530d903a" == key_id(key.name, key.public).hex()
    assert str(key) == SPEC_VKEY
    opened = open_note(SPEC_NOTE, [key])
    assert opened.text == "This is an example message.\n"
    assert opened.verified == [key]


def test_signing_reproduces_the_go_note_example() -> None:
    signer = SigningKey.parse(GO_SKEY)
    assert str(signer.verifier) == GO_VKEY
    assert signer.private_text() == GO_SKEY
    assert sign_note(GO_TEXT, [signer]) == GO_NOTE
    assert open_note(GO_NOTE, [VerifierKey.parse(GO_VKEY)]).text == GO_TEXT


def test_a_generated_key_round_trips_and_never_shows_its_secret(tmp_path: Path) -> None:
    key = SigningKey.generate("example.com/log")
    secret = key.private_text()
    assert secret.startswith("PRIVATE+KEY+example.com/log+")
    assert secret not in repr(key) and secret not in str(key)
    assert repr(key) == f"SigningKey({key.verifier})"
    assert str(SigningKey.parse(secret).verifier) == str(key.verifier)


@pytest.mark.parametrize(
    ("vkey", "message"),
    [
        (SPEC_VKEY.replace("530d903a", "530d903b"), "key id 530d903b should be 530d903a"),
        ("example.com/foo+530d903a", r"expected <name>\+<key id hex>\+<base64 key>"),
        (SPEC_VKEY.replace("+Aeky", "+Akky"), "expected an Ed25519 key"),
        (SPEC_VKEY[:-1], "not standard base64"),
        ("+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "key name '' is not allowed"),
    ],
)
def test_bad_verifier_keys_say_what_is_wrong(vkey: str, message: str) -> None:
    with pytest.raises(SigningKeyError, match=message):
        VerifierKey.parse(vkey)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\tb", "a\nb"])
def test_key_names_without_spaces_plus_or_controls(name: str) -> None:
    with pytest.raises(SigningKeyError, match="is not allowed"):
        SigningKey.generate(name)


def test_bad_private_keys_never_echo_the_key() -> None:
    for text in (GO_SKEY.replace("c74f20a3", "c74f20a4"), GO_SKEY[12:], GO_SKEY[:-4]):
        with pytest.raises(SigningKeyError) as raised:
            SigningKey.parse(text)
        assert "AYEKFALVFGyNhPJEMzD1QIDr" not in str(raised.value)


# --- notes: what must be rejected --------------------------------------------------------

SPEC_KEY = VerifierKey.parse(SPEC_VKEY)


@pytest.mark.parametrize(
    ("note", "message"),
    [
        (SPEC_NOTE.replace("example message", "exbmple message"), "does not verify"),
        (SPEC_NOTE.replace("Uw2QOkn8", "Uw2QOkn9"), "does not verify"),
        (SPEC_NOTE.replace("foo Uw2Q", "foo Vw2Q"), "no signature by a trusted key"),
        (SPEC_NOTE.replace("yaQM=", "yaQN="), "not canonical base64"),
        (SPEC_NOTE[:-1], "must end with a newline"),
        (SPEC_NOTE.replace(".\n\n", ".\n"), "no blank line"),
        (SPEC_NOTE.replace("—", "-"), "expected '— <key name> <base64>'"),
        (SPEC_NOTE.replace("This", "Th\x07s"), "control character"),
        (SPEC_NOTE.replace("message.\n", "message.\r\n"), "control character"),
        (SPEC_NOTE + "junk\n", "signature line 'junk'"),
        (SPEC_NOTE.replace("— example.com/foo ", "— example.com/foo  "), "expected '— "),
    ],
)
def test_malformed_or_forged_notes_are_rejected(note: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        open_note(note, [SPEC_KEY])


def test_unknown_signers_are_ignored_but_one_known_signature_is_required() -> None:
    other = SigningKey.generate("example.com/foo")  # same name, another key
    both = sign_note("This is an example message.\n", [other]) + SPEC_NOTE.split("\n\n")[1]
    assert open_note(both, [SPEC_KEY]).verified == [SPEC_KEY]
    with pytest.raises(NoteError, match=r"no signature by a trusted key: found example\.com/foo"):
        open_note(SPEC_NOTE, [other.verifier])
    with pytest.raises(NoteError, match="trusted: none given"):
        open_note(SPEC_NOTE, [])


def test_a_failing_known_signature_rejects_the_note_even_if_another_verifies() -> None:
    signer = SigningKey.generate("example.com/bar")
    good = sign_note("This is an example message.\n", [signer])
    bad_line = SPEC_NOTE.split("\n\n")[1].replace("Uw2QOkn8", "Uw2QOkn9")
    with pytest.raises(NoteError, match="does not verify"):
        open_note(good + bad_line, [signer.verifier, SPEC_KEY])


def test_signature_count_is_capped_above_sixteen() -> None:
    signer = SigningKey.generate("k")
    note = sign_note("x\n", [signer])
    sixteen = note + "".join(f"— junk{i} AAAAAAAA\n" for i in range(15))
    assert open_note(sixteen, [signer.verifier]).verified == [signer.verifier]
    too_many = note + "— junk AAAAAAAA\n" * MAX_SIGNATURES
    with pytest.raises(NoteError, match=f"more than {MAX_SIGNATURES}"):
        open_note(too_many, [signer.verifier])


def test_text_with_blank_lines_splits_at_the_last_one() -> None:
    signer = SigningKey.generate("k")
    note = sign_note("para one\n\npara two\n", [signer])
    assert parse_note(note)[0] == "para one\n\npara two\n"
    assert open_note(note.encode(), [signer.verifier]).text == "para one\n\npara two\n"


def test_non_utf8_notes_are_rejected() -> None:
    raw = bytearray(SPEC_NOTE.encode())
    raw[2] = 0xFF
    with pytest.raises(NoteError, match="not UTF-8"):
        open_note(bytes(raw), [SPEC_KEY])


@pytest.mark.parametrize("text", ["no newline", "bell\x07\n", ""])
def test_signing_refuses_bad_text(text: str) -> None:
    with pytest.raises(NoteError):
        sign_note(text, [SigningKey.generate("k")])


# --- checkpoint texts --------------------------------------------------------------------

ROOT = bytes(range(32))
ROOT64 = base64.b64encode(ROOT).decode()


def test_checkpoint_text_round_trips() -> None:
    text = checkpoint_text("example.com/log", 42, ROOT)
    assert text == f"example.com/log\n42\n{ROOT64}\n"
    assert parse_checkpoint_text(text) == ("example.com/log", 42, ROOT)
    assert parse_checkpoint_text(text + "ext line\n") == ("example.com/log", 42, ROOT)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"example.com/log\n042\n{ROOT64}\n", "line 2: tree size '042'"),
        (f"example.com/log\n-1\n{ROOT64}\n", "line 2: tree size '-1'"),
        (f"\n42\n{ROOT64}\n", "line 1: the origin is empty"),
        ("example.com/log\n42\nAAAA\n", "line 3: root hash is 3 bytes, expected 32"),
        (f"example.com/log\n42\n{ROOT64.rstrip('=')}\n", "not standard base64"),
        (f"example.com/log\n42\n{ROOT64}\n\nx\n", "an extension line is empty"),
        ("example.com/log\n42\n", "expected at least three lines"),
    ],
)
def test_malformed_checkpoint_texts(text: str, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        parse_checkpoint_text(text)


def test_a_checkpoint_names_its_signer_among_keys_of_its_origin() -> None:
    key = SigningKey.generate("example.com/log")
    note = sign_note(checkpoint_text(key.name, 3, ROOT), [key])
    checkpoint = Checkpoint.from_note(note)
    assert (checkpoint.origin, checkpoint.size, checkpoint.root) == (key.name, 3, ROOT)
    assert checkpoint.signer([SPEC_KEY, key.verifier]) == key.verifier
    with pytest.raises(NoteError, match=r"no trusted key is named 'example\.com/log'"):
        checkpoint.signer([SPEC_KEY])
    impostor = SigningKey.generate("example.com/log")
    with pytest.raises(NoteError, match="no signature by a trusted key"):
        checkpoint.signer([impostor.verifier])


# --- key files ---------------------------------------------------------------------------


def test_a_key_file_is_written_0600_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "signing.key"
    key = SigningKey.generate("example.com/log")
    write_signing_key(path, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert str(load_signing_key(path).verifier) == str(key.verifier)
    with pytest.raises(SigningKeyError, match="already exists; refusing to overwrite"):
        write_signing_key(path, SigningKey.generate("example.com/log"))


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    write_signing_key(path, SigningKey.generate("example.com/log"))
    os.chmod(path, 0o644)
    with pytest.raises(SigningKeyError, match=r"mode 0644, readable by others; run: chmod 600"):
        load_signing_key(path)


def test_resolving_the_signing_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    assert resolve_signing_key() is None
    default = SigningKey.generate("example.com/default")
    write_signing_key(DEFAULT_SIGNING_KEY, default)
    assert str(resolve_signing_key().verifier) == str(default.verifier)  # type: ignore[union-attr]

    from_env = SigningKey.generate("example.com/env")
    monkeypatch.setenv(SIGNING_KEY_ENV, from_env.private_text())
    assert resolve_signing_key().name == "example.com/env"  # type: ignore[union-attr]
    write_signing_key(tmp_path / "file.key", SigningKey.generate("example.com/file"))
    monkeypatch.setenv(SIGNING_KEY_ENV, str(tmp_path / "file.key"))
    assert resolve_signing_key().name == "example.com/file"  # type: ignore[union-attr]
    explicit = tmp_path / "explicit.key"
    write_signing_key(explicit, SigningKey.generate("example.com/explicit"))
    assert resolve_signing_key(explicit).name == "example.com/explicit"  # type: ignore[union-attr]

    monkeypatch.setenv(SIGNING_KEY_ENV, str(tmp_path / "missing.key"))
    with pytest.raises(SigningKeyError, match="cannot read signing key"):
        resolve_signing_key()
    monkeypatch.setenv(SIGNING_KEY_ENV, "PRIVATE+KEY+broken")
    with pytest.raises(SigningKeyError, match=f"^\\${SIGNING_KEY_ENV}: signing key: expected"):
        resolve_signing_key()


def test_a_created_key_has_its_public_half_beside_it(tmp_path: Path) -> None:
    key = create_signing_key(tmp_path / "signing.key", "example.com/log")
    assert public_key_path(tmp_path / "signing.key") == tmp_path / "signing.pub"
    assert public_key_path(tmp_path / "prod") == tmp_path / "prod.pub"
    assert (tmp_path / "signing.pub").read_text() == f"{key.verifier}\n"
    assert VerifierKey.parse((tmp_path / "signing.pub").read_text()) == key.verifier
    (tmp_path / "other.pub").write_text("someone else's\n")
    with pytest.raises(SigningKeyError, match=r"other\.pub already exists"):
        create_signing_key(tmp_path / "other.key", "example.com/log")
    assert not (tmp_path / "other.key").exists()
