"""Tampering with a signed ledger behind its back, and what `verify_ledger` says.

Every test runs against each backend of `conftest.BACKENDS`; tampering goes through the
backend's raw connection, as an attacker with the database would.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from evidence_backends import BACKENDS, Backend

from assay.evidence import (
    Checkpoint,
    LedgerError,
    LedgerReport,
    LogVerificationError,
    SigningKey,
    VerificationError,
    VerifierKey,
    prove,
    rotate_key,
    sign_checkpoint,
    verify_ledger,
)
from assay.evidence.merkle import Frontier, leaf_hash
from assay.evidence.record import seal
from assay.evidence.verify_ledger import UNCHECKED

BATCHES = (5, 5, 6)  # checkpoints at 5, 10 and 16
TABLES = {
    "records": "seq, prev, hash, body",
    "tree_nodes": "level, idx, hash",
    "checkpoints": "id, origin, tree_size, root, note",
}


def entry(i: int, status: str = "pass") -> dict[str, Any]:
    return {"kind": "result", "at": "2024-05-01T02:00:00Z", "status": status, "n": i}


def build(backend: Backend, key: SigningKey, batches: Sequence[int] = BATCHES) -> list[Checkpoint]:
    checkpoints = []
    with backend.open() as ledger:
        for size in batches:
            ledger.append([entry(i) for i in range(size)], key=key)
            checkpoints.append(sign_checkpoint(ledger, key))
    return checkpoints


def check(
    backend: Backend, keys: Sequence[VerifierKey] = (), trusted: Checkpoint | None = None
) -> LedgerReport:
    with backend.open() as ledger:
        return verify_ledger(ledger, keys, trusted)


def fails_at_seq(report: LedgerReport, seq: int, message: str) -> None:
    assert not report.ok
    assert isinstance(report.error, VerificationError), report.error
    assert report.first_bad_seq == seq, report.error
    assert report.error.message.startswith(message), report.error.message


def fails_at(report: LedgerReport, where: str, message: str) -> None:
    assert not report.ok
    assert isinstance(report.error, LogVerificationError), report.error
    assert report.error.where == where, report.error
    assert message in report.error.message, report.error.message


def body(backend: Backend, seq: int) -> bytes:
    return bytes(backend.execute("SELECT body FROM records WHERE seq = ?", (seq,))[0][0])


def rewrite_body(backend: Backend, seq: int, new: bytes) -> None:
    backend.execute(
        "UPDATE records SET body = ?, hash = ? WHERE seq = ?", (new, seal_hash(new), seq)
    )


def seal_hash(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def rebuild_tree(backend: Backend) -> None:
    """What a careful tamperer does after editing bodies: recompute every tree node."""
    backend.execute("DELETE FROM tree_nodes")
    frontier = Frontier()
    for (data,) in backend.execute("SELECT body FROM records ORDER BY seq"):
        for node in frontier.append(leaf_hash(bytes(data))):
            backend.execute("INSERT INTO tree_nodes (level, idx, hash) VALUES (?, ?, ?)", node)


def roll_back(backend: Backend, size: int) -> None:
    """The ledger as it was at `size` records: as if an old backup were restored."""
    backend.execute("DELETE FROM records WHERE seq >= ?", (size,))
    backend.execute("DELETE FROM tree_nodes WHERE (idx + 1) * (1 << level) > ?", (size,))
    backend.execute("DELETE FROM checkpoints WHERE tree_size > ?", (size,))


def replace_with(target: Backend, source: Backend) -> None:
    """Swap the whole content of `target` for that of `source`."""
    for table, columns in TABLES.items():
        rows = source.execute(f"SELECT {columns} FROM {table}")
        target.execute(f"DELETE FROM {table}")
        marks = ", ".join("?" * len(columns.split(", ")))
        for row in rows:
            target.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", row)


@pytest.fixture
def other_backend(
    backend: Backend, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Backend]:
    """A second, independent ledger of the same backend: where forgeries are built."""
    (tmp_path / "forge").mkdir()
    made = BACKENDS[backend.name](request, tmp_path / "forge")
    yield made
    made.close()


@pytest.fixture
def checkpoints(backend: Backend, log_key: SigningKey) -> list[Checkpoint]:
    return build(backend, log_key)


# --- untouched ---------------------------------------------------------------------------


def test_an_untouched_signed_ledger_verifies(
    backend: Backend, log_key: SigningKey, checkpoints: list[Checkpoint]
) -> None:
    report = check(backend, [log_key.verifier], trusted=checkpoints[1])
    assert report.ok, report.error
    assert (report.records, report.checkpoints) == (16, 3)
    assert report.latest == checkpoints[2]
    assert report.root == checkpoints[2].root.hex()
    assert report.signatures_checked and report.notes == []
    assert report.as_dict()["trusted_checkpoint"] == {
        "origin": log_key.name,
        "size": 10,
        "root": checkpoints[1].root.hex(),
    }


def test_without_a_key_the_report_says_what_was_not_checked(
    backend: Backend, checkpoints: list[Checkpoint]
) -> None:
    report = check(backend)
    assert report.ok and not report.signatures_checked
    assert report.notes == [UNCHECKED]
    assert "signatures and truncation were not checked" in UNCHECKED


def test_records_after_the_latest_checkpoint_fail_unless_allowed(
    backend: Backend, log_key: SigningKey, checkpoints: list[Checkpoint]
) -> None:
    with backend.open() as ledger:
        ledger.append([entry(99)])  # without the key: an unsigned tail
    fails_at(
        check(backend, [log_key.verifier]),
        "unsigned tail",
        "record 16 was appended after the last signed checkpoint (size 16)",
    )
    with backend.open() as ledger:
        report = verify_ledger(ledger, [log_key.verifier], allow_unsigned_tail=True)
    assert report.ok
    assert report.notes == [
        "record 16 was appended after the last signed checkpoint (size 16): their removal "
        "could not be detected (allowed: --allow-unsigned-tail)"
    ]
    # Without keys nothing is signed-checked: the tail is not an error (as before).
    assert check(backend).ok


# --- records -----------------------------------------------------------------------------


def test_an_edited_byte(backend: Backend, log_key: SigningKey, checkpoints: Any) -> None:
    original = body(backend, 7)
    backend.execute(
        "UPDATE records SET body = ? WHERE seq = 7", (original.replace(b'"pass"', b'"fail"'),)
    )
    fails_at_seq(check(backend, [log_key.verifier]), 7, "stored hash got ")


def test_an_edited_body_with_its_hash_fixed(
    backend: Backend, log_key: SigningKey, checkpoints: Any
) -> None:
    rewrite_body(backend, 7, body(backend, 7).replace(b'"pass"', b'"fail"'))
    fails_at_seq(check(backend, [log_key.verifier]), 8, "body prev got ")


def test_a_deleted_record(backend: Backend, log_key: SigningKey, checkpoints: Any) -> None:
    backend.execute("DELETE FROM records WHERE seq = 3")
    fails_at_seq(check(backend, [log_key.verifier]), 3, "row seq got 4, expected 3")


def test_an_inserted_record(backend: Backend, log_key: SigningKey, checkpoints: Any) -> None:
    for seq in range(15, 2, -1):
        backend.execute("UPDATE records SET seq = ? WHERE seq = ?", (seq + 1, seq))
    prev = seal_hash(body(backend, 2)).hex()
    forged = seal(entry(42), 3, prev)
    backend.execute(
        "INSERT INTO records (seq, prev, hash, body) VALUES (3, ?, ?, ?)",
        (bytes.fromhex(prev), bytes.fromhex(forged.hash), forged.body),
    )
    fails_at_seq(check(backend, [log_key.verifier]), 4, "body seq got 3, expected 4")


def test_two_records_reordered(backend: Backend, log_key: SigningKey, checkpoints: Any) -> None:
    two, three = body(backend, 2), body(backend, 3)
    backend.execute("UPDATE records SET seq = -1 WHERE seq = 2")
    backend.execute("UPDATE records SET seq = 2 WHERE seq = 3")
    backend.execute("UPDATE records SET seq = 3 WHERE seq = -1")
    assert (body(backend, 2), body(backend, 3)) == (three, two)
    fails_at_seq(check(backend, [log_key.verifier]), 2, "body seq got 3, expected 2")


# --- the tail, the tree and the checkpoints ----------------------------------------------


def test_a_truncated_tail_is_caught_by_the_checkpoint(
    backend: Backend, log_key: SigningKey, checkpoints: Any
) -> None:
    backend.execute("DELETE FROM records WHERE seq >= 12")
    backend.execute("DELETE FROM tree_nodes WHERE (idx + 1) * (1 << level) > 12")
    fails_at(
        check(backend, [log_key.verifier]),
        f"{log_key.name}@16",
        "covers 16 records, but the ledger has 12: records were removed from the tail",
    )


def test_a_rewritten_last_record_is_caught_by_the_stored_tree(
    backend: Backend, log_key: SigningKey, checkpoints: Any
) -> None:
    # The chain alone cannot see it: nothing links to the last record.
    rewrite_body(backend, 15, body(backend, 15).replace(b'"pass"', b'"fail"'))
    fails_at(check(backend, [log_key.verifier]), "tree", "tree node (level 0, index 15) got")


def test_a_rewritten_last_record_with_a_rebuilt_tree_is_caught_by_the_signature(
    backend: Backend, log_key: SigningKey, checkpoints: list[Checkpoint]
) -> None:
    rewrite_body(backend, 15, body(backend, 15).replace(b'"pass"', b'"fail"'))
    rebuild_tree(backend)
    fails_at(
        check(backend, [log_key.verifier]),
        f"{log_key.name}@16",
        f"root got {checkpoints[2].root.hex()} (signed), expected ",
    )


def test_a_tampered_inner_tree_node_makes_proofs_refuse(
    backend: Backend, log_key: SigningKey, checkpoints: Any
) -> None:
    backend.execute("UPDATE tree_nodes SET hash = ? WHERE level = 0 AND idx = 3", (b"\0" * 32,))
    with backend.open() as ledger, pytest.raises(LedgerError, match="stored tree does not match"):
        prove(ledger, 2)


def test_checkpoint_columns_that_disagree_with_the_note(
    backend: Backend, log_key: SigningKey, checkpoints: Any
) -> None:
    backend.execute("UPDATE checkpoints SET tree_size = 9 WHERE tree_size = 10")
    fails_at(
        check(backend, [log_key.verifier]),
        f"{log_key.name}@9",
        f"stored columns disagree with the signed note, which says {log_key.name}@10",
    )


def test_a_forgery_re_hashed_and_signed_under_another_key(
    backend: Backend,
    other_backend: Backend,
    log_key: SigningKey,
    other_key: SigningKey,
    checkpoints: list[Checkpoint],
) -> None:
    # Same origin name, another key: everything self-consistent but the signatures.
    with other_backend.open() as forged:
        forged.append([entry(i, "pass") for i in range(20)], key=other_key)
        sign_checkpoint(forged, other_key)
    replace_with(backend, other_backend)
    assert check(backend).ok  # without the key, it looks fine: why --key matters
    fails_at(
        check(backend, [log_key.verifier]),
        f"{log_key.name}@20",
        f"signature: no signature by a trusted key: found {log_key.name} (key id "
        f"{other_key.verifier.id.hex()})",
    )


def test_a_rollback_to_an_older_checkpoint(
    backend: Backend, log_key: SigningKey, checkpoints: list[Checkpoint]
) -> None:
    roll_back(backend, 10)
    assert check(backend, [log_key.verifier]).ok  # self-consistent, as the backup was
    fails_at(
        check(backend, [log_key.verifier], trusted=checkpoints[2]),
        f"trusted checkpoint {log_key.name}@16",
        "covers 16 records, but the ledger has 10: the ledger was rolled back or truncated",
    )


def test_a_fork_re_signed_with_the_real_key(
    backend: Backend,
    other_backend: Backend,
    log_key: SigningKey,
    checkpoints: list[Checkpoint],
) -> None:
    # A stolen key can re-sign rewritten history; a checkpoint pinned before cannot be.
    with other_backend.open() as forked:
        forked.append([entry(i, "pass" if i != 3 else "waived") for i in range(5)], key=log_key)
        forked.append([entry(i) for i in range(11)], key=log_key)
        sign_checkpoint(forked, log_key)
    replace_with(backend, other_backend)
    assert check(backend, [log_key.verifier]).ok
    fails_at(
        check(backend, [log_key.verifier], trusted=checkpoints[1]),
        f"trusted checkpoint {log_key.name}@10",
        "(trusted): history before it was rewritten (a fork)",
    )


def test_removed_checkpoints_are_caught_by_the_trusted_one(
    backend: Backend, log_key: SigningKey, checkpoints: list[Checkpoint]
) -> None:
    backend.execute("DELETE FROM checkpoints WHERE tree_size > 5")
    fails_at(
        check(backend, [log_key.verifier], trusted=checkpoints[1]),
        f"trusted checkpoint {log_key.name}@10",
        f"no stored checkpoint covers it (latest: {log_key.name}@5)",
    )


def test_a_trusted_checkpoint_signed_by_another_key_is_refused(
    backend: Backend, log_key: SigningKey, other_key: SigningKey, checkpoints: Any
) -> None:
    with pytest.raises(ValueError, match="only be checked with"):
        check(backend, [], trusted=checkpoints[1])
    report = check(backend, [other_key.verifier], trusted=checkpoints[1])
    assert not report.ok and "signature" in str(report.error)


# --- key rotation ------------------------------------------------------------------------


@pytest.fixture
def rotated(
    backend: Backend, log_key: SigningKey, checkpoints: Any
) -> tuple[SigningKey, Checkpoint, Checkpoint]:
    new = SigningKey.generate("example.com/evidence/test-2")
    with backend.open() as ledger:
        final, first = rotate_key(ledger, log_key, new, "2024-06-01T00:00:00Z")
        ledger.append([entry(i) for i in range(4)], key=new)
        sign_checkpoint(ledger, new)
    return new, final, first


def test_a_verifier_trusting_the_old_key_follows_a_rotation(
    backend: Backend, log_key: SigningKey, rotated: tuple[SigningKey, Checkpoint, Checkpoint]
) -> None:
    new, final, first = rotated
    assert (final.origin, final.size, first.origin, first.size) == (log_key.name, 17, new.name, 17)
    report = check(backend, [log_key.verifier], trusted=final)
    assert report.ok, report.error
    assert report.latest is not None and report.latest.label == f"{new.name}@21"
    # The new key alone cannot vouch for the old origin's checkpoints.
    fails_at(check(backend, [new.verifier]), f"{log_key.name}@5", "no trusted key is named")


def test_a_retired_key_signing_after_its_rotation_is_refused(
    backend: Backend, log_key: SigningKey, rotated: tuple[SigningKey, Checkpoint, Checkpoint]
) -> None:
    with backend.open() as ledger:
        with pytest.raises(
            LedgerError, match=r"signed under origin 'example\.com/evidence/test-2'"
        ):
            sign_checkpoint(ledger, log_key)
        from assay.evidence.signing import _sign_at  # what a thief of the old key could do

        _sign_at(ledger, log_key, 21)
    fails_at(
        check(backend, [log_key.verifier]),
        f"{log_key.name}@21",
        "retired by the key_rotated record at seq 16: it may sign up to size 17 only",
    )


def test_a_rotation_the_old_key_never_endorsed_is_refused(
    backend: Backend, log_key: SigningKey, other_key: SigningKey, checkpoints: Any
) -> None:
    # An intruder appends a rotation to their own key and signs with it.
    intruder = SigningKey.generate("example.com/evidence/intruder")
    with backend.open() as ledger:
        ledger.append(
            [{"kind": "key_rotated", "from": str(log_key.verifier), "to": str(intruder.verifier)}]
        )
        from assay.evidence.signing import _sign_at

        _sign_at(ledger, intruder, 17)
    fails_at(
        check(backend, [log_key.verifier]),
        f"{intruder.name}@17",
        "no checkpoint by the previous key",
    )
