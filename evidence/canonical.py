"""RFC 8785 (JCS) canonical JSON for evidence records, in a float-free profile.

The record profile: objects with str keys, arrays, strings (valid Unicode), booleans,
null and integers with |n| <= 2**53-1. No floats: their JCS form depends on ECMAScript
number formatting, and a verdict must not hinge on it.

Inside the profile, JCS equals Python's compact, key-sorted `json` output but for one
thing: JCS orders keys by UTF-16 code units, Python by code points. The two disagree
only where one key has a character above U+FFFF (a surrogate pair in UTF-16, from
0xD800) and another has one in U+E000..U+FFFF at the same place. `canonical` therefore
validates in one walk, encodes with `json` (about 4x faster than `rfc8785`), and hands
only documents with a key above U+FFFF to `rfc8785`.

Both directions first try an exact shortcut with orjson (several times faster): an
ASCII-only body whose orjson re-encoding (sorted keys, 53-bit integers) equals it byte
for byte, and which holds no number with a fraction or exponent, is canonical. Inside
the profile orjson and JCS agree on every such document (differential-tested against
`rfc8785`); anything else takes the slow path, which also explains what is wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson
import rfc8785

from assay.errors import AssayError

MAX_SAFE_INT = 2**53 - 1

_ENCODER = json.JSONEncoder(
    ensure_ascii=False,
    allow_nan=False,
    sort_keys=True,
    separators=(",", ":"),
    # The profile walk has already been through every container, so a cycle never gets here.
    check_circular=False,
)
_SURROGATE = re.compile("[\ud800-\udfff]")
_PLAIN_KEY = re.compile(r"[A-Za-z_$][\w$-]*", re.ASCII)


class CanonicalError(AssayError, ValueError):
    """A value is outside the record profile, or bytes are not a canonical record.

    The message starts with the JSON path of the offending value when there is one,
    e.g. ``observed.size: float 1.5 not allowed``.
    """


class _Violation(Exception):
    """Raised deep in a walk; each container on the way out adds its key to `path`."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path: list[str | int] = []

    def error(self) -> CanonicalError:
        return CanonicalError(f"{_render_path(reversed(self.path))}: {self.problem}")


def _render_path(parts: Iterable[str | int]) -> str:
    text = "$"
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}"
        else:
            text += f"[{json.dumps(part, ensure_ascii=False)}]"
    # "$.observed.size" reads better as "observed.size"; the root stays "$".
    return text[2:] if text.startswith("$.") else text


def _check_str(text: str, what: str = "string") -> None:
    if not text.isascii() and _SURROGATE.search(text):
        raise _Violation(f"{what} {text!r} contains a lone surrogate (not valid Unicode)")


def _is_plain(item: object) -> bool:
    """True for the common leaves that need no further look: the walk's fast path."""
    if type(item) is str:
        return item.isascii()
    if type(item) is int:
        return -MAX_SAFE_INT <= item <= MAX_SAFE_INT
    return item is None or type(item) is bool


def _check(value: object) -> bool:
    """Raise _Violation for anything outside the profile.

    Returns True when some key holds a character above U+FFFF, i.e. when Python's key
    order may differ from JCS's.
    """
    if isinstance(value, dict):
        astral = False
        for key, item in value.items():
            if type(key) is not str or not key.isascii():
                if not isinstance(key, str):
                    raise _Violation(f"key {key!r} is {type(key).__name__}, expected str")
                _check_str(key, "key")
                astral = astral or max(key) > "\uffff"
            if _is_plain(item):
                continue
            try:
                astral = _check(item) or astral
            except _Violation as violation:
                violation.path.append(key)
                raise
        return astral
    if isinstance(value, list):
        astral = False
        for index, item in enumerate(value):
            if _is_plain(item):
                continue
            try:
                astral = _check(item) or astral
            except _Violation as violation:
                violation.path.append(index)
                raise
        return astral
    if isinstance(value, str):
        _check_str(value)
        return False
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int):
        if -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            return False
        raise _Violation(f"integer {value} outside the safe range ±(2**53-1)")
    if isinstance(value, float):
        raise _Violation(f"float {value!r} not allowed (use an int or a decimal string)")
    raise _Violation(
        f"{type(value).__name__} not allowed (expected dict, list, str, int, bool or None)"
    )


def canonical(obj: Any) -> bytes:
    """The RFC 8785 encoding of `obj`, which must lie in the record profile.

    Raises CanonicalError naming the JSON path of the first value outside the profile
    (floats, integers beyond ±(2**53-1), non-str keys, lone surrogates, other types).
    """
    if type(obj) is dict:
        # The shortcut: only exact dicts, lists, str, int, bool and None (so a tuple,
        # float, datetime or Enum, which orjson would write, goes the slow way and is
        # rejected there), ints within 53 bits, and ASCII output (sort orders agree).
        try:
            if _plain(obj):
                data = orjson.dumps(obj, option=_FAST_OPTIONS)
                if data.isascii():
                    return data
        except (orjson.JSONEncodeError, RecursionError):
            pass
    try:
        astral_keys = _check(obj)
    except _Violation as violation:
        raise violation.error() from None
    except RecursionError:
        raise CanonicalError("$: nested too deeply (or contains itself)") from None
    if astral_keys:
        return rfc8785.dumps(obj)
    return _ENCODER.encode(obj).encode("utf-8")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise CanonicalError(f"duplicate key {key!r} in one object")
            seen.add(key)
    return obj


