"""How a request's events become the rows that store them (gateway.audit.group.records)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from gateway.audit.chain import EventContent
from gateway.audit.group import Append, records
from gateway.audit.writer import request_events, request_records
from gateway.authz.decide import Authorizer
from gateway.authz.model import ApprovalStatus, Category, Decision, Facts, Purpose, Regime
from gateway.authz.policy import load_policy
from gateway.resolvers.database import Database
from gateway.resolvers.loaders import Loaders
from gateway.schema.context import Alike, Decisions


def event(customer_id: int | None, denied: tuple[str, ...] = (), request_id: str = "r-1") -> EventContent:
    return EventContent(
        request_id=request_id, client="c", division="marketing", purpose="marketing_cross_category",
        regime="opt_out", campaign_id="k-1", operation_name="Page", customer_id=customer_id,
        disclosed=("PUBLIC",) if denied else ("PUBLIC", "SERVICE"), denied=denied, policy_ids=("p",),
    )  # fmt: skip


def test_customers_treated_alike_become_one_record_in_their_order() -> None:
    [record] = records([event(5), event(3), event(9)])
    assert (record.customer_id, record.customer_ids) == (None, (5, 3, 9))
    assert record._replace(customer_ids=None, customer_id=5) == event(5)


def test_each_shape_has_its_row_in_the_order_of_its_first_event() -> None:
    rows = records(
        [
            event(1),
            event(2, ("SERVICE",)),
            event(3),
            event(None, ("USAGE",)),
            event(4, ("SERVICE",)),
            event(5, ("USAGE",)),
        ]
    )
    assert [(r.customer_id, r.customer_ids, r.denied) for r in rows] == [
        (None, (1, 3), ()),
        (None, (2, 4), ("SERVICE",)),
        (None, None, ("USAGE",)),  # tied to no customer: never part of a record
        (5, None, ("USAGE",)),  # alone in its shape: stored as one event, as before records
    ]


def test_a_record_digest_covers_its_customers_and_their_order() -> None:
    digests = {records([event(a), event(b)])[0].digest() for a, b in ((1, 2), (2, 1), (1, 3))}
    assert len(digests) == 3
    assert records([event(1)])[0].digest() == event(1).digest()


def test_an_append_counts_events_not_rows() -> None:
    append = Append.of([event(n) for n in range(50)] + [event(99, ("SERVICE",))])
    assert (len(append.rows), append.events) == (2, 51)
    assert append.rows[0][1] == "{" + ",".join(str(n) for n in range(50)) + "}"


def test_an_append_takes_events_not_records() -> None:
    with pytest.raises(ValueError):
        Append.of(records([event(1), event(2)]))


# -- a request's records made at once (gateway.audit.writer.request_records) ------------------------

AUTHORIZER = Authorizer(load_policy(), Regime.OPT_OUT)
OPTED_IN = Facts(frozenset(), False, False, ApprovalStatus.OPT_IN, False, False, True)
NOT_ASKED = Facts(frozenset(), False, False, ApprovalStatus.NONE, False, False, False)
SERVICE_ALLOWED = Alike.of(((Category.SERVICE, Decision(True, ("marketing-opt-in-approval",))),))
BILLING_DENIED = Alike.of(((Category.BILLING, Decision(False, ())),))


def page_context() -> Any:
    """A marketing request's context after a page: customers alike, a customer decided one at a time, one only seen."""
    division = AUTHORIZER.divisions["marketing"]
    decisions = Decisions(AUTHORIZER, division, Purpose("marketing_cross_category"), Loaders(Database(None)))
    for customer_id in (12, 3, 7, 30, 5):
        decisions.note_public(customer_id)
        decisions.record_alike(customer_id, SERVICE_ALLOWED if customer_id % 2 else BILLING_DENIED)
    decisions.check_loaded(8, Category.CONTACT, None, OPTED_IN)
    decisions.check_loaded(8, Category.USAGE, None, NOT_ASKED)
    decisions.note_public(40)
    return SimpleNamespace(
        decisions=decisions, trusted_document=("doc-1", "REGISTERED"), request_id="r-9", client="c",
        division=division, purpose=Purpose("marketing_cross_category"), campaign=SimpleNamespace(id="k-1"),
    )  # fmt: skip


@pytest.mark.parametrize("withheld", [False, True])
@pytest.mark.parametrize("denied_categories", [(), ("CONTACT",), ("BILLING", "CONTACT")])
def test_a_requests_records_are_the_records_of_its_events(withheld: bool, denied_categories: tuple[str, ...]) -> None:
    ctx = page_context()
    options: dict[str, Any] = {"withheld": withheld, "denied_categories": denied_categories}
    events = request_events(ctx, "Page", Regime.OPT_OUT, **options)
    made = request_records(ctx, "Page", Regime.OPT_OUT, **options)
    assert made == records(events)
    assert [r.customer_ids or r.customer_id for r in made][:3] == [(3, 5, 7), 8, (12, 30)]
    assert Append.of_records(made) == Append.of(events)


def test_a_lookup_that_found_no_one_is_one_record_without_a_customer() -> None:
    ctx = page_context()
    ctx.decisions = Decisions(AUTHORIZER, ctx.division, ctx.purpose, Loaders(Database(None)))
    ctx.decisions.note_lookup()
    [row] = request_records(ctx, "Lookup", Regime.OPT_OUT)
    assert (row.customer_id, row.customer_ids, row.disclosed, row.denied) == (None, None, (), ())
    assert Append.of_records([row]).events == 1


@pytest.mark.parametrize(
    "rows",
    [
        [event(None)._replace(customer_ids=(1,))],  # a record of one
        [event(4)._replace(customer_ids=(1, 2))],  # a record beside a customer id
        [event(None)._replace(customer_ids=(1, 2)), event(2, ("SERVICE",))],  # a customer twice
        [event(1), event(2, request_id="r-2")],  # two requests
        [event(None)._replace(customer_ids=(1, "2"))],  # not an integer
        [event(None)._replace(customer_ids=(1, 2**63))],  # not a bigint
        [],
    ],
)
def test_an_append_of_records_refuses_what_records_never_make(rows: list[EventContent]) -> None:
    with pytest.raises((ValueError, TypeError)):
        Append.of_records(rows)
