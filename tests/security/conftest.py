"""The security suite calls the same in-process gateway as the end-to-end tests."""

from tests.e2e.conftest import gateway, opt_in_gateway  # noqa: F401
