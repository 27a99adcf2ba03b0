"""Tampering with the stored records directly (never through the API) and what verify says.

Every test runs on each backend (`evidence_backends.BACKENDS`), through the raw
connection a tamperer with the database would use.
"""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from evidence_backends import Backend

from assay.evidence import GENESIS_PREV, StoredRecord, VerifyReport, verify
from assay.evidence.record import seal
from assay.evidence.verify import BATCH

RECORDS = 10


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


@pytest.fixture
def ledger(backend: Backend) -> Backend:
    with backend.open() as opened:
        opened.append(
            [
                {"kind": "result", "at": "2024-05-01T02:00:00Z", "status": "pass", "n": i}
                for i in range(RECORDS)
            ]
        )
    return backend


def body(raw: Backend, seq: int) -> bytes:
    (value,) = raw.execute("SELECT body FROM records WHERE seq = ?", (seq,))[0]
    return bytes(value)


def stored_hash(raw: Backend, seq: int) -> str:
    (value,) = raw.execute("SELECT hash FROM records WHERE seq = ?", (seq,))[0]
    return bytes(value).hex()


def rewrite(raw: Backend, seq: int, new_body: bytes, *, fix_hash: bool) -> None:
    raw.execute("UPDATE records SET body = ? WHERE seq = ?", (new_body, seq))
    if fix_hash:
        raw.execute("UPDATE records SET hash = ? WHERE seq = ?", (sha256(new_body), seq))


def verify_file(raw: Backend) -> VerifyReport:
    with raw.open() as opened:
        return verify(opened.records())


def assert_fails(raw: Backend, seq: int, message: str) -> VerifyReport:
    report = verify_file(raw)
    assert not report.ok
    assert report.first_bad_seq == seq, report.message
    assert report.message is not None
    assert report.message.startswith(message), report.message
    assert report.records == seq
    assert str(report.error) == f"seq {seq}: {report.message}"
    return report


def test_an_untouched_ledger_verifies(ledger: Backend) -> None:
    report = verify_file(ledger)
    with ledger.open() as opened:
        head = opened.head()
    assert head is not None
    assert report == VerifyReport(ok=True, records=RECORDS, head=head.hash)
    assert report.as_dict() == {
        "ok": True,
        "records": RECORDS,
        "head": head.hash,
        "first_bad_seq": None,
        "message": None,
    }


def test_an_empty_chain_verifies() -> None:
    assert verify([]) == VerifyReport(ok=True, records=0, head=None)


def test_one_edited_byte_in_a_body(ledger: Backend) -> None:
    original = body(ledger, 4)
    rewrite(ledger, 4, original.replace(b'"pass"', b'"fail"'), fix_hash=False)

    report = assert_fails(ledger, 4, f"stored hash got {stored_hash(ledger, 4)}, expected ")
    assert report.message is not None
    assert report.message.endswith("(SHA-256 of the stored body)")


def test_an_edited_body_with_a_recomputed_hash_breaks_the_next_link(ledger: Backend) -> None:
    old_hash = stored_hash(ledger, 4)
    new_body = body(ledger, 4).replace(b'"pass"', b'"fail"')
    rewrite(ledger, 4, new_body, fix_hash=True)

    assert_fails(
        ledger,
        5,
        f"body prev got '{old_hash}', expected {sha256(new_body).hex()} (hash of record 4)",
    )


def test_a_deleted_row(ledger: Backend) -> None:
    ledger.execute("DELETE FROM records WHERE seq = 6")
    assert_fails(ledger, 6, "row seq got 7, expected 6")


def test_a_deleted_first_row(ledger: Backend) -> None:
    ledger.execute("DELETE FROM records WHERE seq = 0")
    assert_fails(ledger, 0, "row seq got 1, expected 0")


def test_a_truncated_tail_is_not_caught_by_the_chain_alone(ledger: Backend) -> None:
    # Pinned on purpose: catching this is the job of signed checkpoints, not the chain.
    ledger.execute(f"DELETE FROM records WHERE seq = {RECORDS - 1}")
    report = verify_file(ledger)
    assert (report.ok, report.records) == (True, RECORDS - 1)


def test_a_row_inserted_in_the_middle(ledger: Backend) -> None:
    # Make room at seq 3 by renumbering, then forge a record that links to record 2.
    for seq in range(RECORDS - 1, 2, -1):
        ledger.execute("UPDATE records SET seq = ? WHERE seq = ?", (seq + 1, seq))
    forged = seal({"kind": "result", "status": "pass", "n": 99}, 3, stored_hash(ledger, 2))
    ledger.execute(
        "INSERT INTO records (seq, prev, hash, body) VALUES (3, ?, ?, ?)",
        (bytes.fromhex(stored_hash(ledger, 2)), bytes.fromhex(forged.hash), forged.body),
    )

    # The forgery itself is self-consistent; the record after it gives it away.
    assert_fails(ledger, 4, "body seq got 3, expected 4")


