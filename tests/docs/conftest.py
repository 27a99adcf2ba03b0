"""One DocSession per Markdown file, shared by its blocks in order and closed at the end."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from doc_env import DocSession


@pytest.fixture(scope="module")
def doc_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], DocSession]]:
    sessions: dict[str, DocSession] = {}
    with ExitStack() as stack:

        def session(name: str) -> DocSession:
            if name not in sessions:
                base: Path = tmp_path_factory.mktemp(name.replace("/", "-"))
                sessions[name] = DocSession(name, base, stack)
            return sessions[name]

        yield session
