"""The policy matrix, computed by Cedar, equals SPEC 6.2's table."""

from __future__ import annotations

import json
from dataclasses import replace

from gateway.authz.decide import Authorizer
from gateway.authz.diff import diff_matrices
from gateway.authz.matrix import (
    Matrix,
    compute_matrix,
    render_json,
    render_markdown,
    render_purpose_table,
)
from gateway.authz.model import Category, Purpose, Regime
from gateway.authz.policy import PolicyBundle

from .spec import SPEC_6_2


def test_purpose_table_equals_spec(matrix: Matrix) -> None:
    assert render_purpose_table(matrix) == SPEC_6_2
    assert SPEC_6_2 in render_markdown(matrix)


def test_opt_in_regime_turns_every_opt_out_cell_into_opt_in(matrix_opt_in: Matrix) -> None:
    expected = "\n".join(
        line.replace(" O ", " I ") if line.startswith("| marketing_cross_category") else line
        for line in SPEC_6_2.splitlines()
    )
    assert render_purpose_table(matrix_opt_in) == expected


def test_every_cell_is_named_by_a_letter(matrix: Matrix, matrix_opt_in: Matrix) -> None:
    assert [c for c in matrix.cells + matrix_opt_in.cells if c.letter == "?"] == []


def test_division_cells(matrix: Matrix) -> None:
    # A division providing a service category provisions only its own services.
    row = [matrix.cell("wireless", Purpose.PROVISIONING, c).letter for c in Category]
    assert row == ["A", "A", "A", "S", "S", "S", "S", "D", "D", "D"]
    row = [matrix.cell("network_ops", Purpose.PROVISIONING, c).letter for c in Category]
    assert row == ["A", "A", "A", "A", "A", "A", "A", "D", "D", "D"]
    assert matrix.cell("partner", Purpose.THIRD_PARTY_MARKETING, Category.SUBSCRIBER_LIST).letter == "I"
    assert matrix.cell("video", Purpose.MARKETING_NON_COMM, Category.LOCATION).letter == "X"
    # PUBLIC is readable for every declared purpose, terminated customers included.
    assert {c.letter for c in matrix.cells if c.category is Category.PUBLIC} == {"A"}


def test_matrix_covers_every_declared_purpose(matrix: Matrix, bundle: PolicyBundle) -> None:
    declared = {(d.id, p) for d in bundle.divisions.values() for p in d.purposes}
    assert {(c.division, c.purpose) for c in matrix.cells} == declared


def test_cells_name_their_determining_policies(matrix: Matrix) -> None:
    cell = matrix.cell("marketing", Purpose.MARKETING_CROSS_CATEGORY, Category.USAGE)
    assert cell.letter == "O"
    assert set(cell.policy_ids) == {"marketing-opt-in-approval", "marketing-opt-out-approval", "terminated-no-marketing"}
    denied = matrix.cell("marketing", Purpose.MARKETING_CROSS_CATEGORY, Category.PAYMENT)
    assert denied.letter == "D" and denied.policy_ids == ("terminated-no-marketing",)
    assert matrix.purpose_cell(Purpose.ANALYTICS_AGGREGATE, Category.USAGE).division == ""


def test_json(matrix: Matrix, bundle: PolicyBundle) -> None:
    document = json.loads(render_json(matrix))
    assert document["regime"] == "opt_out"
    assert set(document["policies"]) == set(bundle.annotations)
    first = document["purposes"][0]
    assert first["purpose"] == "provisioning" and first["cells"]["BILLING"] == {"letter": "D", "publishedOnly": False, "policies": []}
    # The HTML page (`--format html`, GET /policy) is tested in tests/policy.


def test_diff_lists_changed_cells(bundle: PolicyBundle, matrix: Matrix) -> None:
    assert diff_matrices(matrix, matrix) == []
    # Location for care and marketing needs CPNI opt-in instead of express approval.
    changed_text = bundle.policies_text.replace(
        "context.customer.locationApproved", 'context.customer.cpniApproval == "OPT_IN"'
    )
    changed = compute_matrix(Authorizer(replace(bundle, policies_text=changed_text), Regime.OPT_OUT))
    changes = diff_matrices(matrix, changed)
    assert {(c.category, c.old, c.new) for c in changes} == {(Category.LOCATION, "X", "I")}
    assert len(changes) == 13
    assert str(changes[0]) == "consumer_local marketing_same_category LOCATION: X -> I"


def test_markdown_names_each_cells_policies(matrix: Matrix) -> None:
    text = render_markdown(matrix)
    rows = {tuple(line.split(" | ")[:2]): line for line in text.splitlines() if line.startswith("| ")}
    directory = rows[("| dex_directory", "directory_publishing")]
    assert "| AP (directory-reads-subscriber-list) |" in directory  # published listings only
    assert "| D (no permit) |" in directory
    marketing = rows[("| marketing", "marketing_cross_category")]
    assert "| O (marketing-opt-in-approval, marketing-opt-out-approval, terminated-no-marketing) |" in marketing
    assert "Published listings only (P in the division table): directory_publishing AP, third_party_marketing IP." in text


def test_subscriber_list_cells_that_rest_on_publication(matrix: Matrix) -> None:
    published_only = {(c.division, c.purpose) for c in matrix.cells if c.published_only}
    assert published_only == {
        ("dex_directory", Purpose.DIRECTORY_PUBLISHING),
        ("partner", Purpose.THIRD_PARTY_MARKETING),
    }
    assert all(c.category is Category.SUBSCRIBER_LIST for c in matrix.cells if c.published_only)
    document = json.loads(render_json(matrix))
    directory = next(d for d in document["divisions"] if d["division"] == "dex_directory")
    assert directory["cells"]["SUBSCRIBER_LIST"] == {
        "letter": "A", "publishedOnly": True, "policies": ["directory-reads-subscriber-list"],
    }
