"""The fault suite's PostgreSQL: its own embedded server in a temporary directory (see stack.py)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.stack import Postgres


@pytest.fixture(scope="package")
def postgres() -> Iterator[Postgres]:
    # A short path: the server's Unix socket lives in it.
    data_dir = Path(tempfile.mkdtemp(prefix="cpni-faults-"))
    server = Postgres(data_dir)
    yield server
    server.cleanup()
    shutil.rmtree(data_dir, ignore_errors=True)  # the gateways' logs
