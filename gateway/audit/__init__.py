"""The audit trail: every request that reads or is denied customer data is recorded.
"""

from __future__ import annotations

from gateway.audit.writer import AuditUnavailable, AuditWriter

__all__ = ["AuditUnavailable", "AuditWriter"]
