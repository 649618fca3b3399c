"""Fixtures of the bench tests: throwaway databases, as the audit tests use."""

from tests.audit.conftest import fresh_database

__all__ = ["fresh_database"]
