"""The trusted-document mark is part of each event's digest: `audit verify` notices it changed or erased."""

from __future__ import annotations

import asyncpg
import pytest

from gateway.audit.chain import EventContent
from gateway.audit.writer import AuditWriter
from gateway.config import Settings
from tests.audit.conftest import Cli
from tests.audit.test_verify import tamper
from tests.databases import throwaway_database


def _event(request_id: str, trust: str) -> EventContent:
    return EventContent(
        request_id=request_id, client="trusted-test", division="customer_care", purpose="customer_care",
        regime="opt_out", campaign_id=None, operation_name="Exfiltrate", customer_id=None,
        disclosed=(), denied=(), policy_ids=(), document_id="sha256:" + "ab" * 32, document_trust=trust,
    )


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE audit_events SET document_trust = 'REGISTERED' WHERE request_id = 'refused'",
        "UPDATE audit_events SET document_id = NULL, document_trust = NULL WHERE request_id = 'refused'",
        "UPDATE audit_events SET document_id = 'sha256:' || repeat('cd', 32) WHERE request_id = 'refused'",
    ],
    ids=["trust changed", "mark erased", "document changed"],
)
async def test_a_changed_or_erased_mark_breaks_the_chain(server_url: str, change: str) -> None:
    async with throwaway_database(server_url, "cpni_trusted_marks") as url:
        writer = await AuditWriter.open(Settings(database_url=url), url)
        try:
            for request_id, trust in (("logged", "UNREGISTERED"), ("refused", "REFUSED"), ("ran", "REGISTERED")):
                await writer.append([_event(request_id, trust)])
        finally:
            await writer.close()
        clean = await Cli(url)("audit", "verify")
        assert clean.exit_code == 0, clean.output
        conn = await asyncpg.connect(url)
        victim = await conn.fetchval("SELECT id FROM audit_events WHERE request_id = 'refused'")
        await conn.close()
        await tamper(url, change)
        broken = await Cli(url)("audit", "verify")
        assert broken.exit_code == 1
        assert f"event id {victim}" in broken.output
