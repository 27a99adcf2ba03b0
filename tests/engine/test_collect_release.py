"""Each collector runs inside its connection's `collecting()`, when the connection has one,
from its start to its last resource, failing or not."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest

from assay.checks import registry
from assay.engine.collect import collect_types
from assay.engine.models import Target
from assay.engine.planner import PlannedTarget


class Holding:
    """A connection that says, for each resource, whether a collection context is open."""

    def __init__(self) -> None:
        self.open = 0
        self.entered = 0

    @contextmanager
    def collecting(self) -> Iterator[None]:
        self.open += 1
        self.entered += 1
        try:
            yield
        finally:
            self.open -= 1


@pytest.fixture(autouse=True)
def widget_collectors() -> Iterator[None]:
    with registry.isolated():

        @registry.collector("test.widget", permissions=["test:List"])
        def widgets(conn: Any) -> Iterator[dict[str, Any]]:
            # A generator: its resources are made while the engine reads them.
            for i in range(3):
                yield {
                    "type": "test.widget",
                    "id": f"w-{i}",
                    "scope": {},
                    "attributes": {"inside": conn.open},
                }

        @registry.collector("test.gadget", permissions=["test:List"])
        def gadgets(conn: Any) -> Iterator[dict[str, Any]]:
            yield {"type": "test.gadget", "id": "g-0", "scope": {}, "attributes": {}}
            raise RuntimeError("the listing broke")

        yield


def planned() -> PlannedTarget:
    return PlannedTarget(
        Target(name="t", provider="test"), registry.NoParams(), ("test.gadget", "test.widget")
    )


def test_collectors_run_inside_the_connections_collecting() -> None:
    conn = Holding()
    with ThreadPoolExecutor(2) as pool:
        resources, failures = collect_types(
            conn, planned(), ["test.widget", "test.gadget"], pool=pool, timeout=10
        )

    assert [r["attributes"]["inside"] for r in resources] == [1, 1, 1]
    assert [f.reason for f in failures] == [
        "collecting test.gadget failed: RuntimeError: the listing broke"
    ]
    # Entered once per collector, and left by each, the failing one too.
    assert (conn.entered, conn.open) == (2, 0)


def test_a_connection_without_collecting_is_collected_as_it_is() -> None:
    class Plain:
        open = "no context"

    with ThreadPoolExecutor(1) as pool:
        resources, _ = collect_types(Plain(), planned(), ["test.widget"], pool=pool, timeout=10)

    assert [r["attributes"]["inside"] for r in resources] == ["no context"] * 3
