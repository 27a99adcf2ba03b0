"""The declarative rule language: a predicate tree a control may carry instead of a check.

    rule:
      all:
        - {path: "encryption.rules[0].algorithm", in: ["aws:kms", "AES256"]}
        - any:
            - {path: versioning, eq: Enabled}
            - not: {path: "tags.records", exists: true}

`compile_rule(spec)` validates the whole spec up front and raises `RuleError` naming the
bad part; the `Rule` it returns is called as `rule(resource, now=None) -> Result`.

Semantics a control author may rely on:
- `path` is JMESPath over `resource["attributes"]`; a missing key reads as null.
- A combinator node has exactly one key: `all` / `any` take a non-empty list (an empty
  one would hold vacuously), `not` takes one node. A predicate has `path` and exactly
  one operator.
- eq / ne / in / not_in / contains compare as JSON does: `true` never equals `1`,
  `1` equals `1.0`. Operands are JSON values without floats.
- gt / gte / lt / lte take an integer; an observed value that is not a number fails.
- `exists: true` holds when the value is neither missing nor null (an empty list or
  string exists); `exists: false` is the same as `absent: true`, and vice versa.
- contains: an observed list holds an element equal to the operand, or an observed
  string holds the operand as a substring.
- regex: `re.search` on an observed string; anything else fails.
- age_days_lte: the observed value is an RFC 3339 timestamp with a UTC offset (`Z` is
  fine) and `now - timestamp <= N days`; `now` defaults to the current time.
- A path that runs into a collection-error marker (`{"$error": ...}`) makes its
  predicate `error`, as does a JMESPath function refusing the observed types.
  Combinators use three-valued logic, so the verdict never depends on the order of
  the conditions: `all` fails if any condition fails, else is `error` if any is
  `error`; `any` passes if any condition passes, else is `error` if any is `error`;
  `not` keeps `error`. A failing `all` and a passing `any` stop at the deciding
  condition, so `observed` holds the paths evaluated up to there. A float that a
  JMESPath function yields (avg) is compared as a number but recorded as an int or
  a string, since records hold no floats.

Finding markers costs next to nothing: a plain chain of fields and indexes (the usual
path) is walked by hand, checking each value it steps onto; any other expression runs
in JMESPath's interpreter with a check on the value every node reads and yields.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from assay.checks.attribute_paths import PathError, compile_path, without_floats
from assay.checks.result import MissingEvidence, Result, Status
from assay.words import counted

Location = tuple[str | int, ...]
# A test gets the observed value and `now`; it returns None when the predicate holds,
# else what was expected, phrased to follow "<path> is <observed>, ".
Test = Callable[[Any, datetime | None], str | None]
Verdict = tuple[Status, str]

COMBINATORS = ("all", "any", "not")
_NODE_KINDS = "all, any, not, or a predicate with 'path'"
_REPR_LIMIT = 120


class RuleError(Exception):
    """A rule spec that cannot be compiled.

    `location` is the path to the offending part inside the spec, e.g. ("all", 1, "regex");
    `message` says what was expected. `str(err)` reads `rule.all[1].regex: <message>`.
    """

    def __init__(self, location: Location, message: str, *, more: Sequence[RuleError] = ()) -> None:
        super().__init__(location, message)
        self.location = location
        self.message = message
        self.more = list(more)
        """Further problems of the same spec, found in the same pass."""

    @property
    def every(self) -> list[RuleError]:
        """This problem and every other one found with it, in the order they are written."""
        return [self, *(e for m in self.more for e in m.every)]

    @staticmethod
    def combined(errors: Sequence[RuleError]) -> RuleError:
        first, *rest = errors
        return RuleError(first.location, first.message, more=[*first.more, *rest])

    def __str__(self) -> str:
        where = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in self.location
        )
        return f"rule{where}: {self.message}"


class Rule:
    """A compiled rule; build one with `compile_rule`. Safe to share between threads."""

    def __init__(
        self, root: _Node, paths: tuple[str, ...], floats_possible: bool, timed: bool
    ) -> None:
        self._root = root
        self._floats_possible = floats_possible
        self._timed = timed  # it measures an age: the only reason to read collected_at
        self.paths = paths
        """The JMESPath expressions the rule reads, each once, in the order written."""

    def __call__(self, resource: dict[str, Any], now: datetime | None = None) -> Result:
        """Evaluate the rule on a resource snapshot.

        Ages (age_days_lte) are measured at the snapshot's ``collected_at`` when the
        resource has one, as check functions do, so a replayed snapshot gives the verdict
        the run recorded; else at `now` (timezone-aware). `observed` maps each path
        evaluated to the value read (the marker itself when a collection error made the
        predicate `error`).
        """
        if now is not None and now.utcoffset() is None:
            raise ValueError(f"now must be timezone-aware, got {now!r}")
        collected = resource.get("collected_at") if self._timed else None
        if isinstance(collected, str):
            with contextlib.suppress(ValueError):
                now = datetime.fromisoformat(collected)
        observed: dict[str, Any] = {}
        status, reason = self._root.evaluate(resource["attributes"], now, observed)
        if self._floats_possible:
            observed = without_floats(observed)
        # The validating constructor: in pydantic 2.14 it is faster than model_construct.
        return Result(status=status, reason=reason, observed=observed)

    def __repr__(self) -> str:
        return f"Rule(paths={self.paths!r})"


def compile_rule(spec: Mapping[str, Any]) -> Rule:
    """Validate and compile a rule spec (as loaded from YAML); raises RuleError if it is bad."""
    paths: dict[str, bool] = {}  # path -> whether it is a full expression, not a plain chain
    root = _compile_node(spec, (), paths)
    return Rule(
        root, tuple(paths), floats_possible=any(paths.values()), timed=_mentions(spec, AGE_OP)
    )


def _mentions(spec: Any, key: str) -> bool:
    """Whether `key` is a key anywhere in the (compiled, so well-formed) spec."""
    if isinstance(spec, Mapping):
        return key in spec or any(_mentions(v, key) for v in spec.values())
    if isinstance(spec, list):
        return any(_mentions(v, key) for v in spec)
    return False


# --- evaluation -------------------------------------------------------------------------


class _Node:
    def evaluate(
        self, attributes: dict[str, Any], now: datetime | None, observed: dict[str, Any]
    ) -> Verdict:
        raise NotImplementedError


class _Predicate(_Node):
    def __init__(self, path: str, read: Callable[[Any], Any], held: str, test: Test) -> None:
        self.path = path
        self.read = read
        self.held = held  # "<op> <operand>", shown when the predicate holds
        self.test = test

    def evaluate(
        self, attributes: dict[str, Any], now: datetime | None, observed: dict[str, Any]
    ) -> Verdict:
        try:
            value = self.read(attributes)
        except MissingEvidence as exc:
            if exc.marker is not None:
                observed[self.path] = exc.marker
            return Status.ERROR, f"{self.path} {exc.detail}"
        observed[self.path] = value
        expected = self.test(value, now)
        if expected is None:
            return Status.PASS, f"{self.path} {self.held} (observed {_show(value)})"
        found = "not set" if value is None else _show(value)
        return Status.FAIL, f"{self.path} is {found}, {expected}"


class _All(_Node):
    def __init__(self, children: list[_Node]) -> None:
        self.children = children
        self.held = f"all {len(children)} conditions hold"

    def evaluate(
        self, attributes: dict[str, Any], now: datetime | None, observed: dict[str, Any]
    ) -> Verdict:
        error: str | None = None
        for child in self.children:
            status, reason = child.evaluate(attributes, now, observed)
            if status is Status.FAIL:
                return status, reason
            if status is Status.ERROR and error is None:
                error = reason
        if error is not None:
            return Status.ERROR, error
        return Status.PASS, self.held


class _Any(_Node):
    def __init__(self, children: list[_Node]) -> None:
        self.children = children

    def evaluate(
        self, attributes: dict[str, Any], now: datetime | None, observed: dict[str, Any]
    ) -> Verdict:
        error: str | None = None
        failure = ""
        for child in self.children:
            status, reason = child.evaluate(attributes, now, observed)
            if status is Status.PASS:
                return status, f"at least one of {len(self.children)} conditions holds: {reason}"
            if status is Status.ERROR:
                error = error or reason
            else:
                failure = failure or reason
        if error is not None:
            return Status.ERROR, error
        return Status.FAIL, f"none of {len(self.children)} conditions holds; first: {failure}"


class _Not(_Node):
    def __init__(self, child: _Node) -> None:
        self.child = child

    def evaluate(
        self, attributes: dict[str, Any], now: datetime | None, observed: dict[str, Any]
    ) -> Verdict:
        status, reason = self.child.evaluate(attributes, now, observed)
        if status is Status.PASS:
            return Status.FAIL, f"negated condition holds: {reason}"
        if status is Status.FAIL:
            return Status.PASS, f"negated condition does not hold: {reason}"
        return status, reason


def _show(value: Any) -> str:
    """A value as the YAML and JSON people write it (true, "AES256", ["a", "b"]), not as a
    Python literal; cut short when long."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _same(a: Any, b: Any) -> bool:
    """JSON equality: unlike Python's, true is not 1."""
    if isinstance(b, str):  # the common case first: only a string equals a string
        return bool(a == b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(_same(item, b[key]) for key, item in a.items())
        )
    return bool(a == b)