def _first_difference(got: bytes, expected: bytes) -> str:
    at = next(
        (i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b),
        min(len(got), len(expected)),
    )
    start = max(0, at - 10)
    return (
        f"bytes differ from the canonical encoding at offset {at}: "
        f"got {got[start : at + 20]!r}, expected {expected[start : at + 20]!r}"
    )


_FAST_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
# orjson writes every float with a fraction (1.0) or a signed exponent (1e+20, 5e-324)
# and then ends it with ',', '}' or ']': bytes with neither pattern hold no float. Both
# patterns start with a literal, which `re` scans for fast; "CC6.1" or "10.0.0.1" in a
# string do not match, as a quote follows them. A match may still lie inside a string;
# the walk then decides.
_FRACTION = re.compile(rb"\.[0-9]+[,}\]]")
_EXPONENT = re.compile(rb"e[+-][0-9]+[,}\]]")


_LEAVES = frozenset({str, int, bool, type(None)})


def _plain(value: Any) -> bool:
    """True if `value`, a dict or list, holds nothing but dicts, lists, str, int, bool and None.

    Exact types: subclasses (enums, dict subclasses) are not plain.
    """
    items: Iterable[Any] = value.values() if type(value) is dict else value
    for item in items:
        kind = type(item)
        if kind is dict or kind is list:
            if not _plain(item):
                return False
        elif kind not in _LEAVES:
            return False
    return True


def _fast_parse(data: bytes) -> dict[str, Any] | None:
    """The parsed record if `data` is canonical by the orjson shortcut; None if unsure.

    ASCII only: then keys are ASCII and every sort order agrees, and JCS escapes no
    character that orjson writes raw.
    """
    if not data.isascii():
        return None
    try:
        value = orjson.loads(data)
        if type(value) is not dict or orjson.dumps(value, option=_FAST_OPTIONS) != data:
            return None
        # Parsed JSON holds only plain values and floats: not plain means a float.
        if (_FRACTION.search(data) or _EXPONENT.search(data)) and not _plain(value):
            return None
    except (orjson.JSONDecodeError, orjson.JSONEncodeError, RecursionError):
        return None
    return value


def parse_canonical(data: bytes) -> dict[str, Any]:
    """Parse a stored record, accepting only the exact canonical bytes of a JSON object.

    Raises CanonicalError for invalid UTF-8 or JSON, duplicate keys, a top level that is
    not an object, values outside the record profile, or any byte that differs from
    `canonical` of the parsed value (whitespace, key order, escapes).
    """
    fast = _fast_parse(data)
    if fast is not None:
        return fast
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CanonicalError(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CanonicalError(f"not JSON: {exc.msg} at character {exc.pos}") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer literal of 5,000 digits
        raise CanonicalError(f"not JSON this parser accepts: {exc!r}") from None
    if not isinstance(value, dict):
        raise CanonicalError(f"got a JSON {type(value).__name__}, expected a JSON object")
    expected = canonical(value)
    if expected != data:
        # Duplicate keys collapse when parsed, so they surface here; name them if so.
        json.loads(text, object_pairs_hook=_unique_keys)
        raise CanonicalError(_first_difference(data, expected))
    return value


def _record_value(value: Any) -> Any:
    if isinstance(value, Enum):
        value = value.value
    if value is None or isinstance(value, str | int):  # bool is an int
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise _Violation(f"naive datetime {value} has no timezone, expected an aware one")
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        converted: dict[Any, Any] = {}
        for key, item in value.items():
            name = key.value if isinstance(key, Enum) else key
            try:
                converted[name] = _record_value(item)
            except _Violation as violation:
                violation.path.append(name)
                raise
        return converted
    if isinstance(value, list | tuple):
        items = []
        for index, item in enumerate(value):
            try:
                items.append(_record_value(item))
            except _Violation as violation:
                violation.path.append(index)
                raise
        return items
    if isinstance(value, set | frozenset):
        members = [_record_value(item) for item in value]
        try:
            return sorted(members)
        except TypeError:
            # Mixed types have no natural order; their encodings do.
            return sorted(members, key=canonical)
    # Anything else is left for `canonical` to reject with its path.
    return value


def to_record_value(obj: Any) -> Any:
    """Turn an engine value into the record profile.

    Floats become their ``repr`` string, aware datetimes RFC 3339 UTC strings ending in
    ``Z``, dates ISO strings, Decimals their string, enums their value, tuples lists,
    sets sorted lists; mappings and lists are converted recursively. Other values are
    returned unchanged, for `canonical` to accept or reject. Raises CanonicalError, with
    the JSON path, for a naive datetime.
    """
    try:
        return _record_value(obj)
    except _Violation as violation:
        raise violation.error() from None
