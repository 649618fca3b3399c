"""``audit export`` (JSON lines, CSV) and ``audit campaigns`` (the 64.2009(c) record)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import asyncpg

from gateway.audit.chain import EventContent, link
from gateway.audit.export import FIELDS
from tests.audit.conftest import Cli
from tests.e2e.conftest import Gateway
from tests.e2e.helpers import approved_campaign
from tests.factories import make_customer

READ = "query($id: ID!) { customer(id: $id) { name services { plan } } }"


def lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line and not line.startswith("exported ")]


async def test_export_streams_every_event_of_the_period(
    gateway: Gateway, pool: asyncpg.Pool, database_url: str
) -> None:
    since = await pool.fetchval("SELECT now()")
    made = [await make_customer(pool) for _ in range(3)]
    for m in made:
        await gateway.query(READ, division="customer_care", variables={"id": str(m.id)})
    until = await pool.fetchval("SELECT clock_timestamp()")
    await gateway.query(READ, division="customer_care", variables={"id": str(made[0].id)})  # after `until`
    result = await Cli(database_url)("audit", "export", "--since", since.isoformat(), "--until", until.isoformat())
    assert result.exit_code == 0, result.output
    assert "exported 3 rows" in result.stderr
    events = [json.loads(line) for line in lines(result.stdout)]
    assert [e["customer_id"] for e in events] == [m.id for m in made]
    assert list(events[0]) == list(FIELDS)
    # Exports carry the chain, so they can be checked offline.
    e = events[0]
    fields = EventContent._fields
    content = EventContent(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in e.items() if k in fields})
    at = datetime.fromisoformat(e["at"])
    assert e["link_version"] == 2  # the link covers the event id
    expected = link(bytes.fromhex(e["prev_hash"]), e["chain"], e["seq"], at, content.digest(), e["id"])
    assert expected.hex() == e["hash"]


async def test_export_as_csv(gateway: Gateway, pool: asyncpg.Pool, database_url: str) -> None:
    since = await pool.fetchval("SELECT now()")
    made = await make_customer(pool)
    await gateway.query(READ, division="dex_directory", purpose="directory_publishing", variables={"id": str(made.id)})
    result = await Cli(database_url)("audit", "export", "--since", since.isoformat(), "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    [row] = [r for r in rows if r["customer_id"] == str(made.id)]
    assert row["division"] == "dex_directory"
    assert row["disclosed"] == "PUBLIC;SUBSCRIBER_LIST"
    assert row["denied"] == "SERVICE"


async def test_export_refuses_a_bad_date(database_url: str) -> None:
    result = await Cli(database_url)("audit", "export", "--since", "last tuesday")
    assert result.exit_code == 2
    assert "ISO 8601" in result.output


async def test_campaign_records_come_from_the_trail(gateway: Gateway, pool: asyncpg.Pool, database_url: str) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    campaign = await approved_campaign(pool, "marketing", "marketing_cross_category", ["SUBSCRIBER_LIST", "SERVICE"])
    reached = [await make_customer(pool, services=("LOCAL", "WIRELESS"), approval="OPT_IN") for _ in range(2)]
    opted_out = await make_customer(pool, services=("LOCAL",), approval="OPT_OUT")
    for m in [*reached, opted_out]:
        response = await gateway.query(
            "query($id: ID!) { customer(id: $id) { services { plan } } }",
            division="marketing",
            purpose="marketing_cross_category",
            variables={"id": str(m.id)},
            headers={"X-Campaign-Id": campaign},
        )
        assert response.status_code == 200
    result = await Cli(database_url)("audit", "campaigns", "--since", since.isoformat(), "--format", "json")
    assert result.exit_code == 0, result.output
    [record] = [r for r in json.loads(result.stdout) if r["id"] == campaign]
    assert record["description"] == "test campaign"
    assert record["cpni_used"] == ["SERVICE"]
    assert record["customers_reached"] == 2  # the opted-out customer's services were denied
    assert record["divisions"] == ["marketing"]
    assert record["owner"] == "marketing" and record["status"] == "APPROVED"
    text = await Cli(database_url)("audit", "campaigns", "--since", since.isoformat())
    assert f"campaign {campaign}" in text.stdout
    assert "customers reached:  2" in text.stdout


async def test_a_record_is_exported_as_its_row_and_verifies_offline(
    gateway: Gateway, pool: asyncpg.Pool, database_url: str
) -> None:
    since = await pool.fetchval("SELECT now()")
    made = [await make_customer(pool) for _ in range(3)]
    ids = ", ".join(f'c{m.id}: customer(id: "{m.id}") {{ name }}' for m in made)
    response = await gateway.query(f"{{ {ids} }}", division="customer_care")
    assert response.status_code == 200
    result = await Cli(database_url)("audit", "export", "--since", since.isoformat())
    assert result.exit_code == 0, result.output
    [e] = [json.loads(line) for line in lines(result.stdout)]
    assert (e["customer_id"], e["customer_ids"]) == (None, [m.id for m in made])
    content = EventContent(
        **{k: (tuple(v) if isinstance(v, list) else v) for k, v in e.items() if k in EventContent._fields}
    )
    expected = link(
        bytes.fromhex(e["prev_hash"]), e["chain"], e["seq"], datetime.fromisoformat(e["at"]), content.digest(), e["id"]
    )
    assert expected.hex() == e["hash"]
    csv_result = await Cli(database_url)("audit", "export", "--since", since.isoformat(), "--format", "csv")
    [row] = list(csv.DictReader(io.StringIO(csv_result.stdout)))
    assert (row["customer_id"], row["customer_ids"]) == ("", ";".join(str(m.id) for m in made))


async def test_campaign_records_count_each_customer_of_a_record(
    gateway: Gateway, pool: asyncpg.Pool, database_url: str
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    campaign = await approved_campaign(pool, "marketing", "marketing_cross_category", ["SUBSCRIBER_LIST", "SERVICE"])
    reached = [await make_customer(pool, services=("LOCAL", "WIRELESS"), approval="OPT_IN") for _ in range(3)]
    opted_out = await make_customer(pool, services=("LOCAL",), approval="OPT_OUT")
    ids = ", ".join(f'c{m.id}: customer(id: "{m.id}") {{ services {{ plan }} }}' for m in [*reached, opted_out])
    for _ in range(2):  # the same customers twice: reached once each
        response = await gateway.query(
            f"{{ {ids} }}",
            division="marketing",
            purpose="marketing_cross_category",
            headers={"X-Campaign-Id": campaign},
        )
        assert response.status_code == 200
    assert await pool.fetchval("SELECT count(*) FROM audit_events WHERE campaign_id = $1", campaign) == 4
    result = await Cli(database_url)("audit", "campaigns", "--since", since.isoformat(), "--format", "json")
    assert result.exit_code == 0, result.output
    [record] = [r for r in json.loads(result.stdout) if r["id"] == campaign]
    assert record["customers_reached"] == 3
