"""`_scan.scan`, the walk's batch check in C: it may send a batch back to Python (None)
for any doubt, but must never take what the one-record-at-a-time checks refuse, and
must take the records assay writes, so verification stays fast."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.evidence import merkle
from assay.evidence._scan import SHA_EXTENSIONS, count_lines, line_end, scan
from assay.evidence.bundle.records import line_batches
from assay.evidence.canonical import CanonicalError, canonical, parse_canonical
from assay.evidence.record import GENESIS_PREV, RECORD_VERSION, Row, claimed_time
from assay.evidence.verify import row_batches

KINDS = (b"key_rotated", b"tail_adopted")


def chain(bodies: list[dict[str, Any]], first: int = 0, prev: str = GENESIS_PREV) -> list[Row]:
    """Rows of a chain from seq `first` whose bodies carry `bodies`' fields."""
    rows = []
    for seq, fields in enumerate(bodies, first):
        body = canonical({**fields, "v": RECORD_VERSION, "seq": seq, "prev": prev})
        digest = hashlib.sha256(body).digest()
        rows.append((seq, digest, body))
        prev = digest.hex()
    return rows


def lines(rows: list[Row], hashed: bool = True) -> bytes:
    """The rows as a batch's data: a line each, its stored hash (`hashed`) and body."""
    return b"\n".join(row[1] + row[2] if hashed else row[2] for row in rows)


def scan_rows(
    rows: list[Row],
    first: int = 0,
    prev: str = GENESIS_PREV,
    *,
    times: bool = False,
    subtree: bool = False,
    hashed: bool = True,
    version: int = RECORD_VERSION,
) -> Any:
    return scan(
        lines(rows, hashed),
        len(rows),
        first,
        prev.encode(),
        hashed,
        times,
        subtree,
        version,
        KINDS,
    )


def one(body: bytes, seq: int = 7, prev: str = GENESIS_PREV, stored: bytes | None = None) -> Any:
    row = (seq, hashlib.sha256(body).digest() if stored is None else stored, body)
    return scan_rows([row], seq, prev, times=True)


def python_takes(body: bytes, seq: int = 7, prev: str = GENESIS_PREV) -> bool:
    """What the one-by-one walk decides for this body (`verify.one_by_one`'s checks)."""
    try:
        value = parse_canonical(body)
    except CanonicalError:
        return False
    return (
        type(value.get("v")) is int
        and value["v"] == RECORD_VERSION
        and type(value.get("seq")) is int
        and value["seq"] == seq
        and value.get("prev") == prev
    )


def record(**fields: Any) -> bytes:
    return canonical({"v": RECORD_VERSION, "seq": 7, "prev": GENESIS_PREV, **fields})


def test_a_full_batch_gives_the_leaves_the_subtree_and_the_head() -> None:
    rows = chain(
        [
            {"kind": "key_rotated" if i == 3 else "result", "observed_at": f"t{i}", "name": "Zoë"}
            for i in range(8)
        ]
    )
    found = scan_rows(rows, times=True, subtree=True)
    assert found is not None
    levels, head, noted, claimed = found
    leaves = [merkle.leaf_hash(row[2]) for row in rows]
    assert levels[0] == b"".join(leaves)
    assert [len(level) for level in levels] == [8 * 32, 4 * 32, 2 * 32, 32]
    assert levels[1][:32] == merkle.node_hash(leaves[0], leaves[1])
    tree = merkle.Frontier()
    for leaf in leaves:
        tree.push(leaf)
    assert levels[-1] == merkle.fold(tree.hashes())
    assert head == rows[-1][1].hex()
    assert noted == [3]
    assert claimed == [f"t{i}" for i in range(8)]


def every_length() -> list[Row]:
    """A full batch of 256 records whose bodies take every length modulo 64 four times
    over: every way a body, and its leaf's copy one byte longer, fall into 64-byte blocks
    (one message may need a block more than the other)."""
    return chain([{"pad": "x" * n} for n in range(256)])


def levels_of(rows: list[Row]) -> list[bytes]:
    """The Merkle tree over the rows' bodies, a level a value, as hashlib gives it."""
    level = [merkle.leaf_hash(row[2]) for row in rows]
    levels = [b"".join(level)]
    while len(level) > 1:
        level = [merkle.node_hash(a, b) for a, b in zip(level[::2], level[1::2], strict=True)]
        levels.append(b"".join(level))
    return levels


