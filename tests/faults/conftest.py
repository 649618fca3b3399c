"""The fault suite's PostgreSQL: its own embedded server in a temporary directory (see stack.py)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.stack import Postgres


@pytest.fixture(scope="package")
def postgres() -> Iterator[Postgres]:
    # A short path: the server's Unix socket lives in it.
    server = Postgres(Path(tempfile.mkdtemp(prefix="cpni-faults-")))
    yield server
    server.cleanup()
