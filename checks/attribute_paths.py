"""Reading attribute paths (JMESPath) from a resource, aware of collection-error markers.

A plain chain of fields and indexes (`a.b[0].c`) is walked directly, at a fraction of
JMESPath's cost; anything richer runs in JMESPath's interpreter with a check on every
value it reads and yields, so a marker reached any way makes the read raise `MissingEvidence`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.functions import Functions
from jmespath.visitor import TreeInterpreter

from assay.checks.result import ERROR_KEY, MissingEvidence, describe_error
from assay.errors import AssayError

if TYPE_CHECKING:
    from jmespath.visitor import _TreeNode


def uncollected(marker: dict[str, Any]) -> MissingEvidence:
    return MissingEvidence(f"could not be collected: {describe_error(marker)}", marker)


def is_marker(value: Any) -> bool:
    return isinstance(value, dict) and ERROR_KEY in value


class _MarkerAwareInterpreter(TreeInterpreter):
    """JMESPath's interpreter, stopping at any node evaluated on, or yielding, a marker.

    That covers a marker reached through a field, an index, a projection, a filter or a
    function argument; `_expression_reader` checks the items of a list result for the
    rest (`items[]`, `items[:2]`, `values(@)`).
    """

    def visit(self, node: _TreeNode, *args: Any, **kwargs: Any) -> Any:
        if args and is_marker(args[0]):
            raise uncollected(args[0])
        result = super().visit(node, *args, **kwargs)
        if is_marker(result):
            raise uncollected(result)
        return result


_INTERPRETER = _MarkerAwareInterpreter()


def _expression_reader(tree: _TreeNode) -> Callable[[Any], Any]:
    def read(attributes: Any) -> Any:
        try:
            value = _INTERPRETER.visit(tree, attributes)
        except JMESPathError as exc:
            raise MissingEvidence(f"could not be evaluated: {exc}") from None
        for item in value if isinstance(value, list) else (value,):
            if is_marker(item):
                raise uncollected(item)
        return value

    return read


def _steps_reader(steps: tuple[str | int, ...]) -> Callable[[Any], Any]:
    """A reader for a chain of fields and indexes: JMESPath's result at a fraction of its cost.

    It checks every value it steps onto, so a marker anywhere along the chain is found.
    """

    def read(attributes: Any) -> Any:
        value = attributes
        for step in steps:
            if isinstance(step, str):
                value = value.get(step) if isinstance(value, dict) else None
            elif isinstance(value, list) and -len(value) <= step < len(value):
                value = value[step]
            else:
                return None
            if value is None:
                return None
            if isinstance(value, dict) and ERROR_KEY in value:
                raise uncollected(value)
        return value

    return read


def _steps(node: _TreeNode) -> list[str | int] | None:
    """The fields and indexes of a plain chain like `a.b[0].c`, or None for anything richer."""
    kind = node["type"]
    if kind in ("field", "index"):
        return [node["value"]]
    if kind not in ("subexpression", "index_expression"):
        return None
    steps: list[str | int] = []
    for child in node["children"]:
        sub = _steps(child)
        if sub is None:
            return None
        steps += sub
    return steps


def _function_problem(node: _TreeNode) -> str | None:
    """Unknown functions and wrong argument counts, which JMESPath reports only when run."""
    if node["type"] == "function_expression":
        name, given = node["value"], len(node["children"])
        spec = Functions.FUNCTION_TABLE.get(name)
        if spec is None:
            return f"unknown function {name}()"
        wanted = len(spec["signature"])
        if spec["signature"] and spec["signature"][-1].get("variadic"):
            if given < wanted:
                return f"{name}() takes at least {wanted} arguments, got {given}"
        elif given != wanted:
            return f"{name}() takes {wanted} argument(s), got {given}"
    for child in node["children"]:
        problem = _function_problem(child)
        if problem is not None:
            return problem
    return None


class PathError(AssayError, ValueError):
    """A path that cannot be compiled; the message says why."""


def compile_path(text: Any) -> tuple[Callable[[Any], Any], bool]:
    """The reader for a path and whether it is a full expression (which may yield floats).

    A reader takes a resource's attributes and returns the value at the path (None when
    absent), raising MissingEvidence when the path runs into a collection-error marker.
    """
    if not isinstance(text, str) or not text:
        raise PathError(f"expected a JMESPath expression string, got {text!r}")
    try:
        tree = jmespath.compile(text).parsed
    except JMESPathError as exc:
        # The first line; the rest repeats the expression with a caret under the column.
        syntax = str(exc).splitlines()[0].removesuffix(":").removesuffix(", for expression")
        raise PathError(f"invalid JMESPath {text!r}: {syntax}") from None
    problem = _function_problem(tree)
    if problem is not None:
        raise PathError(f"invalid JMESPath {text!r}: {problem}")
    steps = _steps(tree)
    if steps is None:
        return _expression_reader(tree), True
    return _steps_reader(tuple(steps)), False


def without_floats(value: Any) -> Any:
    """`value` with floats (from avg(), to_number()) as ints or strings: records hold no floats."""
    if isinstance(value, float):
        return int(value) if value.is_integer() else repr(value)
    if isinstance(value, list):
        return [without_floats(item) for item in value]
    if isinstance(value, dict):
        return {key: without_floats(item) for key, item in value.items()}
    return value
