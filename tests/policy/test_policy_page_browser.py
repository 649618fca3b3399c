"""GET /policy in a real headless browser: Debian's chromium renders the matrix from a real server.

Skips, saying why, only when chromium is not installed (.ci/run installs it).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.policy_page import COLOURS
from tests.keys import TEST_CURSOR_KEY, TEST_JWT_SECRET
from tests.served import chromium, serve

from .png import read_png

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 1400, 1000


@pytest.fixture(scope="module")
def served(database_url: str) -> Iterator[str]:
    """`python -m gateway serve` as a real process on the session database; yields the /policy URL."""
    chromium()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CPNI_GATEWAY_JWT_SECRET": TEST_JWT_SECRET,
        "CPNI_GATEWAY_CURSOR_KEY": TEST_CURSOR_KEY,
    }
    env.pop("CPNI_GATEWAY_REGIME", None)
    with serve(env) as base:
        # The first request renders the page (seconds of Cedar work); the browser gets the cached one.
        assert httpx.get(f"{base}/policy", timeout=60).status_code == 200
        yield f"{base}/policy"


def _browse(url: str, profile: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    command = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", *args, url,
    ]
    return subprocess.run(command, capture_output=True, timeout=120, check=False)


def test_screenshot_shows_the_matrix(served: str, tmp_path: Path) -> None:
    shot = tmp_path / "policy.png"
    done = _browse(served, tmp_path / "profile", f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}")
    assert shot.is_file(), done.stderr.decode(errors="replace")[-2000:]
    image = read_png(shot.read_bytes())
    assert (image.width, image.height) == (WIDTH, HEIGHT)
    colours = image.colours()
    assert len(colours) > 50, "not a blank page: text is anti-aliased into many shades"
    # Each letter's background appears: in the legend, and as whole cells for the common ones.
    pixels = {letter: colours[_rgb(hex_)] for letter, hex_ in COLOURS.items()}
    assert all(pixels[letter] > 200 for letter in "ATOIXSD"), pixels
    assert pixels["A"] > 50_000 and pixels["D"] > 50_000, "the matrix cells are painted"
    assert pixels["?"] == 0


def test_dom_holds_the_tables_and_the_policy_texts(served: str, tmp_path: Path) -> None:
    done = _browse(served, tmp_path / "profile", "--dump-dom")
    dom = done.stdout.decode()
    assert dom.count("<table>") == 3, done.stderr.decode(errors="replace")[-2000:]
    assert "<h1>CPNI policy matrix</h1>" in dom
    assert 'id="policy-marketing-opt-out-approval"' in dom
    assert 'href="#policy-marketing-opt-out-approval"' in dom
    assert dom.count('class="c c-O"') >= 5 * 6  # marketing_cross_category: 5 categories, 1 + 5 rows


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)
