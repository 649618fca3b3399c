"""The command line as an operator uses it: exit codes and output."""

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
import jwt
import pytest
from click.testing import CliRunner

from gateway.cli import main
from gateway.keys import demo_keys
from tests.databases import create_database, drop_database
from tests.served import free_port


def test_every_command_has_help() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "db", "token", "policy", "audit"):
        assert command in result.output
    for args in (["serve", "--help"], ["db", "migrate", "--help"], ["token", "issue", "--help"]):
        assert runner.invoke(main, args).exit_code == 0


def test_token_issue_signs_with_the_demo_secret_of_its_data_directory(tmp_path: Path) -> None:
    secret = demo_keys(tmp_path)["jwt_secret"]
    result = CliRunner().invoke(
        main,
        ["token", "issue", "--division", "wireless", "--purpose", "provisioning", "--ttl", "15m", "--data-dir", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.output.strip(), secret, algorithms=["HS256"], audience="cpni-gateway")
    assert claims["division"] == "wireless"
    assert claims["purposes"] == ["provisioning"]
    assert 890 <= claims["exp"] - claims["iat"] <= 910


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--division", "nope"], "unknown division 'nope'"),
        (["--division", "wireless", "--purpose", "billing_collection"], "may not declare 'billing_collection'"),
        (["--division", "wireless", "--ttl", "soon"], "invalid duration"),
    ],
)
def test_token_issue_refuses_bad_input(args: list[str], message: str, tmp_path: Path) -> None:
    demo_keys(tmp_path)
    result = CliRunner().invoke(main, ["token", "issue", *args, "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert message in result.output


def test_a_bad_setting_stops_with_one_line_naming_the_variable() -> None:
    result = CliRunner().invoke(main, ["db", "migrate"], env={"CPNI_GATEWAY_REGIME": "maybe"})
    assert result.exit_code == 1
    assert "CPNI_GATEWAY_REGIME" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.fixture
def empty_database(server_url: str) -> Iterator[str]:
    """An empty database (not migrated): the commands under test migrate it."""
    name, url = asyncio.run(create_database(server_url, "cpni_cli", migrated=False))
    yield url
    asyncio.run(drop_database(server_url, name))


def test_db_migrate_applies_then_reports_up_to_date(empty_database: str) -> None:
    url = empty_database
    runner = CliRunner()
    first = runner.invoke(main, ["db", "migrate"], env={"DATABASE_URL": url})
    assert first.exit_code == 0, first.output
    assert "applied 0001_core" in first.output
    second = runner.invoke(main, ["db", "migrate"], env={"DATABASE_URL": url})
    assert second.exit_code == 0
    assert second.output.strip() == "database is up to date"


@pytest.fixture
def demo_server(empty_database: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`cpni-gateway serve --demo` as a real process; yields (base URL, banner)."""
    url = empty_database
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "CPNI_GATEWAY_DEMO_CUSTOMERS": "200"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--demo", "--port", str(port), "--data-dir", str(tmp_path)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    banner = ""
    try:
        deadline = time.monotonic() + 120
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            banner += line
            if "Uvicorn running" in line or "Application startup complete" in line:
                break
        base = f"http://127.0.0.1:{port}"
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield base, banner
    finally:
        process.terminate()
        process.wait(timeout=20)
        if process.stdout is not None:
            process.stdout.close()


def test_serve_demo_prints_graphiql_and_a_token_per_division_and_serves(demo_server: tuple[str, str]) -> None:
    base, banner = demo_server
    assert f"GraphiQL at {base}/graphql" in banner
    tokens = dict(re.findall(r"^  (\w+) \([^)]*\):\n    (\S+)$", banner, flags=re.M))
    assert {"customer_care", "wireless", "privacy_office", "partner"} <= set(tokens)
    assert "demo-wireless-upgrade  (wireless, marketing_same_category)" in banner
    response = httpx.post(
        f"{base}/graphql",
        json={"query": "{ customers(first: 3) { edges { node { id name services { category } } } } }"},
        headers={"Authorization": f"Bearer {tokens['customer_care']}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    edges = response.json()["data"]["customers"]["edges"]
    assert len(edges) == 3 and all(e["node"]["name"] for e in edges)
    assert httpx.get(f"{base}/graphql", headers={"Accept": "text/html"}, timeout=5).status_code == 200
    assert httpx.get(f"{base}/readyz", timeout=5).json()["ready"] is True
