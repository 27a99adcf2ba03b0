"""The orjson shortcut in `parse_canonical`, differential-tested against rfc8785.

The shortcut may say "not sure" (None) at will; it must never accept bytes that are
not exactly the RFC 8785 encoding of a value in the record profile.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import orjson
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.evidence.canonical import MAX_SAFE_INT, CanonicalError, _fast_parse, canonical

_ascii = st.text(
    alphabet=st.sampled_from(list('abcAZ019 ."\\/:,[]{}-+eE\x00\x1f\x7f\n\t')), max_size=8
)
_any_text = st.one_of(_ascii, st.text(max_size=4))
_numbers = st.one_of(
    st.integers(min_value=-MAX_SAFE_INT, max_value=MAX_SAFE_INT),
    st.integers(min_value=-(2**63), max_value=2**64),
    st.floats(allow_nan=False, allow_infinity=False),
)
values = st.recursive(
    st.none() | st.booleans() | _numbers | _any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_any_text, inner, max_size=5),
    max_leaves=20,
)


def encodings(doc: Any) -> list[bytes]:
    """Ways a tamperer or a careless writer might encode `doc`."""
    out = [
        json.dumps(doc).encode(),
        json.dumps(doc, sort_keys=True, separators=(",", ":")).encode(),
        json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
            "utf-8", "surrogatepass"
        ),
    ]
    try:
        out.append(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS))
        out.append(orjson.dumps(doc))
    except (orjson.JSONEncodeError, TypeError):
        pass
    with contextlib.suppress(Exception):
        out.append(rfc8785.dumps(doc))
    return out


def in_profile(value: Any) -> bool:
    try:
        canonical(value)
    except CanonicalError:
        return False
    return True


@settings(max_examples=250, deadline=None)
@given(st.dictionaries(_any_text, values, max_size=6))
def test_the_shortcut_never_accepts_what_rfc8785_would_not_write(doc: dict[str, Any]) -> None:
    for data in encodings(doc):
        parsed = _fast_parse(data)
        if parsed is None:
            continue
        assert in_profile(parsed), data
        assert rfc8785.dumps(parsed) == data


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        _ascii,
        st.recursive(
            st.none()
            | st.booleans()
            | st.integers(min_value=-MAX_SAFE_INT, max_value=MAX_SAFE_INT)
            | _ascii,
            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_ascii, inner, max_size=4),
            max_leaves=20,
        ),
        max_size=6,
    )
)
def test_the_shortcut_takes_every_ascii_record(doc: dict[str, Any]) -> None:
    # Not vacuous: canonical ASCII records really go the fast way, and come back equal.
    assert _fast_parse(canonical(doc)) == doc


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":1.5}',
        b'{"a":1e+20}',
        b'{"a":[0,1.0]}',
        b'{"a":"x\\"","b":2.5}',
        b'{"a":9007199254740992}',
        b'{"a":-9007199254740992}',
        b'{"b":1,"a":2}',
        b'{"a":1,"a":2}',
        b'{"a": 1}',
        b'{"a":"\\u0041"}',
        b'{"a":"\\/"}',
        b'{"a":-0}',
        b"[1]",
        b'{"a":"\\ud800"}',
        b'{"\xc3\xa9":1}',
    ],
)
def test_the_shortcut_declines_non_canonical_or_unsure_bytes(data: bytes) -> None:
    assert _fast_parse(data) is None


def test_floats_hidden_behind_string_look_alikes_are_still_found() -> None:
    # ':1.' inside a string makes the pre-check look; the walk then finds no float.
    assert _fast_parse(b'{"a":"t:1.5","b":[1,2]}') == {"a": "t:1.5", "b": [1, 2]}
    assert _fast_parse(b'{"a":"t:1.5","b":[1,2.5]}') is None


class Colour(Enum):
    RED = "red"


@dataclass
class Point:
    x: int


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"t": (1, 2)}, "t: tuple not allowed"),
        ({"at": datetime(2024, 5, 1, tzinfo=UTC)}, "at: datetime not allowed"),
        ({"c": Colour.RED}, "c: Colour not allowed"),
        ({"p": Point(1)}, "p: Point not allowed"),
        ({"u": uuid.UUID(int=1)}, "u: UUID not allowed"),
        ({"f": 1.0}, "f: float 1.0 not allowed"),
    ],
)
def test_what_orjson_would_write_but_the_profile_refuses_is_still_refused(
    doc: dict[str, Any], message: str
) -> None:
    assert orjson.dumps(doc)  # orjson would have written it
    with pytest.raises(CanonicalError, match=f"^{message}"):
        canonical(doc)
