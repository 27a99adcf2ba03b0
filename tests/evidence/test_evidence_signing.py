"""Signing checkpoints, rotating keys, inclusion proofs and the pii_vault, per backend."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from evidence_backends import Backend

from assay.evidence import (
    InclusionProof,
    LedgerError,
    NoteError,
    ProofError,
    Pseudonymizer,
    SigningKey,
    check_signing_key,
    open_ledger,
    prove,
    rotate_key,
    sign_checkpoint,
    verify_ledger,
)
from assay.evidence.backends.sqlite_schema import MIGRATIONS
from assay.evidence.merkle import EMPTY_ROOT, root


def entries(count: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"kind": "result", "status": "pass", "n": i, **extra} for i in range(count)]


# --- checkpoints -------------------------------------------------------------------------


def test_a_checkpoint_signs_the_root_of_every_record(backend: Backend, log_key: SigningKey) -> None:
    with backend.open() as ledger:
        empty = sign_checkpoint(ledger, log_key)
        assert (empty.size, empty.root) == (0, EMPTY_ROOT)
        ledger.append(entries(7), key=log_key)
        checkpoint = sign_checkpoint(ledger, log_key)
        assert checkpoint.size == 7 == ledger.count()
        assert checkpoint.root == root(ledger.nodes, 7)
        assert checkpoint.note.startswith(f"{log_key.name}\n7\n")
        assert checkpoint.signer([log_key.verifier]) == log_key.verifier
        # Nothing new: the same checkpoint, not a second one.
        assert sign_checkpoint(ledger, log_key) == checkpoint
        assert ledger.checkpoints() == [empty, checkpoint]
        assert ledger.latest_checkpoint() == checkpoint


def test_storing_a_checkpoint_twice_is_a_no_op_but_a_different_one_is_refused(
    backend: Backend, log_key: SigningKey, other_key: SigningKey
) -> None:
    with backend.open() as ledger:
        ledger.append(entries(2), key=log_key)
        checkpoint = sign_checkpoint(ledger, log_key)
        ledger.add_checkpoint(checkpoint)
        assert len(ledger.checkpoints()) == 1
        impostor = type(checkpoint)(checkpoint.origin, 2, checkpoint.root, checkpoint.note + " ")
        with pytest.raises(LedgerError, match=f"another checkpoint {log_key.name}@2 is stored"):
            ledger.add_checkpoint(impostor)


def test_only_the_ledgers_own_key_may_sign_it(
    backend: Backend, log_key: SigningKey, other_key: SigningKey
) -> None:
    with backend.open() as ledger:
        ledger.append(entries(2), key=log_key)
        sign_checkpoint(ledger, log_key)
        ledger.append(entries(1))
        with pytest.raises(
            LedgerError, match=r"not signed by .*a different key with the same name"
        ):
            sign_checkpoint(ledger, other_key)
        stranger = SigningKey.generate("example.com/elsewhere")
        with pytest.raises(LedgerError, match=r"signed under origin 'example\.com/evidence/test'"):
            check_signing_key(ledger, stranger)


def test_signing_refuses_a_ledger_that_lost_records(backend: Backend, log_key: SigningKey) -> None:
    with backend.open() as ledger:
        ledger.append(entries(4), key=log_key)
        sign_checkpoint(ledger, log_key)
    backend.execute("DELETE FROM records WHERE seq = 3")
    with backend.open() as ledger, pytest.raises(LedgerError, match="has 3 records but checkpoint"):
        sign_checkpoint(ledger, log_key)


def test_signing_refuses_a_tree_that_disagrees_with_the_checkpoint(
    backend: Backend, log_key: SigningKey
) -> None:
    with backend.open() as ledger:
        ledger.append(entries(4), key=log_key)
        sign_checkpoint(ledger, log_key)
    backend.execute("UPDATE tree_nodes SET hash = ? WHERE level = 2", (b"\1" * 32,))
    with backend.open() as ledger, pytest.raises(LedgerError, match="stored tree gives root"):
        sign_checkpoint(ledger, log_key)


def test_checkpoints_are_append_only_in_storage(backend: Backend, log_key: SigningKey) -> None:
    if backend.name != "sqlite":
        pytest.skip("the guard triggers are checked per backend")
    with backend.open() as ledger:
        ledger.append(entries(1), key=log_key)
        sign_checkpoint(ledger, log_key)
    raw = sqlite3.connect(Path(backend.url.removeprefix("sqlite:///")))
    for statement in ("UPDATE checkpoints SET tree_size = 9", "DELETE FROM checkpoints"):
        with pytest.raises(sqlite3.IntegrityError, match="checkpoints are append-only"):
            raw.execute(statement)
    for statement in ("UPDATE tree_nodes SET idx = 9", "DELETE FROM tree_nodes"):
        with pytest.raises(sqlite3.IntegrityError, match="tree_nodes are append-only"):
            raw.execute(statement)
    raw.close()


# --- rotation ----------------------------------------------------------------------------


def test_rotation_records_both_public_keys_and_never_a_private_one(
    backend: Backend, log_key: SigningKey
) -> None:
    new = SigningKey.generate("example.com/evidence/next")
    with backend.open() as ledger:
        with pytest.raises(LedgerError, match="no checkpoint yet"):
            rotate_key(ledger, log_key, new, "2024-06-01T00:00:00Z")
        ledger.append(entries(3), key=log_key)
        with pytest.raises(LedgerError, match="a rotation starts a new origin"):
            rotate_key(ledger, log_key, SigningKey.generate(log_key.name), "t")
        final, first = rotate_key(ledger, log_key, new, "2024-06-01T00:00:00Z")
        record = next(iter(ledger.records(3))).record
        assert record["kind"] == "key_rotated"
        assert (record["from"], record["to"]) == (str(log_key.verifier), str(new.verifier))
        assert (final.size, first.size, ledger.latest_checkpoint()) == (4, 4, first)
        # Re-running resumes instead of recording a second rotation.
        assert rotate_key(ledger, log_key, new, "later") == (final, first)
        assert ledger.count() == 4
        assert verify_ledger(ledger, [log_key.verifier]).ok
    for table, column in (("records", "body"), ("checkpoints", "note")):
        for (value,) in backend.execute(f"SELECT {column} FROM {table}"):
            text = bytes(value) if isinstance(value, bytes) else str(value).encode()
            for key in (log_key, new):
                assert key.private_text().encode() not in text
                assert key.private_text().split("+", 4)[4].encode() not in text


def test_a_half_done_rotation_blocks_the_old_key(backend: Backend, log_key: SigningKey) -> None:
    new = SigningKey.generate("example.com/evidence/next")
    with backend.open() as ledger:
        ledger.append(entries(2), key=log_key)
        sign_checkpoint(ledger, log_key)
        # As if the process died right after appending the rotation record.
        ledger.append(
            [
                {
                    "kind": "key_rotated",
                    "at": "t",
                    "from": str(log_key.verifier),
                    "to": str(new.verifier),
                }
            ]
        )
        with pytest.raises(LedgerError, match="finish it with assay evidence rotate-key"):
            sign_checkpoint(ledger, log_key)
        final, first = rotate_key(ledger, log_key, new, "t")
        assert final.size == first.size == 3


def test_a_rotation_that_died_after_its_final_checkpoint_resumes(
    backend: Backend, log_key: SigningKey
) -> None:
    from assay.evidence.signing import _sign_at

    new = SigningKey.generate("example.com/evidence/next")
    with backend.open() as ledger:
        ledger.append(entries(2), key=log_key)
        sign_checkpoint(ledger, log_key)
        rotation = {"kind": "key_rotated", "from": str(log_key.verifier), "to": str(new.verifier)}
        # The rotation record and the old key's final checkpoint commit together.
        ledger.append([rotation], key=log_key)
        _sign_at(ledger, log_key, 3)  # a no-op: the very same checkpoint
        with pytest.raises(LedgerError, match="finish it with assay evidence rotate-key"):
            ledger.append(entries(1), key=log_key)
        with pytest.raises(LedgerError, match="finish it with assay evidence rotate-key"):
            sign_checkpoint(ledger, log_key)
        final, first = rotate_key(ledger, log_key, new, "t")
        assert (final.size, first.size, ledger.count()) == (3, 3, 3)
        assert verify_ledger(ledger, [log_key.verifier]).ok


# --- inclusion proofs --------------------------------------------------------------------


def test_every_record_proves_against_the_latest_checkpoint(
    backend: Backend, log_key: SigningKey
) -> None:
    with backend.open() as ledger:
        ledger.append(entries(37))
        with pytest.raises(LedgerError, match="no signed checkpoint yet"):
            prove(ledger, 0)
        # Record 37 says records 0..36 were adopted unsigned; the checkpoint covers it.
        checkpoint = sign_checkpoint(ledger, log_key, adopt_tail=True, at="t")
        ledger.append(entries(1))
        with pytest.raises(LedgerError, match=r"record 38 is not covered by checkpoint .*@38"):
            prove(ledger, 38)
        for seq in range(38):
            proof = prove(ledger, seq)
            assert proof.checkpoint == checkpoint
            parsed = InclusionProof.parse(proof.text())
            assert parsed == proof
            assert parsed.verify([log_key.verifier]) == log_key.verifier


def test_a_tampered_receipt_does_not_verify(backend: Backend, log_key: SigningKey) -> None:
    with backend.open() as ledger:
        ledger.append(entries(9), key=log_key)
        sign_checkpoint(ledger, log_key)
        proof = prove(ledger, 4)
    other = SigningKey.generate(log_key.name)
    with pytest.raises(NoteError):
        proof.verify([other.verifier])
    forged_record = proof.record.replace(b'"pass"', b'"fail"')
    with pytest.raises(ProofError, match="gives root"):
        type(proof)(4, proof.hashes, proof.checkpoint, forged_record).verify([log_key.verifier])
    with pytest.raises(ProofError, match="the record's seq is 4, expected the index 5"):
        type(proof)(5, proof.hashes, proof.checkpoint, proof.record).verify([log_key.verifier])
    text = proof.text()
    with pytest.raises(ProofError, match="line 1"):
        InclusionProof.parse(text.replace("tlog-proof@v1", "tlog-proof@v2"))
    with pytest.raises(ProofError, match="line 3: expected 'index <n>'"):
        InclusionProof.parse(text.replace("index 4", "index 04"))
    with pytest.raises(ProofError, match="line 4: proof hash"):
        InclusionProof.parse(text.replace("\nindex 4\n", "\nindex 4\n%%\n"))


def test_the_json_proof_carries_the_same_parts(backend: Backend, log_key: SigningKey) -> None:
    with backend.open() as ledger:
        ledger.append(entries(3), key=log_key)
        sign_checkpoint(ledger, log_key)
        doc = prove(ledger, 1).as_dict()
    assert doc["format"] == "c2sp.org/tlog-proof@v1"
    assert (doc["index"], doc["tree_size"], len(doc["hashes"])) == (1, 3, 2)
    assert doc["record"].startswith('{"kind":"result","n":1,')


# --- pii_vault ---------------------------------------------------------------------------


def test_vault_values_live_apart_from_the_log_and_erase_for_good(
    backend: Backend, log_key: SigningKey
) -> None:
    subject = Pseudonymizer(b"k" * 32).pseudonym("email", "ada@example.com")
    with backend.open() as ledger:
        ledger.vault_put(subject, "ada@example.com")
        ledger.append([{"kind": "dsr_received", "subject": subject}], key=log_key)
        sign_checkpoint(ledger, log_key)
        assert ledger.vault_get(subject) == "ada@example.com"
        ledger.vault_put(subject, "ada.lovelace@example.com")
        assert ledger.vault_get(subject) == "ada.lovelace@example.com"
        assert ledger.vault_erase(subject) is True
        assert ledger.vault_erase(subject) is False
        assert ledger.vault_get(subject) is None
        assert verify_ledger(ledger, [log_key.verifier]).ok
    assert backend.execute("SELECT count(*) FROM pii_vault") == [(0,)]


def test_an_erased_value_leaves_no_copy_in_the_sqlite_files(tmp_path: Path) -> None:
    subject = Pseudonymizer(b"k" * 32).pseudonym("email", "grace@example.com")
    path = tmp_path / "ledger.db"
    with open_ledger(str(path)) as ledger:
        ledger.vault_put(subject, "grace@example.com")
        ledger.append(entries(50))
        ledger.vault_erase(subject)
        on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"grace@example.com" not in on_disk


def test_the_vault_takes_only_pseudonyms_and_never_echoes_the_value(backend: Backend) -> None:
    with (
        backend.open() as ledger,
        pytest.raises(ValueError, match="expected a pseudonym") as raised,
    ):
        ledger.vault_put("ada@example.com", "ada@example.com")
    assert "ada@example.com" not in str(raised.value)


# --- migration from a ledger written before the tree -------------------------------------


def test_a_version_1_ledger_gains_its_tree_on_open(tmp_path: Path, log_key: SigningKey) -> None:
    path = tmp_path / "old.db"
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    MIGRATIONS[0](raw)
    raw.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    from assay.evidence.record import seal_batch

    for record in seal_batch(entries(1500), 0, "0" * 64):
        raw.execute(
            "INSERT INTO records VALUES (?, ?, ?, ?)",
            (
                record.seq,
                bytes.fromhex(record.record["prev"]),
                bytes.fromhex(record.hash),
                record.body,
            ),
        )
    raw.close()
    with open_ledger(str(path), create=False) as ledger:
        ledger.append(entries(3))
        sign_checkpoint(ledger, log_key, adopt_tail=True, at="2024-06-01T00:00:00Z")
        report = verify_ledger(ledger, [log_key.verifier])
    assert report.ok and report.records == 1504
