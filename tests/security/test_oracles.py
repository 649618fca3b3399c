"""Authorization bypass and oracles: nothing a response says depends on a row the caller may not match.

Each oracle case builds two worlds that differ only in customers the caller
may not match (denied rows present, or absent altogether) and asserts the
caller's responses are the same in both: the same edges, the same
``hasNextPage`` page after page, cursors of the same length (their bytes are
random). Cursors are opaque: they cannot be read, forged, altered or used by
another caller, filter or connection (``BAD_USER_INPUT``).
"""

from __future__ import annotations

import base64
import itertools
from typing import Any

import asyncpg
import pytest

from tests.e2e.conftest import Gateway
from tests.e2e.helpers import approved_campaign
from tests.factories import make_customer

PAGE = """
query($first: Int, $after: String, $f: CustomerFilter) {
  customers(first: $first, after: $after, filter: $f) {
    edges { cursor node { id name } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
_worlds = itertools.count(1)


def prefix() -> str:
    """A name prefix of this world only, so a filter sees no other test's customers."""
    return f"Oracle{next(_worlds):04d}q"


async def walk(
    gateway: Gateway, *, division: str, purpose: str, f: dict[str, Any], first: int, headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Every page of a filtered walk, following endCursor while hasNextPage."""
    pages: list[dict[str, Any]] = []
    after = None
    while True:
        response = await gateway.query(
            PAGE, division=division, purpose=purpose, headers=headers,
            variables={"first": first, "after": after, "f": f},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        page = body["data"]["customers"]
        pages.append(page)
        assert len(pages) < 50
        if not page["pageInfo"]["hasNextPage"]:
            return pages
        after = page["pageInfo"]["endCursor"]


def shape(pages: list[dict[str, Any]], world_prefix: str) -> list[dict[str, Any]]:
    """What a caller learns from a walk, with the world's own names and the random cursor bytes taken out."""
    return [
        {
            "names": [e["node"]["name"].removeprefix(world_prefix) for e in page["edges"]],
            "cursor_lengths": [len(e["cursor"]) for e in page["edges"]],
            "has_next": page["pageInfo"]["hasNextPage"],
            "end_cursor_length": len(page["pageInfo"]["endCursor"] or ""),
            "end_is_last_edge": page["pageInfo"]["endCursor"] == (page["edges"][-1]["cursor"] if page["edges"] else None),
        }
        for page in pages
    ]


async def marketing_world(pool: asyncpg.Pool, *, with_opted_out: bool) -> str:
    """Wireless customers, opted in and (optionally) opted out, interleaved by id."""
    p = prefix()
    for n in range(4):
        await make_customer(pool, services=("WIRELESS",), approval="OPT_IN", name=f"{p} allowed {n}")
        if with_opted_out:
            for k in range(3):
                await make_customer(pool, services=("WIRELESS",), approval="OPT_OUT", name=f"{p} opted out {n}.{k}")
    return p


@pytest.mark.parametrize("first", [1, 2, 3, 4])
async def test_marketing_pages_over_a_service_filter_are_the_same_with_or_without_opted_out_customers(
    gateway: Gateway, pool: asyncpg.Pool, first: int
) -> None:
    campaign = {"X-Campaign-Id": await approved_campaign(pool, "marketing", "marketing_cross_category")}
    walks = []
    for with_opted_out in (True, False):
        p = await marketing_world(pool, with_opted_out=with_opted_out)
        pages = await walk(
            gateway, division="marketing", purpose="marketing_cross_category", headers=campaign,
            f={"namePrefix": p, "serviceCategory": "WIRELESS"}, first=first,
        )
        walks.append(shape(pages, p))
    assert walks[0] == walks[1]
    names = [n for page in walks[0] for n in page["names"]]
    assert names == [f" allowed {n}" for n in range(4)]
    assert walks[0][-1]["has_next"] is False


async def test_has_next_page_is_false_when_only_denied_rows_follow(gateway: Gateway, pool: asyncpg.Pool) -> None:
    campaign = {"X-Campaign-Id": await approved_campaign(pool, "marketing", "marketing_cross_category")}
    p = prefix()
    allowed = await make_customer(pool, services=("WIRELESS",), approval="OPT_IN", name=f"{p} allowed")
    for k in range(5):
        await make_customer(pool, services=("WIRELESS",), approval="OPT_OUT", name=f"{p} opted out {k}")
    pages = await walk(
        gateway, division="marketing", purpose="marketing_cross_category", headers=campaign,
        f={"namePrefix": p, "serviceCategory": "WIRELESS"}, first=1,
    )
    assert len(pages) == 1
    assert [e["node"]["id"] for e in pages[0]["edges"]] == [str(allowed.id)]
    assert pages[0]["pageInfo"]["hasNextPage"] is False
    assert pages[0]["pageInfo"]["endCursor"] == pages[0]["edges"][0]["cursor"]


async def test_provisioning_cannot_tell_who_has_another_divisions_service(gateway: Gateway, pool: asyncpg.Pool) -> None:
    walks = []
    for with_long_distance in (True, False):
        p = prefix()
        for n in range(3):
            services = ("WIRELESS", "LONG_DISTANCE") if with_long_distance else ("WIRELESS",)
            await make_customer(pool, services=services, name=f"{p} customer {n}")
        pages = await walk(
            gateway, division="wireless", purpose="provisioning",
            f={"namePrefix": p, "serviceCategory": "LONG_DISTANCE"}, first=1,
        )
        walks.append(shape(pages, p))
    assert walks[0] == walks[1] == [
        {"names": [], "cursor_lengths": [], "has_next": False, "end_cursor_length": 0, "end_is_last_edge": True}
    ]


async def test_a_partner_cannot_read_an_unapproved_name_letter_by_letter(gateway: Gateway, pool: asyncpg.Pool) -> None:
    campaign = {"X-Campaign-Id": await approved_campaign(pool, "partner", "third_party_marketing")}
    answers = []
    for with_secret in (True, False):
        p = prefix()
        await make_customer(pool, approval="OPT_IN", name=f"{p} Visible")
        if with_secret:
            await make_customer(pool, approval="OPT_OUT", name=f"{p} Secretname")
        guesses = []
        for letters in ("", " ", " S", " Se", " Sec", " V"):
            pages = await walk(
                gateway, division="partner", purpose="third_party_marketing", headers=campaign,
                f={"namePrefix": p + letters}, first=1,
            )
            guesses.append(shape(pages, p))
        answers.append(guesses)
    assert answers[0] == answers[1]
    assert answers[0][3] == [
        {"names": [], "cursor_lengths": [], "has_next": False, "end_cursor_length": 0, "end_is_last_edge": True}
    ]


async def test_a_walk_reaches_exactly_the_customers_the_caller_may_match(gateway: Gateway, pool: asyncpg.Pool) -> None:
    campaign = {"X-Campaign-Id": await approved_campaign(pool, "marketing", "marketing_cross_category")}
    p = prefix()
    expected = []
    for n in range(12):
        approval = ("OPT_IN", "OPT_OUT", None)[n % 3]
        notice = 45 if n % 4 == 0 else None  # an opt-out notice old enough: NONE then counts as approval
        made = await make_customer(
            pool, services=("WIRELESS", "LOCAL"), approval=approval, notice_days_ago=notice, name=f"{p} {n:02d}"
        )
        if approval == "OPT_IN" or (approval is None and notice is not None):
            expected.append(str(made.id))
    pages = await walk(
        gateway, division="marketing", purpose="marketing_cross_category", headers=campaign,
        f={"namePrefix": p, "serviceCategory": "LOCAL"}, first=2,
    )
    reached = [e["node"]["id"] for page in pages for e in page["edges"]]
    assert reached == expected
    assert all(page["edges"] for page in pages)  # no empty page before the end


# -- cursors are opaque ------------------------------------------------------


async def first_page(gateway: Gateway, **kwargs: Any) -> dict[str, Any]:
    response = await gateway.query(PAGE, variables={"first": 1, "f": kwargs.pop("f", None)}, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()["data"]["customers"]  # type: ignore[no-any-return]


async def refused(gateway: Gateway, after: str, **kwargs: Any) -> None:
    f = kwargs.pop("f", None)
    response = await gateway.query(PAGE, variables={"first": 1, "after": after, "f": f}, **kwargs)
    assert response.status_code == 400, response.text
    body = response.json()
    assert "data" not in body or body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


async def test_a_cursor_reveals_no_customer_id(gateway: Gateway, pool: asyncpg.Pool) -> None:
    await make_customer(pool)
    page = await first_page(gateway, division="customer_care")
    cursor = page["pageInfo"]["endCursor"]
    node_id = page["edges"][0]["node"]["id"]
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    assert node_id.encode() not in raw and node_id not in cursor
    assert int(node_id).to_bytes(8, "big") not in raw
    again = await first_page(gateway, division="customer_care")
    assert again["edges"][0]["node"]["id"] == node_id
    assert again["pageInfo"]["endCursor"] != cursor  # sealed with a fresh nonce each time


async def test_the_plain_cursors_of_old_are_refused(gateway: Gateway, pool: asyncpg.Pool) -> None:
    for forged in (
        base64.urlsafe_b64encode(b"cursor:v1:900000").decode(),
        base64.urlsafe_b64encode(b"\x01" + b"\x00" * 40).decode(),
        "not a cursor",
        "",
        "A" * 4000,
        "\u00e9t\u00e9",
    ):
        await refused(gateway, forged, division="customer_care")


async def test_an_altered_cursor_is_refused(gateway: Gateway, pool: asyncpg.Pool) -> None:
    await make_customer(pool)
    cursor = (await first_page(gateway, division="customer_care"))["pageInfo"]["endCursor"]
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    for index in (0, 5, len(raw) // 2, len(raw) - 1):
        altered = raw.copy()
        altered[index] ^= 0x01
        await refused(gateway, base64.urlsafe_b64encode(bytes(altered)).decode().rstrip("="), division="customer_care")
    await refused(gateway, cursor[:-2], division="customer_care")


async def test_a_cursor_only_pages_for_its_caller_filter_and_connection(gateway: Gateway, pool: asyncpg.Pool) -> None:
    await make_customer(pool, services=("WIRELESS",), state="NV")
    f = {"state": "NV"}
    cursor = (await first_page(gateway, division="customer_care", f=f))["pageInfo"]["endCursor"]
    # The same caller and filter: it pages.
    response = await gateway.query(PAGE, division="customer_care", variables={"first": 1, "after": cursor, "f": f})
    assert response.status_code == 200, response.text
    # Another filter, another division, another purpose, another client: refused.
    await refused(gateway, cursor, division="customer_care", f={"state": "UT"})
    await refused(gateway, cursor, division="customer_care", f=None)
    await refused(gateway, cursor, division="fraud_security", purpose="fraud_protection", f=f)
    await refused(gateway, cursor, division="network_ops", purpose="provisioning", f=f)
    other_client = gateway.token("customer_care")
    from gateway.auth import issue_token
    from tests.e2e.conftest import _divisions

    stranger = issue_token(
        gateway.settings, division=_divisions()["customer_care"], purposes=_divisions()["customer_care"].purposes,
        ttl_seconds=600, client="another-care-frontend",
    )
    assert stranger != other_client
    await refused(gateway, cursor, division="customer_care", token=stranger, f=f)
    # The audit trail's connection does not take a customers cursor.
    response = await gateway.query(
        "query($a: String) { auditEvents(first: 1, after: $a) { edges { cursor } } }",
        division="privacy_office", purpose="compliance_audit", variables={"a": cursor},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_an_audit_cursor_pages_the_audit_trail_and_nothing_else(gateway: Gateway, pool: asyncpg.Pool) -> None:
    await make_customer(pool)
    await first_page(gateway, division="customer_care")
    await first_page(gateway, division="customer_care")
    query = "query($a: String) { auditEvents(first: 1, after: $a) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }"
    first = await gateway.query(query, division="privacy_office", purpose="compliance_audit", variables={"a": None})
    page = first.json()["data"]["auditEvents"]
    assert page["pageInfo"]["hasNextPage"] is True
    cursor = page["pageInfo"]["endCursor"]
    second = await gateway.query(query, division="privacy_office", purpose="compliance_audit", variables={"a": cursor})
    assert second.status_code == 200, second.text
    assert second.json()["data"]["auditEvents"]["edges"][0]["node"]["id"] != page["edges"][0]["node"]["id"]
    await refused(gateway, cursor, division="customer_care")


# -- customerByPhone ---------------------------------------------------------

BY_PHONE = "query($p: String!) { customerByPhone(phone: $p) { id name } }"


async def test_a_non_published_number_answers_exactly_as_an_unknown_one(gateway: Gateway, pool: asyncpg.Pool) -> None:
    unlisted = await make_customer(pool, listed=False)
    answers = []
    for phone in (unlisted.contact_phone, "+19995550000"):
        response = await gateway.query(
            BY_PHONE, division="dex_directory", purpose="directory_publishing", variables={"p": phone}
        )
        events = await pool.fetch(
            "SELECT customer_id, disclosed FROM audit_events WHERE request_id = $1", response.headers["X-Request-Id"]
        )
        answers.append(
            {
                "status": response.status_code,
                "body": response.content,
                "round_trips": response.headers.get("Server-Timing"),
                "audit_events": len(events),
                "disclosed": [list(e["disclosed"]) for e in events],
            }
        )
    assert answers[0] == answers[1]
    assert answers[0]["body"] == b'{"data":{"customerByPhone":null}}'
    assert answers[0]["audit_events"] == 1  # the lookup is audited either way


async def test_a_published_number_is_found_by_the_directory(gateway: Gateway, pool: asyncpg.Pool) -> None:
    listed = await make_customer(pool)
    response = await gateway.query(
        BY_PHONE, division="dex_directory", purpose="directory_publishing", variables={"p": listed.phone}
    )
    assert response.json() == {"data": {"customerByPhone": {"id": str(listed.id), "name": f"Test Customer {listed.id}"}}}