# --- operators --------------------------------------------------------------------------


def _check_json(value: Any, location: Location) -> None:
    """Operands are JSON without floats: YAML's floats and unquoted dates are rejected here."""
    if isinstance(value, float):
        raise RuleError(location, f"expected an integer, got {value!r} (records hold no floats)")
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_json(item, (*location, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise RuleError(location, f"expected string keys, got {key!r}")
            _check_json(item, (*location, key))
    elif value is not None and not isinstance(value, str | int):
        raise RuleError(
            location,
            f"expected a JSON value, got {type(value).__name__} {value!r} (quote dates and times)",
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _eq(operand: Any, location: Location) -> Test:
    _check_json(operand, location)
    expected = f"expected {_show(operand)}"
    return lambda value, now: None if _same(value, operand) else expected


def _ne(operand: Any, location: Location) -> Test:
    _check_json(operand, location)
    expected = f"expected anything but {_show(operand)}"
    return lambda value, now: expected if _same(value, operand) else None


def _membership(operand: Any, location: Location) -> Callable[[Any], bool]:
    if not isinstance(operand, list) or not operand:
        raise RuleError(location, f"expected a non-empty list, got {_show(operand)}")
    _check_json(operand, location)
    # Strings, the usual case, are looked up in a set; `_same` keeps true apart from 1.
    strings = frozenset(item for item in operand if isinstance(item, str))
    others = [item for item in operand if not isinstance(item, str)]

    def member(value: Any) -> bool:
        if isinstance(value, str):
            return value in strings
        return any(_same(value, item) for item in others)

    return member


def _in(operand: Any, location: Location) -> Test:
    member = _membership(operand, location)
    expected = f"expected one of {_show(operand)}"
    return lambda value, now: None if member(value) else expected


def _not_in(operand: Any, location: Location) -> Test:
    member = _membership(operand, location)
    expected = f"expected none of {_show(operand)}"
    return lambda value, now: expected if member(value) else None


def _comparison(symbol: str, holds: Callable[[Any, int], bool]) -> Callable[[Any, Location], Test]:
    def build(operand: Any, location: Location) -> Test:
        if not _is_int(operand):
            raise RuleError(location, f"expected an integer, got {_show(operand)}")

        def test(value: Any, now: datetime | None) -> str | None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return f"expected a number {symbol} {operand}, got {_json_type(value)}"
            return None if holds(value, operand) else f"expected {symbol} {operand}"

        return test

    return build


def _presence(present_when_true: bool) -> Callable[[Any, Location], Test]:
    def build(operand: Any, location: Location) -> Test:
        if not isinstance(operand, bool):
            raise RuleError(location, f"expected true or false, got {_show(operand)}")
        present = operand is present_when_true
        expected = "expected it to exist" if present else "expected it to be absent"
        return lambda value, now: None if (value is not None) is present else expected

    return build


def _contains(operand: Any, location: Location) -> Test:
    _check_json(operand, location)
    shown = _show(operand)
    container = "a list or string" if isinstance(operand, str) else "a list"

    def test(value: Any, now: datetime | None) -> str | None:
        if isinstance(value, list):
            held = any(_same(item, operand) for item in value)
        elif isinstance(value, str) and isinstance(operand, str):
            held = operand in value
        else:
            return f"expected {container} containing {shown}, got {_json_type(value)}"
        return None if held else f"expected it to contain {shown}"

    return test


def _regex(operand: Any, location: Location) -> Test:
    if not isinstance(operand, str):
        raise RuleError(location, f"expected a regular expression string, got {_show(operand)}")
    try:
        pattern = re.compile(operand)
    except re.error as exc:
        raise RuleError(location, f"bad regex {_show(operand)}: {exc}") from None

    def test(value: Any, now: datetime | None) -> str | None:
        if not isinstance(value, str):
            return f"expected a string matching {_show(operand)}, got {_json_type(value)}"
        return None if pattern.search(value) else f"expected it to match {_show(operand)}"

    return test


AGE_OP = "age_days_lte"


def _age_days_lte(operand: Any, location: Location) -> Test:
    if not _is_int(operand) or operand < 0:
        raise RuleError(location, f"expected a whole number of days >= 0, got {_show(operand)}")
    limit = timedelta(days=operand)
    wanted = f"expected an RFC 3339 timestamp at most {counted(operand, 'day')} old"

    def test(value: Any, now: datetime | None) -> str | None:
        if not isinstance(value, str):
            return f"{wanted}, got {_json_type(value)}"
        try:
            stamp = datetime.fromisoformat(value)
        except ValueError:
            return f"{wanted}, got a string that is not one"
        if stamp.utcoffset() is None:
            return f"{wanted}, got one without a UTC offset"
        age = (now if now is not None else datetime.now(UTC)) - stamp
        return None if age <= limit else f"{wanted}, it is {counted(age.days, 'day')} old"

    return test


_OPERATORS: dict[str, Callable[[Any, Location], Test]] = {
    "eq": _eq,
    "ne": _ne,
    "in": _in,
    "not_in": _not_in,
    "gt": _comparison(">", lambda a, b: a > b),
    "gte": _comparison(">=", lambda a, b: a >= b),
    "lt": _comparison("<", lambda a, b: a < b),
    "lte": _comparison("<=", lambda a, b: a <= b),
    "exists": _presence(True),
    "absent": _presence(False),
    "contains": _contains,
    "regex": _regex,
    AGE_OP: _age_days_lte,
}
OPERATORS = tuple(_OPERATORS)


# --- compiling --------------------------------------------------------------------------


def _compile_node(spec: Any, location: Location, paths: dict[str, bool]) -> _Node:
    if not isinstance(spec, Mapping):
        raise RuleError(location, f"expected a mapping ({_NODE_KINDS}), got {_json_type(spec)}")
    if "path" in spec:
        return _compile_predicate(spec, location, paths)
    keys = list(spec)
    if not keys:
        raise RuleError(location, f"empty node; expected {_NODE_KINDS}")
    for key in keys:
        if key in OPERATORS:
            raise RuleError(location, f"predicate with operator {key!r} has no 'path'")
        if key not in COMBINATORS:
            raise RuleError((*location, str(key)), f"unknown key {key!r}; expected {_NODE_KINDS}")
    if len(keys) > 1:
        raise RuleError(
            location,
            f"a combinator node has exactly one key, got {', '.join(keys)}; "
            "combine them under 'all' or 'any'",
        )
    kind = keys[0]
    body, where = spec[kind], (*location, kind)
    if kind == "not":
        return _Not(_compile_node(body, where, paths))
    if not isinstance(body, list) or not body:
        raise RuleError(
            where, f"{kind!r} must be a non-empty list of conditions, got {_show(body)}"
        )
    children: list[_Node] = []
    errors: list[RuleError] = []
    for index, child in enumerate(body):
        try:
            children.append(_compile_node(child, (*where, index), paths))
        except RuleError as exc:  # every child is checked: one pass finds every problem
            errors.append(exc)
    if errors:
        raise RuleError.combined(errors)
    return _All(children) if kind == "all" else _Any(children)


def _compile_predicate(
    spec: Mapping[Any, Any], location: Location, paths: dict[str, bool]
) -> _Node:
    operators = [key for key in spec if key != "path"]
    errors = [
        RuleError(
            (*location, str(key)),
            f"unknown operator {key!r}; expected one of {', '.join(OPERATORS)}",
        )
        for key in operators
        if key not in OPERATORS
    ]
    text = spec["path"]
    try:
        read, is_expression = compile_path(text)
    except PathError as exc:
        errors.append(RuleError((*location, "path"), str(exc)))
    if errors:
        raise RuleError.combined(errors)
    if not operators:
        raise RuleError(
            location, f"predicate has no operator; expected one of {', '.join(OPERATORS)}"
        )
    if len(operators) > 1:
        raise RuleError(
            location,
            f"predicate has {len(operators)} operators ({', '.join(operators)}); "
            "expected exactly one",
        )
    op = operators[0]
    test = _OPERATORS[op](spec[op], (*location, op))
    paths[text] = is_expression
    return _Predicate(text, read, f"{op} {_show(spec[op])}", test)
