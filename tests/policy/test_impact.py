"""`policy diff --impact`: customers who gain or lose visibility, checked against direct SQL counts.

Runs on a fresh database seeded with the demo data (300 customers, seed 1).
The SQL counts below are written from SPEC 6.2's wording, independently of
gateway/resolvers/impact.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import asyncpg

from gateway.authz.decide import Authorizer
from gateway.authz.diff import diff_matrices
from gateway.authz.impact import impacts
from gateway.authz.matrix import compute_matrix
from gateway.authz.model import Regime, ServiceCategory
from gateway.authz.policy import load_policy
from gateway.resolvers.database import Database
from gateway.resolvers.facts import facts_by_customer
from gateway.resolvers.impact import population
from gateway.resolvers.services import services_by_customer

from .conftest import POLICY_DIR, SEEDED_CUSTOMERS, Cli

_LINE = re.compile(r"^(\w+) (\w+) (\w+): (\S+) -> (\S+): (\d+) customer\(s\) lose, (\d+) gain(?: \(by service: (.*)\))?$")

# Latest CPNI-scope approval (NONE when there is none) and the notice window of 64.2008
# (a mailed notice's 30 days run from the 3rd day after mailing).
_LATEST_CPNI = """coalesce((SELECT a.status FROM cpni_approvals a WHERE a.customer_id = c.id AND a.scope = 'CPNI'
                 ORDER BY a.recorded_at DESC, a.id DESC LIMIT 1), 'NONE')"""
_NOTICED = """EXISTS (SELECT 1 FROM cpni_notices n WHERE n.customer_id = c.id
                 AND n.sent_at + CASE n.method WHEN 'MAIL' THEN interval '33 days' ELSE interval '30 days' END <= now()
                 AND n.sent_at > now() - interval '2 years')"""
_LOCATION_OPT_IN = """(SELECT a.status FROM cpni_approvals a WHERE a.customer_id = c.id AND a.scope = 'LOCATION'
                 ORDER BY a.recorded_at DESC, a.id DESC LIMIT 1) = 'OPT_IN'"""


def _parse(output: str) -> dict[tuple[str, str, str], tuple[str, str, int, int, dict[str, int]]]:
    """Changed cells -> (old, new, lose, gain, {service category: lose})."""
    cells = {}
    for line in output.splitlines():
        match = _LINE.match(line)
        if match:
            division, purpose, category, old, new, lose, gain, services = match.groups()
            per_service = {
                part.split()[0]: int(part.split()[1].lstrip("-")) for part in (services or "").split(", ") if part
            }
            cells[(division, purpose, category)] = (old, new, int(lose), int(gain), per_service)
    return cells


async def _count(pool: asyncpg.Pool, where: str, service: str | None = None) -> int:
    if service is not None:
        where += f" AND EXISTS (SELECT 1 FROM services s WHERE s.customer_id = c.id AND s.category = '{service}')"
    return int(await pool.fetchval(f"SELECT count(*) FROM customers c WHERE {where}"))


async def test_opt_in_regime_hides_customers_approved_by_notice_only(seeded_url: str, seeded: asyncpg.Pool) -> None:
    result = await Cli(seeded_url)(
        "policy", "diff", str(POLICY_DIR), str(POLICY_DIR), "--old-regime", "opt_out", "--new-regime", "opt_in",
        "--impact",
    )
    assert result.exit_code == 0, result.output
    cells = _parse(result.output)
    # Exactly the opt-out approval cells change: five categories for each division declaring the purpose.
    assert {(c[1], c[2]) for c in cells} == {
        ("marketing_cross_category", k) for k in ("CONTACT", "SERVICE", "CONFIGURATION", "USAGE", "BILLING")
    }
    assert len(cells) == 25
    assert result.output.splitlines()[-2:] == [
        f"impact over {SEEDED_CUSTOMERS} customer(s) in the current database",
        "25 cell(s) changed, 0 polic(y/ies) added, removed or edited",
    ]
    # Who loses: active customers with no CPNI approval (or NONE) whose notice is 30 days to 2 years old.
    noticed_only = f"c.status = 'ACTIVE' AND {_LATEST_CPNI} = 'NONE' AND {_NOTICED}"
    losing = await _count(seeded, noticed_only)
    with_service = await _count(seeded, noticed_only + " AND EXISTS (SELECT 1 FROM services s WHERE s.customer_id = c.id)")
    assert losing > 10, "the seeded data must exercise this rule"
    per_service = {c.value: await _count(seeded, noticed_only, c.value) for c in ServiceCategory}
    for (division, _, category), (old, new, lose, gain, by_service) in cells.items():
        assert (old, new, gain) == ("O", "I", 0), division
        if category in ("CONTACT", "BILLING"):
            assert lose == losing and by_service == {}
        else:  # data of a service: customers with at least one service, and per service category
            assert lose == with_service
            assert by_service == {k: v for k, v in per_service.items() if v}
    # The way back gains the same customers.
    back = _parse((await Cli(seeded_url)(
        "policy", "diff", str(POLICY_DIR), str(POLICY_DIR), "--old-regime", "opt_in", "--new-regime", "opt_out",
        "--impact",
    )).output)
    assert back[("marketing", "marketing_cross_category", "CONTACT")][:4] == ("I", "O", 0, losing)


async def test_removing_express_location_approval(seeded_url: str, seeded: asyncpg.Pool, policy_copy: Path) -> None:
    location = policy_copy / "location.cedar"
    text = location.read_text()
    location.write_text(text[: text.index('@id("location-express-approval")')])
    result = await Cli(seeded_url)("policy", "diff", str(POLICY_DIR), str(policy_copy), "--impact")
    assert result.exit_code == 0, result.output
    assert "- policy location-express-approval" in result.output
    cells = _parse(result.output)
    assert {(c[2], v[0], v[1]) for c, v in cells.items()} == {("LOCATION", "X", "D")}
    approved = f"{_LOCATION_OPT_IN} AND EXISTS (SELECT 1 FROM services s WHERE s.customer_id = c.id)"
    care = cells[("customer_care", "customer_care", "LOCATION")]
    assert care[2:4] == (await _count(seeded, approved), 0)
    assert care[4]["WIRELESS"] == await _count(seeded, _LOCATION_OPT_IN, "WIRELESS")
    # Marketing never saw terminated customers' data: they cannot lose it.
    marketing = cells[("wireless", "marketing_same_category", "LOCATION")]
    assert marketing[2:4] == (await _count(seeded, approved + " AND c.status = 'ACTIVE'"), 0)
    assert 0 < marketing[2] < care[2]


async def test_subscriber_list_only_when_published(seeded_url: str, seeded: asyncpg.Pool, policy_copy: Path) -> None:
    """The listing change of issue 10, undone: the policy before it, diffed against today's."""
    for name, condition in (
        ("no_approval.cedar", ' && context.customer.listingPublished'),
        ("marketing.cedar", ' &&\n  context.customer.listingPublished'),
    ):
        path = policy_copy / name
        text = path.read_text()
        assert condition in text, name
        path.write_text(text.replace(condition, ""))
    result = await Cli(seeded_url)("policy", "diff", str(policy_copy), str(POLICY_DIR), "--impact")
    assert result.exit_code == 0, result.output
    cells = _parse(result.output)
    unlisted = "c.listed_phone IS NULL"
    assert cells == {
        ("dex_directory", "directory_publishing", "SUBSCRIBER_LIST"): ("A", "AP", await _count(seeded, unlisted), 0, {}),
        ("partner", "third_party_marketing", "SUBSCRIBER_LIST"): (
            "I", "IP",
            await _count(seeded, f"{unlisted} AND c.status = 'ACTIVE' AND {_LATEST_CPNI} = 'OPT_IN'"), 0, {},
        ),
    }
    assert 0 < cells[("partner", "third_party_marketing", "SUBSCRIBER_LIST")][2] < await _count(seeded, unlisted)
    assert "~ policy directory-reads-subscriber-list" in result.output
    assert "~ policy third-party-subscriber-list-opt-in" in result.output


