"""What a request's `Decisions` remembers per customer: the shapes its audit events and metrics are made of."""

from __future__ import annotations

from typing import Any

from gateway.authz.decide import Authorizer
from gateway.authz.model import ApprovalStatus, Category, Decision, Facts, Purpose, Regime
from gateway.authz.policy import load_policy
from gateway.resolvers.database import Database
from gateway.resolvers.loaders import Loaders
from gateway.schema.context import PUBLIC_ONLY, Alike, Decisions, Shape

AUTHORIZER = Authorizer(load_policy(), Regime.OPT_OUT)
OPTED_IN = Facts(frozenset(), False, False, ApprovalStatus.OPT_IN, False, False, True)
NO_DATABASE: Any = None  # nothing here reads the database


def decisions() -> Decisions:
    division = AUTHORIZER.divisions["marketing"]
    return Decisions(AUTHORIZER, division, Purpose("marketing_cross_category"), Loaders(Database(NO_DATABASE)))


SERVICE_ALLOWED = Alike.of(((Category.SERVICE, Decision(True, ("marketing-opt-in-approval",))),))
BILLING_DENIED = Alike.of(((Category.BILLING, Decision(False, ())),))


def test_customers_recorded_alike_share_one_shape_with_their_public_fields() -> None:
    made = decisions()
    for customer_id in (3, 1, 2):
        made.note_public(customer_id)
        made.record_alike(customer_id, SERVICE_ALLOWED)
    made.note_public(4)
    shapes = made.shapes()
    assert [customer_id for customer_id, _ in shapes] == [1, 2, 3, 4]  # in customer id order
    first, second, third, only_public = (shape for _, shape in shapes)
    assert first is second is third
    assert first == Shape(frozenset({Category.PUBLIC, Category.SERVICE}), frozenset(), frozenset({"marketing-opt-in-approval"}))
    assert only_public == PUBLIC_ONLY


def test_a_customer_recorded_alike_and_then_decision_by_decision_keeps_both() -> None:
    made = decisions()
    made.record_alike(1, SERVICE_ALLOWED)
    made.check_loaded(1, Category.CONTACT, None, OPTED_IN)
    made.record_alike(2, SERVICE_ALLOWED)
    made.record_alike(2, BILLING_DENIED)  # another outcome for the same customer: the union
    (_, one), (_, two) = made.shapes()
    assert one.disclosed == {Category.SERVICE, Category.CONTACT} and not one.denied
    assert two.disclosed == {Category.SERVICE} and two.denied == {Category.BILLING}
    assert one.policy_ids == {"marketing-opt-in-approval"}  # what the opt-in allowed, both ways


def test_a_customer_never_recorded_has_no_shape() -> None:
    assert decisions().shapes() == []


def test_what_is_recorded_after_the_shapes_were_read_is_in_them_when_read_again() -> None:
    made = decisions()
    made.record_alike(1, SERVICE_ALLOWED)
    assert made.shapes()[0][1].disclosed == {Category.SERVICE}
    made.note_public(1)
    assert made.shapes()[0][1].disclosed == {Category.SERVICE, Category.PUBLIC}
    made.check_loaded(2, Category.CONTACT, None, OPTED_IN)
    assert [customer_id for customer_id, _ in made.shapes()] == [1, 2]
    made.record(1, Category.BILLING, None, Decision(False, ()))
    assert made.shapes()[0][1].denied == {Category.BILLING}


def test_groups_hold_the_customers_of_each_shape_in_id_order_groups_by_their_first_customer() -> None:
    made = decisions()
    for customer_id in (5, 2, 9, 4):
        made.note_public(customer_id)
        made.record_alike(customer_id, BILLING_DENIED if customer_id % 2 else SERVICE_ALLOWED)
    made.check_loaded(7, Category.CONTACT, None, OPTED_IN)  # decided one at a time, alone in its shape
    groups = made.groups()
    assert [customers for _, customers in groups] == [(2, 4), (5, 9), (7,)]
    assert [shape for shape, _ in groups] == list(dict.fromkeys(shape for _, shape in made.shapes()))


def test_what_is_recorded_after_the_groups_were_read_is_in_them_when_read_again() -> None:
    made = decisions()
    made.record_alike(1, SERVICE_ALLOWED)
    made.record_alike(2, SERVICE_ALLOWED)
    assert [customers for _, customers in made.groups()] == [(1, 2)]
    made.note_public(2)  # 2 now differs from 1
    assert [customers for _, customers in made.groups()] == [(1,), (2,)]
    made.record(1, Category.BILLING, None, Decision(False, ()))
    assert made.groups()[0][0].denied == {Category.BILLING}
