"""The policy test cases of policies/tests run green and cover every cell of SPEC 6.2."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from gateway.authz.cases import Case, CaseError, CaseResult, parse_cases, run_cases
from gateway.authz.model import Regime
from gateway.authz.policy import PolicyBundle, case_files, read_cases

from .spec import spec_cells


@pytest.fixture(scope="module")
def cases(policy_dir: Path) -> list[Case]:
    return parse_cases(read_cases(case_files(directory=policy_dir)))


@pytest.fixture(scope="module")
def results(bundle: PolicyBundle, cases: list[Case]) -> list[CaseResult]:
    return run_cases(bundle, cases)


def test_every_policy_case_passes(results: list[CaseResult]) -> None:
    failures = [f"{r.case.file}: {r.case.name} [{r.regime.value}]: {r.message}" for r in results if not r.passed]
    assert failures == []
    assert len(results) > 700


def test_every_spec_cell_is_tested_on_both_sides_under_both_regimes(results: list[CaseResult]) -> None:
    outcomes: dict[tuple[str, str, Regime], set[bool]] = defaultdict(set)
    for r in results:
        if r.case.category is not None:
            outcomes[(r.case.purpose.value, r.case.category.value, r.regime)].add(r.case.allowed)
    for (purpose, category), letter in spec_cells().items():
        for regime in Regime:
            seen = outcomes[(purpose, category, regime)]
            if letter == "D" or (letter == "A" and purpose.startswith(("marketing", "third_party"))):
                # D: never allowed; marketing A: denied for terminated customers.
                assert False in seen, (purpose, category, regime)
            if letter != "D":
                assert True in seen, (purpose, category, regime)
            if letter not in {"A", "D"}:
                assert seen == {True, False}, (purpose, category, regime)


def test_cases_cite_cpni_md(cases: list[Case]) -> None:
    cited = {c.name.split(":")[0] for c in cases if c.name.startswith("CPNI.md ")}
    assert cited == {f"CPNI.md {n}" for n in (1, 2, 3, 4, 5, 6, 7, 9, 10, 11)}


def test_a_wrong_expectation_fails_with_a_message(bundle: PolicyBundle) -> None:
    document = {
        "case": [
            {
                "name": "care reads location without approval",
                "division": "customer_care",
                "purpose": "customer_care",
                "category": "LOCATION",
                "regime": "opt_out",
                "allowed": True,
                "policies": ["care-reads-customer-data"],
            },
            {"name": "ghost", "division": "nobody", "purpose": "emergency", "category": "PUBLIC", "allowed": True},
        ]
    }
    results = run_cases(bundle, parse_cases([("inline.toml", document)]))
    assert [r.passed for r in results] == [False, False, False]
    assert results[0].message == (
        "expected allow, got deny; expected policies ['care-reads-customer-data'], got []"
    )
    assert results[1].message == "unknown division `nobody`"


def test_malformed_cases_name_file_and_case() -> None:
    document = {
        "case": [
            {"name": "typo", "division": "marketing", "purpose": "marketing", "category": "USAGE", "allowed": False},
            {"name": "both", "division": "marketing", "purpose": "emergency", "category": "USAGE",
             "action": "approveCampaign", "allowed": False},
            {"name": "fact", "division": "marketing", "purpose": "emergency", "category": "USAGE",
             "facts": {"segment": "BUSINESS"}, "allowed": False},
        ]
    }
    with pytest.raises(CaseError) as caught:
        parse_cases([("bad.toml", document)])
    problems = caught.value.problems
    assert len(problems) == 3
    assert problems[0].startswith("bad.toml: case `typo`: ")
    assert "'marketing' is not a valid Purpose" in problems[0]
    assert problems[1] == "bad.toml: case `both`: give either `category` (a read) or `action` (an operation)"
    assert problems[2] == "bad.toml: case `fact`: unknown fact(s) segment"