async def test_population_agrees_with_the_per_request_facts(seeded_url: str, seeded: asyncpg.Pool) -> None:
    db = Database(seeded)
    groups = await population(seeded)
    assert sum(g.customers for g in groups) == SEEDED_CUSTOMERS
    ids = [r["id"] for r in await seeded.fetch("SELECT id FROM customers ORDER BY id")]
    facts = await facts_by_customer(db, ids)
    services = await services_by_customer(db, ids)
    expected: dict[tuple[object, ...], int] = {}
    for f, rows in zip(facts, services, strict=True):
        assert f is not None
        key = (f, frozenset(ServiceCategory(r.category) for r in rows))
        expected[key] = expected.get(key, 0) + 1
    assert {(g.facts, g.services): g.customers for g in groups} == expected


async def test_impacts_equal_a_customer_by_customer_count(seeded_url: str, seeded: asyncpg.Pool, policy_copy: Path) -> None:
    # A change touching several facts at once: total service now needs opt-in too.
    marketing = policy_copy / "marketing.cedar"
    marketing.write_text(marketing.read_text().replace(
        "context.customer.subscribed.contains(principal.ownCategory) &&",
        'context.customer.subscribed.contains(principal.ownCategory) && context.customer.cpniApproval == "OPT_IN" &&',
    ))
    old = Authorizer(load_policy(POLICY_DIR), Regime.OPT_OUT)
    new = Authorizer(load_policy(policy_copy), Regime.OPT_OUT)
    changes = diff_matrices(compute_matrix(old), compute_matrix(new))
    assert changes
    db = Database(seeded)
    computed = impacts(changes, old, new, await population(seeded))
    ids = [r["id"] for r in await seeded.fetch("SELECT id FROM customers ORDER BY id")]
    customers = list(zip(await facts_by_customer(db, ids), await services_by_customer(db, ids), strict=True))
    for change, impact in zip(changes, computed, strict=True):
        before, after = old.divisions[change.division], new.divisions[change.division]
        gain = lose = 0
        for facts, rows in customers:
            assert facts is not None
            scopes = sorted({ServiceCategory(r.category) for r in rows}) if change.category.service_scoped else [None]
            was = [old.decide(before, change.purpose, change.category, facts, service_category=s).allowed for s in scopes]
            now = [new.decide(after, change.purpose, change.category, facts, service_category=s).allowed for s in scopes]
            gain += any(n and not w for w, n in zip(was, now, strict=True))
            lose += any(w and not n for w, n in zip(was, now, strict=True))
        assert (impact.gain, impact.lose) == (gain, lose), change
    assert any(i.lose for i in computed)


async def test_unreachable_database_is_one_line(seeded_url: str, policy_copy: Path) -> None:
    (policy_copy / "location.cedar").write_text("")
    gone = seeded_url.replace("/cpni_impact_", "/cpni_absent_")
    result = await Cli(gone)("policy", "diff", str(POLICY_DIR), str(policy_copy), "--impact")
    assert result.exit_code == 1
    last = result.output.splitlines()[-1]
    assert last.startswith("Error: cannot connect to PostgreSQL at ") and "does not exist" in last
    assert "Traceback" not in result.output and "asyncpg" not in result.output
