"""Canonical encoding: RFC 8785 known answers, the record profile, strict parsing."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.evidence import MAX_SAFE_INT, CanonicalError, canonical, parse_canonical, to_record_value

# --- RFC 8785 known answers -------------------------------------------------------------
# Inputs and outputs from the reference test data (cyberphone/json-canonicalization
# testdata/, the files whose inputs fit the float-free profile) and RFC 8785 §3.2.


def test_arrays_known_answer() -> None:
    doc = [56, {"d": True, "10": None, "1": []}]
    assert canonical(doc) == b'[56,{"1":[],"10":null,"d":true}]'


def test_french_known_answer() -> None:
    doc = {
        "peach": "This sorting order",
        "p\u00e9ch\u00e9": "is wrong according to French",
        "p\u00eache": "but canonicalization MUST",
        "sin": "ingnore locale",
    }
    expected = (
        '{"peach":"This sorting order","p\u00e9ch\u00e9":"is wrong according to French",'
        '"p\u00eache":"but canonicalization MUST","sin":"ingnore locale"}'
    )
    assert canonical(doc) == expected.encode("utf-8")


def test_unnormalized_unicode_is_kept_as_is() -> None:
    doc = {"Unnormalized Unicode": "\u1e0d\u0307"}
    assert canonical(doc) == '{"Unnormalized Unicode":"\u1e0d\u0307"}'.encode()


def test_weird_keys_sort_by_utf16_code_units() -> None:
    doc = {
        "\u20ac": "Euro Sign",
        "1": "One",
        "\u0080": "Control\u007f",
        "\U0001f602": "Smiley",
        "\u00f6": "Latin Small Letter O With Diaeresis",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "</script>": "Browser Challenge",
    }
    expected = (
        '{"1":"One","</script>":"Browser Challenge","\u0080":"Control\u007f",'
        '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
        '"\U0001f602":"Smiley","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
    )
    assert canonical(doc) == expected.encode("utf-8")


def test_private_use_key_sorts_after_an_emoji_key() -> None:
    # UTF-16: 0xD83D (emoji's high surrogate) < 0xE000, though U+1F600 > U+E000.
    assert canonical({"\ue000": 1, "\U0001f600": 2}) == '{"\U0001f600":2,"\ue000":1}'.encode()
    assert json.dumps({"\ue000": 1, "\U0001f600": 2}, sort_keys=True).startswith('{"\\ue000"')


def test_rfc8785_string_escapes() -> None:
    # RFC 8785 §3.2.2.2: "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/"
    value = '\u20ac$\u000f\nA\'B"\\\\"/'
    assert canonical(value) == '"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"'.encode()


def test_control_characters_use_short_escapes_or_lowercase_hex() -> None:
    value = "".join(chr(c) for c in range(0x20)) + "\u007f\u2028"
    got = canonical(value)
    assert got == rfc8785.dumps(value)
    assert got.startswith(b'"\\u0000\\u0001')
    assert b"\\b\\t\\n\\u000b\\f\\r" in got
    assert got.endswith('\u007f\u2028"'.encode())


def test_integers_at_the_safe_limit() -> None:
    assert canonical([MAX_SAFE_INT, -MAX_SAFE_INT, 0]) == b"[9007199254740991,-9007199254740991,0]"


def test_enum_and_dict_subclass_values_encode_as_their_value() -> None:
    class Colour(StrEnum):
        RED = "red"

    assert canonical({"c": Colour.RED}) == b'{"c":"red"}'


# --- the record profile -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"observed": {"size": 1.5}}, "observed.size: float 1.5 not allowed"),
        ({"a": [1, {"b": 2.0}]}, "a[1].b: float 2.0 not allowed"),
        ({"n": 2**53}, "n: integer 9007199254740992 outside the safe range"),
        ({"n": -(2**53)}, "n: integer -9007199254740992 outside the safe range"),
        ({"m": {1: "x"}}, "m: key 1 is int, expected str"),
        ({"s": "ok\ud800"}, "s: string 'ok\\ud800' contains a lone surrogate"),
        ({"\udc00": 1}, "$: key '\\udc00' contains a lone surrogate"),
        ({"t": (1, 2)}, "t: tuple not allowed"),
        ({"b": b"x"}, "b: bytes not allowed"),
        ({"weird key": {"x.y": [0.1]}}, '$["weird key"]["x.y"][0]: float 0.1 not allowed'),
        (1.5, "$: float 1.5 not allowed"),
        ({"nan": float("nan")}, "nan: float nan not allowed"),
    ],
)
def test_values_outside_the_profile_are_rejected_with_their_path(doc: Any, message: str) -> None:
    with pytest.raises(CanonicalError) as raised:
        canonical(doc)
    assert str(raised.value).startswith(message)


def test_a_cycle_is_rejected_not_a_crash() -> None:
    doc: dict[str, Any] = {}
    doc["self"] = doc
    with pytest.raises(CanonicalError, match="nested too deeply"):
        canonical(doc)


# --- parse_canonical --------------------------------------------------------------------


def test_parse_round_trip() -> None:
    doc = {"kind": "result", "observed": {"tags": ["a", "\u00e9"], "n": 3, "x": None}}
    assert parse_canonical(canonical(doc)) == doc


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"a":1,"status":"pass","status":"fail"}', "duplicate key 'status'"),
        (b'{"a": 1}', "bytes differ from the canonical encoding at offset 5"),
        (b'{"b":1,"a":2}', "bytes differ from the canonical encoding at offset 2"),
        (b'{"a":1}\n', "bytes differ from the canonical encoding at offset 7"),
        (b'{"a":"\\u00e9"}', "bytes differ from the canonical encoding at offset 6"),
        (b'{"a":"\\/"}', "bytes differ"),
        (b'{"a":1.0}', "a: float 1.0 not allowed"),
        (b'{"a":NaN}', "a: float nan not allowed"),
        (b'{"a":9007199254740992}', "a: integer 9007199254740992 outside"),
        (b'{"a":"\\ud800"}', "a: string '\\ud800' contains a lone surrogate"),
        (b"[1,2]", "got a JSON list, expected a JSON object"),
        (b'"text"', "got a JSON str, expected a JSON object"),
        (b'{"a":', "not JSON: Expecting value"),
        (b'{"a":"\xff"}', "not UTF-8: invalid start byte at byte 6"),
        ('{"a":"é"}'.encode("utf-16"), "not UTF-8"),
        (b'{"a":' + b"9" * 5000 + b"}", "not JSON this parser accepts"),
    ],
)
def test_parse_rejects_anything_but_canonical_object_bytes(data: bytes, message: str) -> None:
    with pytest.raises(CanonicalError) as raised:
        parse_canonical(data)
    assert message in str(raised.value)


def test_parse_names_what_differs() -> None:
    with pytest.raises(CanonicalError) as raised:
        parse_canonical(b'{"a": 1}')
    assert "got b'{\"a\": 1}', expected b'{\"a\":1}'" in str(raised.value)


# --- hypothesis: the fast path equals rfc8785 inside the profile -------------------------

# Characters that stress the UTF-16 ordering (BMP private use / specials vs astral) and
# the escapes (controls, quote, backslash, DEL, line separators).
_TRICKY = st.sampled_from(
    [
        "\ue000",
        "\uffff",
        "\ufb33",
        "\U0001f600",
        "\U00010000",
        "\U0010ffff",
        "\u0080",
        "\x00",
        "\x1f",
        '"',
        "\\",
        "\x7f",
        "\u2028",
        "/",
        "a",
        "A",
        "1",
    ]
)
_chars = st.one_of(_TRICKY, st.characters(exclude_categories=["Cs"]))
_text = st.text(alphabet=_chars, max_size=8)
_ints = st.integers(min_value=-MAX_SAFE_INT, max_value=MAX_SAFE_INT)
profile_values = st.recursive(
    st.none() | st.booleans() | _ints | _text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_text, inner, max_size=6),
    max_leaves=30,
)


@settings(max_examples=800, deadline=None)
@given(profile_values)
def test_canonical_equals_rfc8785_in_the_profile(doc: Any) -> None:
    assert canonical(doc) == rfc8785.dumps(doc)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_text, profile_values, max_size=6))
def test_canonical_objects_parse_back_to_themselves(doc: dict[str, Any]) -> None:
    assert parse_canonical(canonical(doc)) == doc


@settings(max_examples=200, deadline=None)
@given(
    profile_values,
    st.one_of(
        st.floats(allow_nan=True),
        st.integers(min_value=MAX_SAFE_INT + 1),
        st.integers(max_value=-MAX_SAFE_INT - 1),
    ),
)
def test_any_float_or_big_int_anywhere_is_rejected(doc: Any, bad: Any) -> None:
    with pytest.raises(CanonicalError):
        canonical({"ok": doc, "nested": [{"bad": bad}]})


# --- to_record_value --------------------------------------------------------------------


class Level(Enum):
    LOW = "low"


def test_to_record_value_converts_engine_values() -> None:
    value = {
        "ratio": 0.25,
        "when": datetime(2024, 5, 1, 4, 0, tzinfo=timezone(timedelta(hours=2))),
        "precise": datetime(2024, 5, 1, 2, 0, 0, 1500, tzinfo=UTC),
        "day": date(2024, 5, 1),
        "money": Decimal("10.50"),
        "level": Level.LOW,
        Level.LOW: "enum key",
        "pair": (1, 2.5),
        "names": {"b", "a", "c"},
        "mixed": frozenset({2, "x", None}),
        "kept": [True, None, 3, "s"],
    }
    converted = to_record_value(value)
    assert converted == {
        "ratio": "0.25",
        "when": "2024-05-01T02:00:00Z",
        "precise": "2024-05-01T02:00:00.001500Z",
        "day": "2024-05-01",
        "money": "10.50",
        "level": "low",
        "low": "enum key",
        "pair": [1, "2.5"],
        "names": ["a", "b", "c"],
        "mixed": ["x", 2, None],  # no natural order: sorted by encoding
        "kept": [True, None, 3, "s"],
    }
    canonical(converted)


def test_to_record_value_rejects_a_naive_datetime_with_its_path() -> None:
    with pytest.raises(CanonicalError, match=r"^observed\.seen\[1\]: naive datetime"):
        to_record_value({"observed": {"seen": [None, datetime(2024, 5, 1)]}})


def test_to_record_value_leaves_unknown_types_for_canonical_to_reject() -> None:
    converted = to_record_value({"blob": b"\x00"})
    with pytest.raises(CanonicalError, match=r"^blob: bytes not allowed"):
        canonical(converted)
