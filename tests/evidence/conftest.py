"""Fixtures for evidence tests: every backend in `evidence_backends.BACKENDS`, and keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from evidence_backends import BACKENDS, Backend

from assay.evidence import SigningKey


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    made = BACKENDS[request.param](tmp_path)
    yield made
    made.close()


@pytest.fixture(scope="session")
def log_key() -> SigningKey:
    return SigningKey.generate("example.com/evidence/test")


@pytest.fixture(scope="session")
def other_key() -> SigningKey:
    return SigningKey.generate("example.com/evidence/test")
