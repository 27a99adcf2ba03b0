"""`canonical.parse_many`: a batch vouched for at once only when every body is canonical
on its own; anything it cannot vouch for goes back to `parse_canonical`, one by one."""

from __future__ import annotations

import pytest

from assay.evidence.canonical import CanonicalError, canonical, parse_canonical, parse_many

GOOD = [
    canonical({"kind": "result", "n": i, "s": "CC6.1", "z": [1, {"a": None}]}) for i in range(5)
]


def test_a_batch_of_canonical_records_parses_as_each_would() -> None:
    assert parse_many(GOOD) == [parse_canonical(body) for body in GOOD]


@pytest.mark.parametrize(
    "bad",
    [
        b'{"b":1,"a":2}',  # keys out of order
        b'{"a":1 }',  # whitespace
        b' {"a":1}',  # whitespace around the value
        b'{"a":1,"a":1}',  # a duplicate key
        b'{"a":1.5}',  # a float
        b'{"a":9007199254740993}',  # beyond 53 bits
        b'{"a":"\\u0041"}',  # an escape JCS does not make
        b'{"a":"\xc3\xa9"}',  # not ASCII: the slow path decides
        b"[1]",  # not an object
        b'{"a":1}{"b":2}',  # two values in one body
    ],
)
def test_one_body_the_shortcut_cannot_vouch_for_sends_the_batch_back(bad: bytes) -> None:
    assert parse_many([*GOOD[:2], bad, *GOOD[2:]]) is None


def test_bodies_that_only_together_make_records_are_refused() -> None:
    # Joined by commas they parse into as many canonical objects as there are lines,
    # but no line is one record.
    lines = [b'{"x":[{"a":1}', b'{"b":2}]}', b'{"c":1},{"d":2}']
    assert parse_many(lines) is None
    for line in lines:
        with pytest.raises(CanonicalError):
            parse_canonical(line)


def test_a_float_pattern_inside_a_string_still_parses() -> None:
    bodies = [canonical({"reason": "version 1.2, then 3e+5]"}), *GOOD]
    assert parse_many(bodies) == [parse_canonical(body) for body in bodies]
