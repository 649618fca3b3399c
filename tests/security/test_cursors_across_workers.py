"""A cursor from one worker pages on another: the cursor key is configuration, not process state."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.databases import create_database, drop_database
from tests.security.live import free_port

pytestmark = pytest.mark.slow

PAGE = """query($after: String) { customers(first: 3, after: $after, filter: {segment: RESIDENTIAL}) {
  edges { node { id } } pageInfo { hasNextPage endCursor } } }"""


@pytest.fixture
def two_workers(server_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`serve --demo --workers 2` as a real process; yields (base URL, customer care token)."""
    name, url = asyncio.run(create_database(server_url, "cpni_workers", migrated=False))
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "CPNI_GATEWAY_DEMO_CUSTOMERS": "200"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--demo", "--workers", "2", "--port", str(port),
         "--data-dir", str(tmp_path)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    banner = ""
    try:
        deadline = time.monotonic() + 120
        assert process.stdout is not None
        while time.monotonic() < deadline and "Declare the purpose" not in banner:
            line = process.stdout.readline()
            if not line:
                break
            banner += line
        base = f"http://127.0.0.1:{port}"
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        tokens = dict(re.findall(r"^  (\w+) \([^)]*\):\n    (\S+)$", banner, flags=re.M))
        yield base, tokens["customer_care"]
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
        asyncio.run(drop_database(server_url, name))


def test_every_page_continues_on_whichever_worker_answers(two_workers: tuple[str, str]) -> None:
    base, token = two_workers
    headers = {"Authorization": f"Bearer {token}"}
    seen: list[str] = []
    after = None
    for _ in range(25):
        # A new connection per request: the kernel hands each to either worker.
        with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
            response = client.post("/graphql", json={"query": PAGE, "variables": {"after": after}})
        assert response.status_code == 200, response.text
        page = response.json()["data"]["customers"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) >= 60
    assert seen == sorted(seen, key=int) and len(set(seen)) == len(seen)
