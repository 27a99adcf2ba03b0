"""YAML documents that remember where each value came from, and schema problems worded for people.

Shared by every input file assay reads (controls, profiles, data maps), so each reports
bad input the same way: the file, the line, the field, and what was expected.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from assay.errors import ConfigError, ConfigErrors

Location = tuple[str | int, ...]
_BASE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BASE_LOADER):  # type: ignore[valid-type,misc]
    """The safe loader, with an impossible date (2027-02-30) a YAML error at its line
    rather than the ValueError PyYAML's timestamp constructor lets out."""

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"{node.value!r} is not a calendar date ({exc}); expected YYYY-MM-DD",
                node.start_mark,
            ) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)
_LOADER: type[yaml.SafeLoader] = _Loader


@dataclass(frozen=True)
class YamlDocument:
    source: str
    data: Any
    lines: dict[Location, int]

    def line(self, location: Iterable[str | int]) -> int:
        """The line of the deepest part of `location` that exists in the file (1 for the root)."""
        loc = tuple(location)
        while loc and loc not in self.lines:
            loc = loc[:-1]
        return self.lines.get(loc, 1)

    def error(
        self, message: str, location: Sequence[str | int] = (), remediation: str | None = None
    ) -> ConfigError:
        """An input error at `location`: ``source:line: field: message``."""
        return ConfigError(
            message,
            file=self.source,
            line=self.line(location),
            field=dotted(location) or None,
            remediation=remediation,
        )

    def schema_errors(self, schema: dict[str, Any]) -> ConfigErrors | None:
        """Every way the document breaks `schema`, or None when it conforms."""
        errors = [self.error(msg, loc) for loc, msg in schema_problems(schema, self)]
        return ConfigErrors(errors) if errors else None


def dotted(location: Iterable[str | int]) -> str:
    """`targets[0].provider` for ("targets", 0, "provider")."""
    out = ""
    for part in location:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# What a YAML parser reports it was reading when a construct never ended.
_OPENED = {
    "while parsing a flow sequence": "[ list",
    "while parsing a flow mapping": "{ mapping",
    "while scanning a quoted scalar": "quoted string",
}


def read_yaml(path: Path, text: str | None = None) -> YamlDocument:
    """Parse the one YAML document in `path` (or in `text`, named `path` in messages);
    every problem is a ConfigError naming the file, and where known the line and field."""
    if text is not None:
        return parse_yaml(text, str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", file=path) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason})", file=path) from None
    return parse_yaml(text, str(path))


def parse_yaml(text: str, source: str) -> YamlDocument:
    """Parse one YAML document; syntax errors and duplicate keys are errors with their line."""
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        opened = _OPENED.get(exc.context or "")
        if opened and exc.context_mark is not None:
            # The parser notices where it gave up (the next line, the end of the file);
            # the mistake is where the construct was opened.
            mark = exc.context_mark
            problem = f"{problem}: the {opened} that starts here is never closed"
        raise ConfigError(
            f"invalid YAML: {problem}", file=source, line=mark.line + 1 if mark else None
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=source, line=None) from None
    if node is None:
        raise ConfigError("the file is empty; expected a YAML mapping", file=source, line=1)
    lines: dict[Location, int] = {}
    _index(node, (), lines, source)
    loader = _LOADER("")
    try:
        data = loader.construct_document(node)
    except yaml.constructor.ConstructorError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        # The deepest field that starts on that line names where the value sits.
        at = max((loc for loc, n in lines.items() if n == line), key=len, default=())
        raise ConfigError(
            f"invalid YAML: {exc.problem}", file=source, line=line, field=dotted(at)
        ) from None
    finally:
        loader.dispose()
    return YamlDocument(source, data, lines)


def _index(node: yaml.Node, loc: Location, lines: dict[Location, int], source: str) -> None:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                raise ConfigError(
                    f"duplicate key {key!r} (first defined on line {seen[key]})",
                    file=source,
                    line=key_node.start_mark.line + 1,
                    field=dotted((*loc, key)),
                )
            seen[key] = key_node.start_mark.line + 1
            _index(value_node, (*loc, key), lines, source)
            # Point at the key, not at a nested value starting on the next line.
            lines[(*loc, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*loc, i), lines, source)


_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}


def _json_type(value: Any) -> str:
    for name, kind in (
        ("boolean", bool),
        ("integer", int),
        ("number", float),
        ("string", str),
        ("array", list),
        ("object", dict),
    ):
        if isinstance(value, kind):
            return _TYPE_NAMES[name]
    return "null" if value is None else type(value).__name__


def schema_problems(schema: dict[str, Any], doc: YamlDocument) -> Iterator[tuple[Location, str]]:
    """Every way `doc` breaks `schema`, in file order, as (location, what was expected)."""
    validator = jsonschema.Draft202012Validator(schema)
    for err in sorted(validator.iter_errors(doc.data), key=lambda e: doc.line(e.absolute_path)):
        yield describe(err)


def describe(err: jsonschema.ValidationError) -> tuple[Location, str]:
    loc: Location = tuple(err.absolute_path)
    schema = err.schema if isinstance(err.schema, dict) else {}
    got = json.dumps(err.instance, default=str)
    if err.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        unknown = sorted(set(err.instance) - set(allowed))[0]
        return (*loc, unknown), f"unknown field {unknown!r}; expected one of {', '.join(allowed)}"
    if err.validator == "required":
        missing = [r for r in err.validator_value if r not in err.instance]
        return loc, f"missing required field {missing[0]!r}"
    if err.validator == "enum":
        return loc, f"expected one of {', '.join(str(v) for v in err.validator_value)}; got {got}"
    if err.validator == "const":
        return loc, f"expected {json.dumps(err.validator_value)}; got {got}"
    if err.validator == "type":
        expected = _TYPE_NAMES.get(err.validator_value, str(err.validator_value))
        return loc, f"expected {expected}; got {_json_type(err.instance)} {got}"
    if err.validator == "anyOf":
        types = [s.get("type") for s in err.validator_value if isinstance(s, dict)]
        names = " or ".join(_TYPE_NAMES.get(t, str(t)) for t in types if t)
        return loc, f"expected {names or 'a valid value'}; got {_json_type(err.instance)} {got}"
    if err.validator == "oneOf" and all(
        isinstance(s, dict) and set(s) == {"required"} for s in err.validator_value
    ):
        names = " or ".join(repr(s["required"][0]) for s in err.validator_value)
        return loc, f"exactly one of {names} is required"
    if err.validator == "pattern":
        return loc, f"expected a value matching {err.validator_value}; got {got}"
    if err.validator == "minLength":
        if err.validator_value == 1:
            return loc, f"must not be empty; got {got}"
        return loc, f"expected at least {err.validator_value} characters; got {got}"
    if err.validator in ("minimum", "maximum"):
        bound = "at least" if err.validator == "minimum" else "at most"
        return loc, f"expected {bound} {err.validator_value}; got {got}"
    if err.validator == "minItems":
        return loc, f"expected at least {err.validator_value} item(s); got {got}"
    return loc, err.message
