"""The fenced blocks of the docs, found by a CommonMark parser (markdown-it-py), with markers.

Conventions the docs follow, so that every block is either run, validated, or shown as
output on purpose:

- ```sh / ```bash / ```shell: a script a user types, run as a whole;
  ```console: `$ ` lines are commands (a trailing backslash continues one), the rest is
  output; ```text: output only, never run.
- ```yaml KIND: KIND says what the YAML is and so which validator it must pass: `profile`,
  `control`, `rule` (a control's inline rule), `datamap`, or `kubernetes` (a manifest).
- HTML comments on the lines just before a fence qualify it:
  `<!-- requires: NAME ... -->` what the block needs (see doc_env: some the test provides,
  the others skip the block with their reason), `<!-- exit: N -->` the status the block ends
  with when it is not 0, `<!-- xfail: REASON -->` a block known not to work as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt

SHELL = {"sh", "bash", "shell"}
CONSOLE = "console"
YAML_KINDS = {"profile", "control", "rule", "datamap", "kubernetes"}
MARKER = re.compile(r"^<!--\s*(requires|exit|xfail):\s*(.*?)\s*-->$")
_parser = MarkdownIt("commonmark")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    info: tuple[str, ...]
    text: str
    markers: dict[str, str] = field(default_factory=dict)

    @property
    def lang(self) -> str:
        return self.info[0] if self.info else ""

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"

    @property
    def requires(self) -> tuple[str, ...]:
        return tuple(self.markers.get("requires", "").split())

    @property
    def exit_code(self) -> int:
        return int(self.markers.get("exit", "0"))

    @property
    def is_command(self) -> bool:
        return self.lang in SHELL or self.lang == CONSOLE

    def script(self) -> str:
        """What a user types: the whole block, or a console block's `$ ` commands."""
        if self.lang != CONSOLE:
            return self.text
        commands: list[str] = []
        continued = False
        for line in self.text.splitlines():
            if continued or line.startswith("$ "):
                commands.append(line if continued else line[2:])
                continued = line.endswith("\\")
        return "\n".join(commands) + "\n"


def blocks(path: Path) -> list[Block]:
    """Every fenced block of the Markdown file at `path`, in order, with its markers."""
    tokens = _parser.parse(path.read_text(encoding="utf-8"))
    found = []
    for i, tok in enumerate(tokens):
        if tok.type != "fence" or tok.map is None:
            continue
        markers: dict[str, str] = {}
        j = i - 1
        while j >= 0 and tokens[j].type == "html_block":
            for line in tokens[j].content.strip().splitlines():
                m = MARKER.match(line.strip())
                if m is None:
                    raise ValueError(f"{path.name}:{i}: not a marker before a block: {line}")
                markers[m.group(1)] = m.group(2)
            j -= 1
        found.append(Block(path, tok.map[0] + 1, tuple(tok.info.split()), tok.content, markers))
    return found


def stray_comment_text(path: Path) -> list[str]:
    """Text that renders as part of an HTML comment: a `-->` or `<!--` outside any comment
    (a note whose opening or closing was lost shows on the page as text)."""
    tokens = _parser.parse(path.read_text(encoding="utf-8"))
    found = []
    for tok in tokens:
        if tok.type != "inline" or tok.map is None:
            continue
        for child in tok.children or []:
            if child.type == "text" and ("-->" in child.content or "<!--" in child.content):
                found.append(f"{path.name}:{tok.map[0] + 1}: {child.content.strip()[:80]}")
    return found
