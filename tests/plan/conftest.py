"""The planner's tests call the same in-process gateway as the end-to-end tests."""

from tests.e2e.conftest import gateway  # noqa: F401