def test_bodies_of_every_length_hash_as_hashlib_does() -> None:
    rows = every_length()
    assert len({len(row[2]) % 64 for row in rows}) == 64
    found = scan_rows(rows, subtree=True)
    # Not None: every stored hash, hashlib's, matched the scan's.
    assert found is not None
    assert found[0] == levels_of(rows)
    assert found[1] == rows[-1][1].hex()


_SCAN_STDIN = """
import json, sys
from assay.evidence._scan import SHA_EXTENSIONS, scan
found = scan(sys.stdin.buffer.read(), 256, 0, sys.argv[1].encode(), True, False, True, 1, ())
print(json.dumps([SHA_EXTENSIONS, None if found is None else [v.hex() for v in found[0]]]))
"""


@pytest.mark.parametrize("setting", ["0", "1"])
def test_the_sha_extensions_and_openssl_hash_alike(setting: str) -> None:
    """ASSAY_SHA_EXTENSIONS=0 turns the two-at-a-time hashing off: both ways give hashlib's."""
    rows = every_length()
    done = subprocess.run(
        [sys.executable, "-c", _SCAN_STDIN, GENESIS_PREV],
        input=lines(rows),
        capture_output=True,
        check=True,
        env={**os.environ, "ASSAY_SHA_EXTENSIONS": setting},
    )
    extensions, levels = json.loads(done.stdout)
    assert extensions == (SHA_EXTENSIONS if setting == "1" else 0)
    assert levels == [level.hex() for level in levels_of(rows)]


def test_the_sha_extensions_are_used_where_the_cpu_has_them() -> None:
    """Otherwise a CPU check gone wrong would only make verification slower."""
    cpuinfo = Path("/proc/cpuinfo")
    if platform.machine() not in ("x86_64", "AMD64") or not cpuinfo.exists():
        pytest.skip("the SHA extensions are x86's, found in /proc/cpuinfo here")
    flags = next(line for line in cpuinfo.read_text().splitlines() if line.startswith("flags"))
    has_them = "sha_ni" in flags.split()
    assert bool(SHA_EXTENSIONS) is has_them


def test_the_claimed_time_is_the_records_own() -> None:
    bodies = [{"at": "a"}, {"observed_at": "o", "at": "a"}, {"observed_at": 5, "at": "a"}, {}]
    rows = chain(bodies)
    found = scan_rows(rows, times=True)
    assert found is not None
    assert (
        found[3]
        == [claimed_time(parse_canonical(row[2])) for row in rows]
        == [
            "a",
            "o",
            None,
            None,
        ]
    )


def test_a_chain_from_later_on_links_to_the_prev_it_is_given() -> None:
    rows = chain([{"n": i} for i in range(3)], first=40, prev="ab" * 32)
    assert scan_rows(rows, 40, "ab" * 32) is not None
    assert scan_rows(rows, 40) is None
    assert scan_rows(rows, 41, "ab" * 32) is None
    assert scan_rows(rows, 40, "ab" * 32, version=2) is None


def test_the_last_line_may_end_with_a_newline_or_not() -> None:
    rows = chain([{"n": i} for i in range(3)])
    for data in (lines(rows), lines(rows) + b"\n"):
        found = scan(data, 3, 0, GENESIS_PREV.encode(), True, False, False, 1, KINDS)
        assert found is not None and found[1] == rows[-1][1].hex()


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data.replace(b"\n", b"\n\n", 1),  # an empty line
        lambda data: data + b"\n\n",  # an empty line after the last
        lambda data: data + b"\n" + data[: data.index(b"\n")],  # a line more
        lambda data: data[: data.rindex(b"\n")],  # a line less
        lambda data: data[:-1],  # the last line cut short
        lambda data: data[1:],  # a hash cut short: every line is read askew
        lambda data: b"\x00" * 32 + data[32:],  # a stored hash
        lambda data: data.replace(b"\n", b"\r\n", 1),
    ],
)
def test_a_damaged_batch_is_sent_back(damage: Any) -> None:
    rows = chain([{"n": i} for i in range(4)])
    data = damage(lines(rows))
    assert scan(data, 4, 0, GENESIS_PREV.encode(), True, False, False, 1, KINDS) is None


