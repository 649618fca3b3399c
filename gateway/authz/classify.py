"""The condition letters of SPEC 6.2's legend, as predicates over the fact space.

The matrix asks Cedar for the outcome at every point of a cell's fact space
and names the cell by the first letter whose predicate gives the same
outcomes everywhere. The letters define what the legend means; they are not
a copy of the policy (no purpose-by-category table here, only the legend and
its note on terminated customers), so a policy change shows up as a changed
letter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from gateway.authz.model import ApprovalStatus, Category, Division, Purpose, Regime
from gateway.authz.space import Point

LEGEND: Mapping[str, str] = MappingProxyType(
    {
        "A": "allowed",
        "T": "total service approach: the customer buys the division's own category "
        "(and, for service data, the service is of it or the customer buys 2+ categories)",
        "O": "opt-out approval: latest CPNI approval OPT_IN, or none and a notice 30 days to 2 years old "
        "(a mailed notice: 30 days from the 3rd day after mailing)",
        "I": "opt-in approval: latest CPNI approval OPT_IN",
        "X": "express location approval: latest LOCATION approval OPT_IN",
        "S": "own services only: service data only for services of the division's own category",
        "D": "denied",
        "?": "conditional in a way the legend does not name: see `policy explain`",
    }
)

MARKETING_NOTE = "Marketing purposes: every letter also requires that the customer is not TERMINATED."

# SPEC 6.1: only what is published is subscriber list information. A
# SUBSCRIBER_LIST cell whose outcomes match a letter once "and the listing is
# published" is added carries that condition too (`published_only`).
PUBLISHED_NOTE = (
    "P after a letter (SUBSCRIBER_LIST): the letter also requires that the customer's listing is published; "
    "a customer with a non-published number has no subscriber list data (47 U.S.C. 222(h)(3))."
)

# Order matters where letters coincide: S is A for a division without own
# services, and under the opt-in regime O is I.
_ORDER = ("D", "A", "S", "T", "I", "O", "X")


def classify(
    outcomes: list[bool], at: list[Point], division: Division, purpose: Purpose, category: Category, regime: Regime
) -> tuple[str, bool]:
    """The legend letter whose condition equals Cedar's outcomes at every point (or `?`), and `published_only`.

    `published_only` is true for a SUBSCRIBER_LIST cell that matches its
    letter only with the condition that the customer's listing is published.
    """
    predicates = _predicates(division, regime)
    # SPEC 6.2: marketing to a terminated customer is D, whatever the letter;
    # PUBLIC (ids, tags) is not customer data and stays readable.
    unless_terminated = purpose.is_marketing and category is not Category.PUBLIC
    qualifiers = (False, True) if category is Category.SUBSCRIBER_LIST else (False,)
    for published_only in qualifiers:
        for letter in _ORDER:
            holds = predicates[letter]
            expected = [
                holds(p)
                and not (unless_terminated and p.facts.terminated)
                and (p.facts.listing_published or not published_only)
                for p in at
            ]
            if expected == outcomes:
                return letter, published_only and letter != "D"
    return "?", False


def _predicates(division: Division, regime: Regime) -> dict[str, Callable[[Point], bool]]:
    own = division.own_category

    def total_service(p: Point) -> bool:
        if own is None or own not in p.facts.subscribed:
            return False
        return p.service_category in (None, own) or len(p.facts.subscribed) >= 2

    def opt_in(p: Point) -> bool:
        return p.facts.cpni_approval is ApprovalStatus.OPT_IN

    def opt_out(p: Point) -> bool:
        noticed = p.facts.cpni_approval is ApprovalStatus.NONE and p.facts.notice_in_window
        return opt_in(p) or (regime is Regime.OPT_OUT and noticed)

    return {
        "D": lambda p: False,
        "A": lambda p: True,
        "S": lambda p: p.service_category in (None, own),
        "T": total_service,
        "I": opt_in,
        "O": opt_out,
        "X": lambda p: p.facts.location_approved,
    }
