"""How a request's events become the rows that store them (gateway.audit.group.records)."""

from __future__ import annotations

import pytest

from gateway.audit.chain import EventContent
from gateway.audit.group import Append, records


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
