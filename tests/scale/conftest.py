"""The scale-out tests use the session gateway of the end-to-end tests."""

from __future__ import annotations

from tests.e2e.conftest import gateway  # noqa: F401 (fixture)
