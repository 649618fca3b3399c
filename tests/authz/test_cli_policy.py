"""`cpni-gateway policy ...`: exit codes and output (click's CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli.policy import policy

from .spec import SPEC_6_2


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, policy_dir: Path) -> CliRunner:
    monkeypatch.setenv("CPNI_GATEWAY_POLICY_DIR", str(policy_dir))
    monkeypatch.delenv("CPNI_GATEWAY_REGIME", raising=False)
    return CliRunner()


def test_validate(run: CliRunner, policy_copy: Path) -> None:
    result = run.invoke(policy, ["validate"])
    assert result.exit_code == 0, result.stdout
    assert result.stdout.endswith(": valid (22 policies, 13 divisions)\n")
    (policy_copy / "guards.cedar").write_text(
        (policy_copy / "guards.cedar").read_text().replace("context.customer.terminated", "context.customer.terminatd")
    )
    (policy_copy / "divisions.toml").write_text(
        (policy_copy / "divisions.toml").read_text().replace('"customer_care"]', '"customer_carer"]')
    )
    result = run.invoke(policy, ["validate", str(policy_copy)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert "guards.cedar: policy `terminated-no-marketing`: " in lines[0] and "terminatd" in lines[0]
    assert "divisions.toml: division `customer_care`: purpose: unknown value `customer_carer`" in lines[1]


def test_usage_errors_exit_2(run: CliRunner, tmp_path: Path) -> None:
    assert run.invoke(policy, ["validate", str(tmp_path / "absent")]).exit_code == 2
    assert run.invoke(policy, ["matrix", "--format", "pdf"]).exit_code == 2
    assert run.invoke(policy, ["diff", str(tmp_path)]).exit_code == 2


def test_matrix_formats(run: CliRunner) -> None:
    markdown = run.invoke(policy, ["matrix"])
    assert markdown.exit_code == 0 and SPEC_6_2 in markdown.stdout
    as_json = run.invoke(policy, ["matrix", "--format", "json", "--regime", "opt_in"])
    document = json.loads(as_json.stdout)
    cross = next(row for row in document["purposes"] if row["purpose"] == "marketing_cross_category")
    assert document["regime"] == "opt_in" and cross["cells"]["USAGE"]["letter"] == "I"
    page = run.invoke(policy, ["matrix", "--format", "html"])
    assert page.exit_code == 0 and page.stdout.startswith("<!doctype html>")


def test_test_command(run: CliRunner, tmp_path: Path) -> None:
    result = run.invoke(policy, ["test"])
    assert result.exit_code == 0, result.stdout
    assert result.stdout.endswith(" failed (430 cases)\n") and ", 0 failed" in result.stdout
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(
        '[[case]]\nname = "emergency reads usage"\ndivision = "network_ops"\npurpose = "emergency"\n'
        'category = "USAGE"\nregime = "opt_out"\nallowed = true\n'
    )
    result = run.invoke(policy, ["test", str(wrong)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"FAIL {wrong}: emergency reads usage [opt_out]: expected allow, got deny",
        "0 passed, 1 failed (1 cases)",
    ]
    broken = tmp_path / "broken.toml"
    broken.write_text("[[case]\n")
    result = run.invoke(policy, ["test", str(broken)])
    assert result.exit_code == 1 and result.stdout.startswith(f"{broken}: ")


def test_diff(run: CliRunner, policy_dir: Path, policy_copy: Path) -> None:
    same = run.invoke(policy, ["diff", str(policy_dir), str(policy_copy), "--exit-code"])
    assert same.exit_code == 0
    assert same.stdout == "0 cell(s) changed, 0 polic(y/ies) added, removed or edited\n"
    location = policy_copy / "location.cedar"
    location.write_text(location.read_text().replace('"customer_care",\n', ""))
    changed = run.invoke(policy, ["diff", str(policy_dir), str(policy_copy), "--exit-code"])
    assert changed.exit_code == 1
    assert changed.stdout.splitlines() == [
        "customer_care customer_care LOCATION: X -> D",
        "~ policy location-express-approval",
        "1 cell(s) changed, 1 polic(y/ies) added, removed or edited",
    ]
