"""Fixtures for evidence tests: every backend in `evidence_backends.BACKENDS`, and keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from evidence_backends import BACKEND_PARAMS, BACKENDS, Backend

from assay.evidence import SigningKey


@pytest.fixture(params=BACKEND_PARAMS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    made = BACKENDS[request.param](request, tmp_path)
    yield made
    made.close()


@pytest.fixture(scope="session")
def log_key() -> SigningKey:
    return SigningKey.generate("example.com/evidence/test")


@pytest.fixture(scope="session")
def other_key() -> SigningKey:
    return SigningKey.generate("example.com/evidence/test")
