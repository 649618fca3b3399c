"""Customers found by phone number and by filtered page: the graph's lookups, without Strawberry.

Both the Strawberry resolvers (`gateway/schema/query.py`) and the planned
executor (`gateway/plan/`) call these, so the two paths decide, match and
audit alike. Each returns rows with the facts the database matched them on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from gateway.authz.decide import Readable
from gateway.authz.model import Category, Facts
from gateway.authz.model import ServiceCategory as ServiceCategoryValue
from gateway.resolvers.customers import (
    Answer,
    AnsweredRow,
    CustomerQuery,
    FactsCondition,
    customer_page,
    customers_by_phone,
)
from gateway.resolvers.facts import code_condition
from gateway.resolvers.rows import CustomerRow
from gateway.schema.context import RequestContext
from gateway.schema.errors import BadUserInputError, ForbiddenError, QueryTooComplexError

CONNECTION = "customers"


class Enumerated(Protocol):
    @property
    def value(self) -> str: ...


class Filter(Protocol):
    """`CustomerFilter` as the lookups read it."""

    @property
    def segment(self) -> Enumerated | None: ...
    @property
    def status(self) -> Enumerated | None: ...
    @property
    def state(self) -> str | None: ...
    @property
    def name_prefix(self) -> str | None: ...
    @property
    def service_category(self) -> Enumerated | None: ...


def page_size(value: int, limit: int, name: str) -> int:
    if value < 0:
        raise BadUserInputError(f"`{name}` must not be negative")
    if value > limit:
        raise QueryTooComplexError(f"`{name}` is at most {limit}")
    return value


@dataclass(frozen=True)
class CustomerPage:
    edges: list[tuple[str | None, CustomerRow | AnsweredRow]]  # (cursor, customer)
    has_next: bool
    end_cursor: str | None
    facts: dict[int, Facts]


def readable_condition(ctx: RequestContext, category: Category, scope: str | None = None) -> FactsCondition:
    """The customers whose ``category`` (of a service of ``scope``) this caller may read, as a facts condition."""
    cell = ctx.decisions.authorizer.readable_facts(
        ctx.division,
        ctx.purpose,
        category,
        service_category=ServiceCategoryValue(scope) if scope else None,
        campaign_categories=ctx.decisions.campaign_categories,
    )
    found = _CONDITIONS.get(cell)
    if found is None:
        mask, codes = code_condition(cell.fields, cell.allowed)
        found = FactsCondition(mask, tuple(codes))
        if len(_CONDITIONS) < MAX_CONDITIONS:
            _CONDITIONS[cell] = found
    return found


# The facts conditions of the cells met so far: a pure function of the
# authorizer's answer (a few hundred allowed facts each), asked for on
# every request, so converted once.
_CONDITIONS: dict[Readable, FactsCondition] = {}
MAX_CONDITIONS = 4096


def _conditions(f: Filter) -> list[tuple[Category, str | None]]:
    """The reads a filter makes: each condition on a protected category is a read of it."""
    checks: list[tuple[Category, str | None]] = []
    if f.state is not None or f.name_prefix is not None:
        checks.append((Category.SUBSCRIBER_LIST, None))
    if f.service_category is not None:
        checks.append((Category.SERVICE, f.service_category.value))
    return checks


async def page_customers(
    ctx: RequestContext,
    first: int | None,
    after: str | None,
    f: Filter,
    *,
    answer: Answer | None = None,
    cursors: bool = True,
    end_cursor: bool = True,
) -> CustomerPage:
    """One page of customers matching ``f``, among those the caller may match.

    ``answer``: each customer's answer built by the same statement (the
    planner's). ``cursors``: seal every edge's cursor (else only the end
    cursor is sealed; the edges' are None). ``end_cursor``: seal the end
    cursor when the edges' are not (else it is None: nobody reads it).

    Every part of the answer (edges, ``endCursor``, ``hasNextPage``) comes
    from the rows the database matched with the caller's decisions in the
    same statement; the cursor is sealed to this caller and filter.
    """
    first = page_size(20 if first is None else first, ctx.max_page_size, "first")
    query = CustomerQuery(
        after_id=0,
        limit=first + 1,
        segment=f.segment.value if f.segment else None,
        status=f.status.value if f.status else None,
        state=f.state,
        name_prefix=f.name_prefix,
        service_category=f.service_category.value if f.service_category else None,
    )
    bound = [query.segment, query.status, query.state, query.name_prefix, query.service_category]
    position = ctx.open_cursor(CONNECTION, bound, after)[0] if after is not None else 0
    checks = _conditions(f)
    authorizer = ctx.decisions.authorizer
    campaign = ctx.decisions.campaign_categories
    readable: list[FactsCondition] = []
    for category, scope in checks:
        # A category the caller can never read is refused, not silently empty.
        if not authorizer.may_ever(ctx.division, ctx.purpose, category, campaign_categories=campaign):
            raise ForbiddenError(category)
        readable.append(readable_condition(ctx, category, scope))
    query = replace(
        query,
        after_id=position,
        readable=tuple(readable),
        subscriber_list=readable_condition(ctx, Category.SUBSCRIBER_LIST),
        answer=answer,
    )
    matched = await customer_page(ctx.loaders.db, query)
    rows = matched[:first]
    facts = {row.id: row_facts for row, row_facts in rows}
    ctx.decisions.note_public(*facts)
    if answer is None or checks:
        for row, row_facts in rows:
            if answer is None:  # the reference path's loaders (an answered page is the planner's)
                ctx.loaders.customer.prime(row.id, row)  # type: ignore[arg-type]
                ctx.loaders.facts.prime(row.id, row_facts)
            for category, scope in checks:
                # Matching on a category discloses it: recorded like a read.
                ctx.decisions.check_loaded(row.id, category, scope, row_facts)
    if cursors:
        edges: list[tuple[str | None, CustomerRow | AnsweredRow]] = [
            (ctx.seal_cursor(CONNECTION, bound, (row.id,)), row) for row, _ in rows
        ]
        last = edges[-1][0] if edges else None
    else:
        edges = [(None, row) for row, _ in rows]
        last = ctx.seal_cursor(CONNECTION, bound, (rows[-1][0].id,)) if rows and end_cursor else None
    return CustomerPage(edges, len(matched) > first, last, facts)


async def find_by_phone(ctx: RequestContext, phone: str) -> tuple[CustomerRow, Facts] | None:
    """The first customer with this number whose number the caller may read.

    A lookup by number is a read of that number: a published number needs
    SUBSCRIBER_LIST, a contact (possibly non-published) number CONTACT. A
    number the caller may not read answers exactly as one nobody has: the
    same body, the same statement, an audit event either way.
    """
    ctx.decisions.note_lookup()
    for match in await customers_by_phone(ctx.loaders.db, phone):
        cid = match.customer.id
        ctx.loaders.facts.prime(cid, match.facts)
        readable = (
            match.listed and ctx.decisions.check_loaded(cid, Category.SUBSCRIBER_LIST, None, match.facts).allowed
        ) or (match.contact and ctx.decisions.check_loaded(cid, Category.CONTACT, None, match.facts).allowed)
        if readable:
            ctx.loaders.customer.prime(cid, match.customer)
            ctx.decisions.note_public(cid)
            return match.customer, match.facts
    return None
