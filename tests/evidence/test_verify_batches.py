"""The walk's batches: a full, aligned batch is taken a list at a time (its subtree a
level at a time); any doubt sends it one record at a time. Both must give what RFC 6962
gives, and name the same first bad record or tree node, wherever in a batch it is."""

from __future__ import annotations

import hashlib

import pytest
from evidence_backends import Backend

from assay.evidence import verify_ledger
from assay.evidence._scan import scan
from assay.evidence.record import RECORD_VERSION
from assay.evidence.verify import BATCH, BATCH_LEVEL, Walk, walk

SIZE = 3 * BATCH + 37
SIZES = {0, 1, BATCH - 1, BATCH, BATCH + 1, BATCH + 188, 2 * BATCH, 2 * BATCH + 300, SIZE}


def mth(leaves: list[bytes]) -> bytes:
    """RFC 6962's Merkle tree hash, by its definition."""
    if len(leaves) == 1:
        return leaves[0]
    if not leaves:
        return hashlib.sha256(b"").digest()
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + mth(leaves[:split]) + mth(leaves[split:])).digest()


@pytest.fixture
def ledger(backend: Backend) -> Backend:
    with backend.open() as opened:
        # A key outside ASCII, which the batch check leaves to Python, puts a batch on
        # the one-by-one path; the rest are taken whole.
        opened.append(
            [
                {"kind": "key_rotated" if i == BATCH + 5 else "result", "n": i}
                | ({"Zoë": 1} if i == 2 * BATCH + 7 else {})
                for i in range(SIZE)
            ]
        )
    return backend


def walked(backend: Backend) -> Walk:
    with backend.open() as opened:
        return walk(opened.batch, SIZES, tree=opened)


def leaves(backend: Backend) -> list[bytes]:
    with backend.open() as opened:
        return [hashlib.sha256(b"\x00" + r.body).digest() for r in opened.records()]


def test_roots_at_every_size_are_rfc_6962s(ledger: Backend) -> None:
    found = walked(ledger)
    assert found.error is None and found.tree_error is None
    assert found.records == SIZE
    assert [seq for seq, _ in found.rotations] == [BATCH + 5]
    hashes = leaves(ledger)
    assert found.roots == {size: mth(hashes[:size]) for size in SIZES}
    assert found.root == mth(hashes)


