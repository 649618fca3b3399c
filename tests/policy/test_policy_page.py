"""GET /policy: the matrix as one self-contained, printable HTML page linking cells to policy text."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from gateway.authz.classify import LEGEND
from gateway.authz.decide import Authorizer
from gateway.authz.matrix import Matrix, compute_matrix
from gateway.authz.model import Category, Purpose, Regime
from gateway.authz.policy import PolicyBundle, load_policy
from gateway.policy_page import COLOURS, render_matrix_page
from tests.e2e.conftest import Gateway

from .conftest import POLICY_DIR
from .page import read_page

SHOWN = [c for c in Category if c is not Category.PUBLIC]  # PUBLIC is A everywhere: a note, not a column
NOW = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)


@pytest.fixture(scope="module")
def bundle() -> PolicyBundle:
    return load_policy(POLICY_DIR)


@pytest.fixture(scope="module")
def matrix(bundle: PolicyBundle) -> Matrix:
    return compute_matrix(Authorizer(bundle, Regime.OPT_OUT))


def test_tables_show_the_computed_letters(matrix: Matrix) -> None:
    page = read_page(render_matrix_page(matrix, now=NOW))
    by_purpose, by_division, by_category = page.tables
    assert by_purpose[1:] == [[matrix.purpose_cell(p, c).letter for c in SHOWN] for p in Purpose]
    divisions = list(dict.fromkeys((c.division, c.purpose) for c in matrix.cells))
    assert by_division[1:] == [[matrix.cell(d, p, c).letter for c in SHOWN] for d, p in divisions]
    # One row per category, one column per purpose: the purpose table turned around.
    assert by_category[1:] == [[matrix.purpose_cell(p, c).letter for p in Purpose] for c in Category]


def test_every_category_has_a_row_the_schema_links_to(matrix: Matrix) -> None:
    from gateway.schema import build_schema  # noqa: PLC0415

    text = render_matrix_page(matrix, now=NOW)
    page = read_page(text)
    assert {f"category-{c.value}" for c in Category} <= set(page.ids)
    sdl = build_schema().as_str()
    for category in Category:
        assert f"[{category.value}](/policy#category-{category.value})" in sdl, category
    linked = set(re.findall(r"\(/policy#(category-[A-Z_]+)\)", sdl))
    assert linked and linked <= set(page.ids)


def test_cells_name_their_policies_and_published_only_listings(matrix: Matrix) -> None:
    text = render_matrix_page(matrix, now=NOW)
    cell = re.search(r'<td [^>]*title="dex_directory / directory_publishing / SUBSCRIBER_LIST: ([^"]*)">(.*?)</td>', text)
    assert cell is not None
    assert "published listings only" in cell.group(1) and "decided by directory-reads-subscriber-list" in cell.group(1)
    assert '<sup class="pub" title="published listings only">P</sup>' in cell.group(2)
    assert "directory-reads-subscriber-list</a>" in cell.group(2)  # the id, visible, not only a number
    denied = re.search(r'<td [^>]*title="dex_directory / directory_publishing / CONTACT: ([^"]*)">', text)
    assert denied is not None and "decided by no permit (default deny)" in denied.group(1)


def test_every_cell_links_to_the_policies_deciding_it(matrix: Matrix, bundle: PolicyBundle) -> None:
    text = render_matrix_page(matrix, now=NOW)
    page = read_page(text)
    assert len(page.ids) == len(set(page.ids)), "ids are unique"
    assert set(page.links) <= set(page.ids), "every in-page link has its target"
    assert {f"policy-{pid}" for pid in bundle.annotations} <= set(page.ids)
    # The cell of the opt-out rule links to it, the opt-in rule and the terminated guard.
    cell = re.search(r'title="marketing / marketing_cross_category / USAGE: O = [^"]*">(.*?)</td>', text)
    assert cell is not None
    assert set(re.findall(r'href="#policy-([^"]+)"', cell.group(1))) == {
        "marketing-opt-out-approval", "marketing-opt-in-approval", "terminated-no-marketing",
    }
    for pid, notes in bundle.annotations.items():
        article = re.search(rf'<article id="policy-{re.escape(pid)}">(.*?)</article>', text, re.S)
        assert article is not None, pid
        assert notes["cite"].replace("&", "&amp;") in article.group(1)
        assert f"@id(&quot;{pid}&quot;)" in article.group(1)  # the policy's own source text


def test_legend_regime_and_print_styles(matrix: Matrix, bundle: PolicyBundle) -> None:
    text = render_matrix_page(matrix, now=NOW)
    for letter in "ATOIXSD":
        assert f'<dt class="c c-{letter}">{letter}</dt><dd>{LEGEND[letter]}</dd>' in text.replace("&#x27;", "'")
        assert f".c-{letter}{{background:{COLOURS[letter]}}}" in text
    assert 'class="c c-Q"' not in text  # `?` appears only when some cell needs it
    assert "Regime <strong>opt_out: the FCC" in text and "computed 2026-01-02 03:04 UTC" in text
    assert "@media print{" in text and "@page{size:A4 landscape" in text
    page = read_page(text)
    assert not page.tags & {"script", "img", "link", "iframe"}, "self-contained, no script"
    assert "http" not in text and str(POLICY_DIR) not in text and "/policies" not in text  # no paths, no assets


def test_opt_in_regime_page(bundle: PolicyBundle) -> None:
    text = render_matrix_page(compute_matrix(Authorizer(bundle, Regime.OPT_IN)), now=NOW)
    assert "Regime <strong>opt_in: the attorneys general" in text
    assert read_page(text).tables[0][8] == ["A", "I", "I", "I", "I", "X", "I", "D", "D"]  # marketing_cross_category


async def test_served_over_http_and_cached(gateway: Gateway) -> None:
    first = await gateway.client.get("/policy")
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/html")
    page = read_page(first.text)
    assert len(page.tables) == 3 and len(page.tables[1]) > 20
    assert page.links and set(page.links) <= set(page.ids)
    assert "Regime <strong>opt_out" in first.text
    again = await gateway.client.get("/policy")
    assert again.text == first.text  # rendered once per loaded policy (same "computed" time)
