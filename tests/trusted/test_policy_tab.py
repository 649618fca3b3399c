"""The Operations tab of ``GET /policy``: what each division does ask for, over HTTP and in a real browser."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.policy_page import COLOURS
from gateway.trusted import document_id
from tests.e2e.conftest import Gateway
from tests.keys import TEST_CURSOR_KEY, TEST_JWT_SECRET
from tests.policy.png import read_png
from tests.policy.test_policy_page_browser import _browse, _rgb
from tests.served import chromium, serve
from tests.trusted.conftest import CARE_CUSTOMER


async def test_the_policy_page_has_an_operations_tab(enforcing: Gateway, registry_dir: Path, tmp_path: Path) -> None:
    whole = (await enforcing.client.get("/policy")).text
    assert '<a href="?tab=operations">Operations</a>' in whole
    response = await enforcing.client.get("/policy?tab=operations")
    assert response.status_code == 200
    page = response.text
    (tmp_path / "policy-operations.html").write_text(page)  # the reviewer's view, kept with the test output
    assert '<section id="by-division">' not in page  # the tab shows the operations, not the matrix
    operations = page.split('<section id="operations">', 1)[1].split("</section>", 1)[0]
    assert "enforced: any other document is refused (OPERATION_NOT_REGISTERED)" in operations
    assert '<h3 id="operations-customer_care">customer_care</h3>' in operations
    care = operations.split('<h3 id="operations-customer_care">', 1)[1].split("<h3", 1)[0]
    assert "CareCustomer" in care and document_id(CARE_CUSTOMER) in care
    assert "<th>purpose</th><th>PUBLIC</th><th>SUBSCRIBER_<wbr>LIST</th><th>CONTACT</th>" in care
    assert 'title="customer_care / customer_care / LOCATION: X = ' in care  # the tour's call location
    assert str(registry_dir) not in page  # file names only, never a directory


@pytest.mark.browser
def test_screenshot_of_the_operations_tab(operations_served: str, tmp_path: Path) -> None:
    shot = tmp_path / "policy-operations.png"  # kept with the test output
    done = _browse(f"{operations_served}?tab=operations", tmp_path / "profile", f"--screenshot={shot}",
                   "--window-size=1200,1800")
    assert shot.is_file(), done.stderr.decode(errors="replace")[-2000:]
    image = read_png(shot.read_bytes())
    colours = image.colours()
    assert len(colours) > 50, "not a blank page"
    # Operation tables are painted with the matrix's letter colours: A for care's reads, X for call location.
    assert colours[_rgb(COLOURS["A"])] > 2_000 and colours[_rgb(COLOURS["X"])] > 200
    dom = _browse(f"{operations_served}?tab=operations", tmp_path / "profile2", "--dump-dom").stdout.decode()
    assert 'id="operations-customer_care"' in dom and "CareCustomer" in dom


@pytest.fixture(scope="module")
def operations_served(database_url: str, registry_dir: Path) -> Iterator[str]:
    """`python -m gateway serve` on the test registry (enforced); yields the /policy URL."""
    chromium()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CPNI_GATEWAY_JWT_SECRET": TEST_JWT_SECRET,
        "CPNI_GATEWAY_CURSOR_KEY": TEST_CURSOR_KEY,
        "CPNI_GATEWAY_POLICY_DIR": str(registry_dir),
    }
    env.pop("CPNI_GATEWAY_REGIME", None)
    env.pop("CPNI_GATEWAY_TRUSTED_DOCUMENTS", None)
    with serve(env) as base:
        assert httpx.get(f"{base}/policy", timeout=60).status_code == 200
        yield f"{base}/policy"