@pytest.mark.parametrize(
    "seq", [BATCH + 1, BATCH + BATCH // 2, 2 * BATCH - 1, 2 * BATCH + 7, 3 * BATCH + 3]
)
def test_an_edited_body_anywhere_in_a_batch_is_the_first_bad_seq(ledger: Backend, seq: int) -> None:
    ledger.execute("UPDATE records SET body = body || ' ' WHERE seq = ?", (seq,))
    found = walked(ledger)
    assert found.error is not None
    assert (found.error.seq, found.records) == (seq, seq)
    assert found.error.message.startswith("stored hash got")
    hashes = leaves(ledger)
    assert found.roots == {size: mth(hashes[:size]) for size in SIZES if size <= seq}


def test_a_rehashed_body_with_a_json_true_version_fails_in_a_full_batch(ledger: Backend) -> None:
    # The last of a full batch: the next record's broken link is in the next batch.
    seq = 2 * BATCH - 1
    with ledger.open() as opened:
        body = next(opened.records(seq)).body
    forged = body.replace(b'"v":1', b'"v":true')
    ledger.execute(
        "UPDATE records SET body = ?, hash = ? WHERE seq = ?",
        (forged, hashlib.sha256(forged).digest(), seq),
    )
    found = walked(ledger)
    assert found.error is not None
    assert found.error.seq == seq
    assert found.error.message == "body v got True, expected 1"


@pytest.mark.parametrize(
    ("level", "index"),
    [
        (0, BATCH + 3),
        (1, (BATCH + 6) >> 1),
        (BATCH_LEVEL - 1, 3),  # the second half of the second batch
        (BATCH_LEVEL, 1),  # the second batch's root
        (BATCH_LEVEL + 1, 0),  # above the batches: completed by the second one
        (0, 3 * BATCH + 20),  # in the short last batch
    ],
)
def test_a_stored_tree_node_at_any_level_is_compared(
    ledger: Backend, level: int, index: int
) -> None:
    ledger.execute(
        "UPDATE tree_nodes SET hash = ? WHERE level = ? AND idx = ?",
        (b"\x07" * 32, level, index),
    )
    with ledger.open() as opened:
        report = verify_ledger(opened)
    assert not report.ok
    assert str(report.error).startswith(
        f"tree: tree node (level {level}, index {index}) got {'07' * 32}, expected "
    )


def test_a_missing_tree_node_inside_a_batch_is_named(ledger: Backend) -> None:
    ledger.execute("DELETE FROM tree_nodes WHERE level = 2 AND idx = ?", ((BATCH + 40) >> 2,))
    with ledger.open() as opened:
        report = verify_ledger(opened)
    assert not report.ok
    assert str(report.error).startswith(
        f"tree: tree node (level 2, index {(BATCH + 40) >> 2}) is missing"
    )


# A batch is read as one value per column joined across its rows, so what a tamperer
# stores must not line up into a batch the rows themselves would fail.


def test_a_hash_that_takes_the_start_of_its_body_is_caught(ledger: Backend) -> None:
    # The row's hash and body, joined, are the good line; the columns are not.
    seq = BATCH + 9
    body = ledger.execute("SELECT body FROM records WHERE seq = ?", (seq,))[0][0]
    digest = hashlib.sha256(body).digest()
    ledger.execute(
        "UPDATE records SET hash = ?, body = ? WHERE seq = ?", (digest + body[:1], body[1:], seq)
    )
    found = walked(ledger)
    assert found.error is not None and found.error.seq == seq
    assert found.error.message.startswith("stored hash got")


def test_a_hash_stored_as_text_of_32_characters_but_more_bytes_is_caught(
    ledger: Backend,
) -> None:
    if ledger.name != "sqlite":
        pytest.skip("only SQLite stores a value of another type than its column's")
    seq = BATCH + 9
    ledger.execute("UPDATE records SET hash = ? WHERE seq = ?", ("a" * 31 + "é", seq))
    found = walked(ledger)
    assert found.error is not None and found.error.seq == seq
    assert found.error.message.startswith(f"stored hash got {('a' * 31 + 'é').encode().hex()},")


def test_tree_nodes_that_trade_a_byte_are_caught(ledger: Backend) -> None:
    # Concatenated, the two nodes are the two the records give; each alone is not.
    first, second = ledger.execute(
        "SELECT hash FROM tree_nodes WHERE level = 0 AND idx IN (?, ?) ORDER BY idx",
        (BATCH + 4, BATCH + 5),
    )
    ledger.execute(
        "UPDATE tree_nodes SET hash = ? WHERE level = 0 AND idx = ?", (first[0][:31], BATCH + 4)
    )
    ledger.execute(
        "UPDATE tree_nodes SET hash = ? WHERE level = 0 AND idx = ?",
        (first[0][31:] + second[0], BATCH + 5),
    )
    with ledger.open() as opened:
        report = verify_ledger(opened)
    assert not report.ok
    assert str(report.error).startswith(f"tree: tree node (level 0, index {BATCH + 4}) got ")


@pytest.mark.parametrize(
    ("tamper", "params", "seq", "got"),
    [
        # a row before the first, in a batch that is otherwise whole
        ("INSERT INTO records SELECT -1, prev, hash, body FROM records WHERE seq = 0", (), 0, -1),
        # a whole batch missing: a gap, not the end
        ("DELETE FROM records WHERE seq >= ? AND seq < ?", (BATCH, 2 * BATCH), BATCH, 2 * BATCH),
        # a row far past the last
        (
            "INSERT INTO records SELECT ?, prev, hash, body FROM records WHERE seq = 3",
            (10 * BATCH,),
            SIZE,
            10 * BATCH,
        ),
    ],
)
def test_a_row_out_of_place_is_named_wherever_the_batches_fall(
    ledger: Backend, tamper: str, params: tuple[int, ...], seq: int, got: int
) -> None:
    ledger.execute(tamper, params)
    found = walked(ledger)
    assert found.error is not None
    assert (found.error.seq, found.error.message) == (seq, f"row seq got {got}, expected {seq}")


def test_a_clean_batch_is_read_as_one_value_and_taken_whole(ledger: Backend) -> None:
    # Whatever the database, the batch read must line up, or every record would go the
    # slow way, one by one, and still verify.
    with ledger.open() as opened:
        before = opened.record(BATCH - 1)
        batch = opened.batch(BATCH, BATCH)
        assert before is not None and batch is not None and batch.data is not None
        rows = batch.rows()
    assert batch.count == len(rows) == BATCH
    found = scan(
        batch.data, BATCH, BATCH, before.hash.encode(), True, False, True, RECORD_VERSION, ()
    )
    assert found is not None
    levels, head, _, _ = found
    assert head == hashlib.sha256(rows[-1][2]).hexdigest()
    assert levels[0] == b"".join(leaves(ledger)[BATCH : 2 * BATCH])