@pytest.mark.parametrize(
    "damage",
    [
        lambda rows: rows.__setitem__(1, (1, rows[1][1][:31], rows[1][2])),  # short hash
        lambda rows: rows.__setitem__(1, (5, *rows[1][1:])),  # row seq
        lambda rows: rows.__setitem__(1, (1, rows[1][1], bytearray(rows[1][2]))),  # not bytes
        lambda rows: rows.__setitem__(1, (1, rows[1][1].hex(), rows[1][2])),  # a str hash
        lambda rows: rows.__delitem__(1),  # a gap
    ],
)
def test_rows_that_are_not_a_clean_batch_go_one_by_one(damage: Any) -> None:
    rows = chain([{"n": i} for i in range(4)])
    damage(rows)
    batch = row_batches(rows)(0, 4)
    assert batch is not None and batch.data is None and batch.rows() == rows


def test_an_empty_batch_or_no_stored_hash_to_check() -> None:
    assert scan(b"", 0, 0, b"", True, False, False, RECORD_VERSION, KINDS) is None
    rows = [(seq, b"", body) for seq, _, body in chain([{"n": 1}, {"n": 2}])]
    assert scan_rows(rows, hashed=False) is not None
    assert scan_rows(rows, hashed=True) is None


GOOD = record(kind="result", name="Zoë", n=-12, z=[1, {"a": None, "b": True}], e="\n\u0001")


@pytest.mark.parametrize(
    "body",
    [
        b'{"b":1,"a":2}',  # keys out of order
        b'{"a":1,"a":1}',  # a repeated key
        record(a=1).replace(b":1", b": 1"),  # whitespace
        b" " + record(a=1),  # whitespace around the value
        record(a=1) + b"\n",
        record(a=1) + b'{"b":2}',  # two values
        record(a=1).replace(b'"a":1', b'"a":1.5'),  # a float
        record(a=1).replace(b'"a":1', b'"a":1.0'),
        record(a=1).replace(b'"a":1', b'"a":1e5'),
        record(a=1).replace(b'"a":1', b'"a":9007199254740992'),  # beyond 53 bits
        record(a=1).replace(b'"a":1', b'"a":-9007199254740992'),
        record(a=1).replace(b'"a":1', b'"a":01'),  # a leading zero
        record(a=1).replace(b'"a":1', b'"a":-0'),  # negative zero
        record(a=1).replace(b'"a":1', b'"a":+1'),
        record(a=1).replace(b'"a":1', b'"a":"\\u0041"'),  # an escape JCS does not make
        record(a=1).replace(b'"a":1', b'"a":"\\/"'),
        record(a=1).replace(b'"a":1', b'"a":"\\u000a"'),  # \n has a short form
        record(a=1).replace(b'"a":1', b'"a":"\\u001F"'),  # upper-case hex
        record(a=1).replace(b'"a":1', b'"a":"\x01"'),  # a raw control character
        record(a=1).replace(b'"a":1', b'"a":"\xc0\xaf"'),  # an overlong form
        record(a=1).replace(b'"a":1', b'"a":"\xed\xa0\x80"'),  # a surrogate
        record(a=1).replace(b'"a":1', b'"a":"\xf4\x90\x80\x80"'),  # past U+10FFFF
        record(a=1).replace(b'"a":1', b'"a":"\xe2\x82"'),  # cut short
        record(a=1).replace(b'"a":1', b'"a":"\xff"'),
        record(a=1).replace(b'"a":1', b'"a":tru'),
        record(a=1).replace(b'"a":1', b'"a":[1,]'),
        record(a=1).replace(b'"a":1', b'"a":{"b":1,}'),
        record(a=1)[:-1],  # truncated
        record(a=1).replace(b'"a":1', b'"a":"x'),
        b"[1]",  # not an object
        b"",
        canonical({"seq": 7, "prev": GENESIS_PREV}),  # no v
        record(a=1).replace(b'"v":1', b'"v":true'),  # v is not an integer
        record(a=1).replace(b'"v":1', b'"v":2'),
        record(a=1).replace(b'"seq":7', b'"seq":"7"'),
        record(a=1).replace(b'"seq":7', b'"seq":8'),
        record(a=1).replace(b'"prev":"0', b'"prev":"1'),
        record(a=1).replace(b'"prev":"' + GENESIS_PREV.encode() + b'"', b'"prev":null'),
    ],
)
def test_what_the_python_checks_refuse_the_scan_refuses(body: bytes) -> None:
    assert not python_takes(body)
    assert one(body) is None