def test_a_row_appended_behind_the_ledgers_back(ledger: Backend) -> None:
    forged = seal({"kind": "result", "status": "pass"}, RECORDS, "ab" * 32)
    ledger.execute(
        "INSERT INTO records (seq, prev, hash, body) VALUES (?, ?, ?, ?)",
        (RECORDS, bytes.fromhex(forged.hash), bytes.fromhex(forged.hash), forged.body),
    )
    assert_fails(ledger, RECORDS, f"body prev got '{'ab' * 32}', expected ")


def test_a_row_slipped_in_before_the_first(ledger: Backend) -> None:
    forged = seal({"kind": "result"}, 0, GENESIS_PREV)
    ledger.execute(
        "INSERT INTO records (seq, prev, hash, body) VALUES (-1, ?, ?, ?)",
        (b"\x01" * 32, bytes.fromhex(forged.hash), forged.body),
    )
    assert_fails(ledger, 0, "row seq got -1, expected 0")


def test_two_rows_swapped(ledger: Backend) -> None:
    two, three = (
        (body(ledger, 2), stored_hash(ledger, 2)),
        (body(ledger, 3), stored_hash(ledger, 3)),
    )
    for seq, (moved_body, moved_hash) in ((2, three), (3, two)):
        ledger.execute(
            "UPDATE records SET body = ?, hash = ? WHERE seq = ?",
            (moved_body, bytes.fromhex(moved_hash), seq),
        )
    assert_fails(ledger, 2, "body seq got 3, expected 2")


def test_two_bodies_swapped_under_their_hashes(ledger: Backend) -> None:
    two, three = body(ledger, 2), body(ledger, 3)
    rewrite(ledger, 2, three, fix_hash=False)
    rewrite(ledger, 3, two, fix_hash=False)
    assert_fails(
        ledger, 2, f"stored hash got {stored_hash(ledger, 2)}, expected {sha256(three).hex()}"
    )


def test_a_duplicate_key_variant_of_a_body(ledger: Backend) -> None:
    # A reader keeping the last value would see "fail"; one keeping the first, "pass".
    original = body(ledger, 3)
    assert original.endswith(b',"status":"pass","v":1}')
    rewrite(ledger, 3, original[:-1] + b',"status":"fail"}', fix_hash=True)
    assert_fails(ledger, 3, "body is not a canonical record: duplicate key 'status'")


def test_a_body_re_encoded_with_whitespace(ledger: Backend) -> None:
    rewrite(ledger, 1, body(ledger, 1).replace(b'"kind":', b'"kind": '), fix_hash=True)
    assert_fails(ledger, 1, "body is not a canonical record: bytes differ from the canonical")


def test_an_edited_hash_column(ledger: Backend) -> None:
    ledger.execute("UPDATE records SET hash = ? WHERE seq = 7", (b"\x00" * 32,))
    assert_fails(
        ledger, 7, f"stored hash got {'00' * 32}, expected {sha256(body(ledger, 7)).hex()}"
    )


def test_a_hash_column_rewritten_as_text(ledger: Backend) -> None:
    if ledger.name != "sqlite":
        pytest.skip("only SQLite lets a BLOB column hold text")
    ledger.execute("UPDATE records SET hash = 'nope' WHERE seq = 2")
    assert_fails(ledger, 2, f"stored hash got {b'nope'.hex()}, expected ")


def test_a_body_seq_of_true_is_not_seq_1(ledger: Backend) -> None:
    # JSON true == 1 in Python; the verifier must not be fooled by it.
    rewrite(ledger, 1, body(ledger, 1).replace(b'"seq":1,', b'"seq":true,'), fix_hash=True)
    assert_fails(ledger, 1, "body seq got True, expected 1")


def test_an_unknown_record_version(ledger: Backend) -> None:
    rewrite(ledger, 5, body(ledger, 5).replace(b'"v":1}', b'"v":2}'), fix_hash=True)
    assert_fails(ledger, 5, "body v got 2, expected 1")


def test_a_body_without_prev(ledger: Backend) -> None:
    without = body(ledger, 0).replace(b'"prev":"' + b"0" * 64 + b'",', b"")
    rewrite(ledger, 0, without, fix_hash=True)
    assert_fails(ledger, 0, f"body prev got nothing, expected {GENESIS_PREV} (genesis value)")


# --- streaming --------------------------------------------------------------------------


def chain(length: int) -> Iterator[StoredRecord]:
    prev = GENESIS_PREV
    for seq in range(length):
        record = seal({"kind": "result", "status": "pass", "n": seq}, seq, prev)
        prev = record.hash
        yield record


def peak_memory(run: Any) -> int:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_verify_memory_does_not_grow_with_the_chain() -> None:
    assert verify(chain(5_000)).records == 5_000  # also warms caches up
    # Records are checked a batch at a time (verify.BATCH): memory is flat beyond one.
    small = peak_memory(lambda: verify(chain(2 * BATCH)))
    large = peak_memory(lambda: verify(chain(5_000)))
    held = peak_memory(lambda: list(chain(5_000)))
    # Holding the 5,000 records takes megabytes; streaming them, a few kilobytes.
    assert held > 1_000_000
    assert large < small + 50_000
