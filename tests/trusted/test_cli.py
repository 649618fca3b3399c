"""``operations check|add|list`` and ``policy diff`` over registries: what security reviews."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner, Result

from gateway.authz.policy import default_policy_dir, load_policy
from gateway.cli import main
from gateway.graphiql.tour import TOUR as TOUR_STEPS
from gateway.trusted import document_id, load_registry
from tests.trusted.conftest import BILLING_BALANCE, CARE_CUSTOMER, write_registry

SHIPPED = default_policy_dir() / "operations"
TOUR = SHIPPED / "customer_care" / "customer_care.graphql"  # step 1 of the README's tour


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def label(cell: dict[str, object]) -> str:
    return str(cell["letter"]) + ("P" if cell["publishedOnly"] else "")


def test_check_validates_the_shipped_registry_and_prints_each_id() -> None:
    result = cli("operations", "check")
    assert result.exit_code == 0, result.output
    files = sorted(SHIPPED.glob("*/*.graphql"))
    assert result.output.splitlines() == [
        *(f"{document_id(f.read_text())}  operations/{f.parent.name}/{f.name}" for f in files),
        f"{len(files)} document(s) valid",
    ]


def test_the_shipped_registry_is_the_readme_tour() -> None:
    """Each step of the tour is registered for the division that runs it, and nothing else is."""
    registry = load_registry(default_policy_dir(), load_policy().divisions)
    expected = {(step.division, document_id(step.query)) for step in TOUR_STEPS}
    assert {(d.division, d.id) for d in registry.documents} == expected


def test_add_registers_a_validated_file(tmp_path: Path) -> None:
    policies = write_registry(tmp_path)
    new = tmp_path / "lookup.graphql"
    new.write_text("query Lookup($phone: String!) { customerByPhone(phone: $phone) { id name } }")
    added = cli("operations", "add", str(new), "--division", "fraud_security", "--dir", str(policies))
    assert added.exit_code == 0, added.output
    assert added.output == f"{document_id(new.read_text())}  operations/fraud_security/lookup.graphql\n"
    assert (policies / "operations" / "fraud_security" / "lookup.graphql").is_file()
    again = cli("operations", "add", str(new), "--division", "fraud_security", "--dir", str(policies))
    assert again.output.endswith("already registered as operations/fraud_security/lookup.graphql\n")
    checked = cli("operations", "check", "--dir", str(policies))
    assert f"{document_id(new.read_text())}  operations/fraud_security/lookup.graphql" in checked.output


def test_add_refuses_an_invalid_file_or_an_unknown_division(tmp_path: Path) -> None:
    policies = write_registry(tmp_path)
    bad = tmp_path / "bad.graphql"
    bad.write_text("{ customer(id: 1) { id nickname } }")
    refused = cli("operations", "add", str(bad), "--division", "fraud_security", "--dir", str(policies))
    assert refused.exit_code == 1
    assert refused.output.startswith("bad.graphql: GRAPHQL_VALIDATION_FAILED: ")
    assert not (policies / "operations" / "fraud_security" / "bad.graphql").exists()
    good = tmp_path / "good.graphql"
    good.write_text("{ me { division } }")
    unknown = cli("operations", "add", str(good), "--division", "sales", "--dir", str(policies))
    assert (unknown.exit_code, unknown.output) == (1, "`sales` is not a division of the registry\n")


def test_list_shows_the_categories_each_operation_reads_and_the_matrix_letters(tmp_path: Path) -> None:
    policies = write_registry(tmp_path)
    listed = cli("operations", "list", "--dir", str(policies), "--format", "json")
    assert listed.exit_code == 0, listed.output
    (tmp_path / "operations.json").write_text(listed.output)  # the reviewer's view, kept with the test output
    markdown = cli("operations", "list", "--dir", str(policies), "--division", "customer_care")
    (tmp_path / "operations-customer_care.md").write_text(markdown.output)

    operations = {(o["division"], o["name"]): o for o in json.loads(listed.output)["operations"]}
    care = operations[("customer_care", "customer")]
    assert care["id"] == document_id(CARE_CUSTOMER)
    assert care["operations"] == ["CareCustomer"]
    assert care["categories"] == ["PUBLIC", "SUBSCRIBER_LIST", "CONTACT"]
    balance = operations[("billing_collections", "balance")]
    assert balance["id"] == document_id(BILLING_BALANCE)
    assert balance["categories"] == ["PUBLIC", "BILLING"]
    # The letters are those of `policy matrix`, cell for cell, for every purpose the division may declare.
    matrix = json.loads(cli("policy", "matrix", "--dir", str(policies), "--format", "json").stdout)
    cells = {(r["division"], r["purpose"]): r["cells"] for r in matrix["divisions"]}
    for (division, _), op in operations.items():
        declared = {p for d, p in cells if d == division}
        assert set(op["outcomes"]) == declared
        for purpose, row in op["outcomes"].items():
            assert row == {c: label(cells[(division, purpose)][c]) for c in op["categories"]}
    assert care["outcomes"]["customer_care"] == {"PUBLIC": "A", "SUBSCRIBER_LIST": "A", "CONTACT": "A"}
    tour = operations[("customer_care", "customer_care")]
    assert tour["outcomes"]["customer_care"]["LOCATION"] == "X"  # express approval, as the README's tour says

    assert markdown.exit_code == 0
    assert "## customer_care" in markdown.output and "## billing_collections" not in markdown.output
    assert "| purpose | PUBLIC | SUBSCRIBER_LIST | CONTACT |" in markdown.output
    assert "| customer_care | A | A | A |" in markdown.output


def test_policy_diff_lists_operations_added_removed_and_changed(tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(default_policy_dir(), old)
    new = write_registry(tmp_path)  # + customer_care/customer, + billing_collections/balance
    (new / "operations" / "wireless" / "wireless_campaign.graphql").unlink()
    (new / "operations" / "customer_care" / "customer_care.graphql").write_text(
        TOUR.read_text().replace("email services", "email invoices(last: 1) { amount { amountCents } } services")
    )
    result = cli("policy", "diff", str(old), str(new))  # stdout: the changes; stderr: the policy directory
    assert result.exit_code == 0, result.output
    (tmp_path / "policy-diff.txt").write_text(result.stdout)
    lines = result.stdout.splitlines()
    tour_id = document_id(TOUR.read_text())
    changed_id = document_id((new / "operations" / "customer_care" / "customer_care.graphql").read_text())
    campaign_id = document_id((old / "operations" / "wireless" / "wireless_campaign.graphql").read_text())
    assert lines[-6:] == [
        f"+ operation billing_collections/balance ({document_id(BILLING_BALANCE)}): reads PUBLIC, BILLING",
        f"+ operation customer_care/customer ({document_id(CARE_CUSTOMER)}): reads PUBLIC, SUBSCRIBER_LIST, CONTACT",
        f"~ operation customer_care/customer_care ({tour_id} -> {changed_id}): adds BILLING",
        f"- operation wireless/wireless_campaign ({campaign_id}): read PUBLIC, SUBSCRIBER_LIST, SERVICE",
        "0 cell(s) changed, 0 polic(y/ies) added, removed or edited",
        "4 operation(s) added, removed or changed",
    ]