@pytest.mark.parametrize(
    "body",
    [
        record(**{"é": 1}),  # a key outside ASCII: JCS orders keys by UTF-16
        record(a='\u0000\b\t\n\f\r\u001f"\\'),  # every escape JCS makes
        record(a=[[[[[[]]]]]], b={"c": {}}),
        record(a=2**53 - 1, b=-(2**53 - 1), c=0),
        record(a="\U0001f600\u2028\u007f\uffff"),
    ],
)
def test_valid_records_outside_and_inside_the_fast_path(body: bytes) -> None:
    assert python_takes(body)
    found = one(body)
    assert (found is None) == (b'"\xc3\xa9"' in body)


def test_deep_nesting_is_left_to_python() -> None:
    deep: Any = 1
    for _ in range(70):
        deep = [deep]
    assert python_takes(record(a=deep)) and one(record(a=deep)) is None


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_the_scan_takes_exactly_the_records_whose_keys_are_plain(fields: dict[str, Any]) -> None:
    body = record(**{k: v for k, v in fields.items() if k not in {"v", "seq", "prev"}})
    assert (one(body) is not None) == plain_keys(body)


def plain_keys(body: bytes) -> bool:
    """Every key ASCII and written without an escape: what the scan orders by bytes."""
    return all(
        key.isascii() and all(c >= " " and c not in '"\\' for c in key)
        for key in _keys(parse_canonical(body))
    )


def _keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [*value, *(k for item in value.values() for k in _keys(item))]
    if isinstance(value, list):
        return [k for item in value for k in _keys(item)]
    return []


@settings(max_examples=1500, deadline=None)
@given(st.data())
def test_damaged_bytes_are_taken_only_if_python_takes_them(data: st.DataObject) -> None:
    body = bytearray(GOOD)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(body)))
        action = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        byte = data.draw(st.integers(0, 255))
        if action == "insert":
            body.insert(at, byte)
        elif at < len(body):
            if action == "delete":
                del body[at]
            else:
                body[at] = byte
    damaged = bytes(body)
    taken = python_takes(damaged)
    if one(damaged) is not None:
        assert taken
    elif taken:  # only a key that is not plain may make the scan unsure of a good record
        assert not plain_keys(damaged)


def test_a_bundles_lines_are_cut_into_batches_the_scan_takes() -> None:
    rows = chain([{"n": i} for i in range(10)], first=20, prev="ab" * 32)
    data = lines(rows, hashed=False) + b"\n"
    take = line_batches(data, stop=30)
    first = take(20, 4)
    assert first is not None and bytes(first.data or b"") == lines(rows[:4], False) + b"\n"
    found = scan(first.data, 4, 20, b"ab" * 32, False, False, False, RECORD_VERSION, KINDS)
    assert found is not None and found[1] == rows[3][1].hex()
    rest = take(24, 6)  # reaches the chunk's stop: runs to its end
    assert rest is not None and bytes(rest.data or b"") == lines(rows[4:], False) + b"\n"
    assert rest.rows() == [(seq, b"", body) for seq, _, body in rows[4:]]
    assert take(30, 2) is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64).map(lambda b: b.replace(b"x", b"\n")), st.data())
def test_lines_are_counted_and_cut_as_bytes_does(data: bytes, draw: st.DataObject) -> None:
    assert count_lines(data) == data.count(b"\n") == count_lines(memoryview(data))
    start = draw.draw(st.integers(0, len(data)))
    lines = draw.draw(st.integers(1, 6))
    at = start - 1
    for _ in range(lines):
        at = data.find(b"\n", at + 1) if at + 1 <= len(data) else -1
        if at < 0:
            break
    assert line_end(data, start, lines) == (at + 1 if at >= 0 else -1)


def test_a_cut_outside_the_data_is_refused() -> None:
    for start, lines in ((-1, 1), (4, 1), (0, 0)):
        with pytest.raises(ValueError):
            line_end(b"a\nb", start, lines)
