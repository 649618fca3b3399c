"""`cpni-gateway policy validate`: every problem on one line with its file and policy id; exit 0/1/2.

An unknown attribute and a registry naming an unknown purpose are covered in
tests/authz/test_cli_policy.py; here: a syntax error, the schema's field
categories, and several problems reported at once.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import strawberry
from click.testing import CliRunner

from gateway.authz.model import Category
from gateway.cli.policy import policy
from gateway.schema.categories import categorized, field
from gateway.schema.check import check_categories


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("CPNI_GATEWAY_POLICY_DIR", raising=False)
    return CliRunner()


def test_valid_policy_and_schema(run: CliRunner, policy_copy: Path) -> None:
    result = run.invoke(policy, ["validate", str(policy_copy)])
    assert result.exit_code == 0, result.stdout
    assert result.stdout == f"{policy_copy}: valid (22 policies, 13 divisions)\n"


def test_syntax_error_names_file_line_and_policy(run: CliRunner, policy_copy: Path) -> None:
    _edit(policy_copy / "marketing.cedar", 'context.purpose == "third_party_marketing" &&', 'context.purpose == &&')
    result = run.invoke(policy, ["validate", str(policy_copy)])
    assert result.exit_code == 1
    [line] = result.stdout.splitlines()
    assert line.startswith(f"{policy_copy / 'marketing.cedar'}:")
    assert ": policy `third-party-subscriber-list-opt-in`: syntax error: " in line
    assert "Traceback" not in result.stdout


def test_every_problem_is_reported_at_once(run: CliRunner, policy_copy: Path) -> None:
    _edit(policy_copy / "location.cedar", "context.customer.locationApproved", "context.customer.locationApprovd")
    _edit(policy_copy / "divisions.toml", 'purposes = ["fraud_protection", "emergency"]',
          'purposes = ["fraud_protection", "emergencies"]')
    _edit(policy_copy / "audit.cedar", '@cite("47 CFR 64.2009(d)")\n', "")
    result = run.invoke(policy, ["validate", str(policy_copy)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 3, lines
    assert any("location.cedar: policy `location-express-approval`: " in x and "locationApprovd" in x for x in lines)
    assert any("divisions.toml: division `fraud_security`: purpose: unknown value `emergencies`" in x for x in lines)
    assert any(x.endswith("audit.cedar: policy `privacy-office-approves-campaigns`: missing @cite annotation")
               for x in lines)


def test_an_uncategorized_schema_field_is_a_problem(
    run: CliRunner, policy_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A tiny schema with one field lacking its @category, checked as build_schema checks the real one.
    @strawberry.type
    @categorized(Category.PUBLIC)
    class Query:
        id: str = field(Category.PUBLIC)
        secret: str | None = strawberry.field(default=None)

    def build_tiny_schema() -> strawberry.Schema:
        check_categories([Query])
        return strawberry.Schema(query=Query)

    monkeypatch.setattr("gateway.schema.build_schema", build_tiny_schema)
    result = run.invoke(policy, ["validate", str(policy_copy)])
    assert result.exit_code == 1
    assert result.stdout == "gateway/schema: field Query.secret has no data category\n"


def test_usage_errors_exit_2(run: CliRunner, tmp_path: Path) -> None:
    assert run.invoke(policy, ["validate", str(tmp_path / "absent")]).exit_code == 2
    assert run.invoke(policy, ["validate", str(tmp_path), "extra"]).exit_code == 2
    assert run.invoke(policy, ["validate", "--strict"]).exit_code == 2
