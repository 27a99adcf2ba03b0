"""Fixtures for tests that start real servers."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

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


@pytest.fixture(scope="module")
def aws_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The standard credential chain, pointed away from the developer's own AWS setup: its
    files in this folder, the emulator's keys, no profile, region or endpoint inherited."""
    home = tmp_path_factory.mktemp("aws")
    with pytest.MonkeyPatch.context() as mp:
        for name in (
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_DEFAULT_REGION",
            "AWS_REGION",
            "AWS_ENDPOINT_URL",
        ):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_CONFIG_FILE", str(home / "config"))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "credentials"))
        yield home


@pytest.fixture
def iam_enforced() -> Callable[[str], AbstractContextManager[None]]:
    """`with iam_enforced(url):` moto checks every call against IAM policies inside the block."""
    return _enforced
