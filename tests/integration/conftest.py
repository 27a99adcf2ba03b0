"""Fixtures for tests that start real servers."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest


def _set_auth(url: str, free_requests: str) -> None:
    # Not form-encoded (urllib's default), or the server would parse the body away.
    request = urllib.request.Request(
        f"{url}/moto-api/reset-auth",
        data=free_requests.encode(),
        headers={"Content-Type": "text/plain"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


@contextmanager
def _enforced(url: str) -> Iterator[None]:
    _set_auth(url, "0")
    try:
        yield
    finally:
        _set_auth(url, "inf")


@pytest.fixture
def iam_enforced() -> Callable[[str], AbstractContextManager[None]]:
    """`with iam_enforced(url):` moto checks every call against IAM policies inside the block."""
    return _enforced
