"""Startup refuses a registry file that does not validate, in one line naming the file; production enforces."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.app import create_app
from gateway.cli import main
from gateway.config import ConfigError, Settings, load_settings
from gateway.trusted import RegistryError
from tests.keys import TEST_CURSOR_KEY, TEST_JWT_SECRET
from tests.trusted.conftest import write_registry

INVALID = "query Bad { customer(id: 1) { id nickname } }"  # no field `nickname`


def test_production_enforces_by_default() -> None:
    assert Settings().trusted_documents == "enforce"
    assert load_settings({}).trusted_documents == "enforce"
    assert load_settings({"CPNI_GATEWAY_TRUSTED_DOCUMENTS": "LOG"}).trusted_documents == "log"


def test_a_bad_mode_stops_startup_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^CPNI_GATEWAY_TRUSTED_DOCUMENTS: 'strict' is not valid: expected enforce, log or off$"):
        load_settings({"CPNI_GATEWAY_TRUSTED_DOCUMENTS": "strict"})


async def test_the_gateway_does_not_start_with_an_invalid_registered_document(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    policies = write_registry(tmp_path)
    (policies / "operations" / "customer_care" / "bad.graphql").write_text(INVALID)
    app = create_app(replace(settings, policy_dir=policies, trusted_documents="enforce"), database_url=database_url)
    with pytest.raises(RegistryError) as refused:
        async with app.router.lifespan_context(app):
            pass  # pragma: no cover - never reached
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("operations/customer_care/bad.graphql: GRAPHQL_VALIDATION_FAILED: ")
    assert "nickname" in message and str(tmp_path) not in message


def test_serve_refuses_an_invalid_registered_document_in_one_line(tmp_path: Path) -> None:
    policies = write_registry(tmp_path)
    (policies / "operations" / "network_ops").mkdir()
    (policies / "operations" / "network_ops" / "broken.graphql").write_text("{ customer(id: 1) { id ")
    env = {
        "CPNI_GATEWAY_POLICY_DIR": str(policies),
        "CPNI_GATEWAY_JWT_SECRET": TEST_JWT_SECRET,
        "CPNI_GATEWAY_CURSOR_KEY": TEST_CURSOR_KEY,
    }
    result = CliRunner().invoke(main, ["serve", "--port", "1"], env=env)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: operations/network_ops/broken.graphql: does not parse")


def test_a_registry_directory_of_an_unknown_division_is_refused(tmp_path: Path) -> None:
    policies = write_registry(tmp_path)
    (policies / "operations" / "sales").mkdir()
    result = CliRunner().invoke(main, ["operations", "check", "--dir", str(policies)])
    assert result.exit_code == 1
    assert result.output.strip() == "operations/sales: `sales` is not a division of the registry"
