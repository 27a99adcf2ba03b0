"""YAML documents that remember where each value came from, for error messages."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from assay.engine.errors import ConfigError

Location = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlDocument:
    path: Path
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
        return ConfigError(
            message,
            file=self.path,
            line=self.line(location),
            field=dotted(location) or None,
            remediation=remediation,
        )


def dotted(location: Iterable[str | int]) -> str:
    out = ""
    for part in location:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def read_yaml(path: Path, text: str | None = None) -> YamlDocument:
    """Parse one YAML document, rejecting syntax errors and duplicate keys with their line."""
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read file: {exc.strerror}", file=path) from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"not UTF-8 text ({exc.reason})", file=path) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"invalid YAML: {problem}", file=path, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=path) from None
    if node is None:
        raise ConfigError("the file is empty; expected a YAML mapping", file=path, line=1)
    lines: dict[Location, int] = {}
    _index(node, (), lines, path)
    loader = yaml.SafeLoader("")
    try:
        data = loader.construct_document(node)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise ConfigError(
            f"invalid YAML: {exc.problem}", file=path, line=mark.line + 1 if mark else None
        ) from None
    finally:
        loader.dispose()
    return YamlDocument(path, data, lines)


def _index(node: yaml.Node, loc: Location, lines: dict[Location, int], path: Path) -> None:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                raise ConfigError(
                    f"duplicate key {key!r} (first defined on line {seen[key]})",
                    file=path,
                    line=key_node.start_mark.line + 1,
                    field=dotted((*loc, key)),
                )
            seen[key] = key_node.start_mark.line + 1
            _index(value_node, (*loc, key), lines, path)
            # Point at the key, not at a nested value starting on the next line.
            lines[(*loc, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*loc, i), lines, path)
