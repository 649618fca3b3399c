"""Gateways on a copy of the shipped policies with a small test registry, enforced and logged."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_asyncio

from gateway.authz.policy import default_policy_dir
from gateway.config import Settings
from gateway.db import gateway_login_url
from tests.e2e.conftest import Gateway, _started

# Registered for customer_care only (besides the shipped tour: policies/operations/).
CARE_CUSTOMER = """
# Customer care looks a caller up by id.
query CareCustomer($id: ID!) {
  customer(id: $id) { id name email }
}
"""
# The same document, differently spaced and commented: the same id.
CARE_CUSTOMER_REFORMATTED = "query CareCustomer( $id : ID! ) { customer( id: $id ) { id, name, email } } # reviewed"
# Registered for billing_collections only.
BILLING_BALANCE = """
query Balance($id: ID!) {
  customer(id: $id) { id balance { amountCents } }
}
"""
# Registered for no one.
UNREGISTERED = "query Exfiltrate($id: ID!) { customer(id: $id) { id name email services { category plan } } }"


def write_registry(root: Path) -> Path:
    """A copy of the shipped policy directory plus the documents above; returns it."""
    target = root / "policies"
    shutil.copytree(default_policy_dir(), target)
    for division, name, text in (("customer_care", "customer", CARE_CUSTOMER), ("billing_collections", "balance", BILLING_BALANCE)):
        (target / "operations" / division).mkdir(exist_ok=True)
        (target / "operations" / division / f"{name}.graphql").write_text(text)
    return target


@pytest.fixture(scope="session")
def registry_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_registry(tmp_path_factory.mktemp("trusted"))


async def _gateway(settings: Settings, database_url: str, policy_dir: Path, mode: str) -> AsyncIterator[Gateway]:
    login = await gateway_login_url(database_url)
    async for gw in _started(replace(settings, policy_dir=policy_dir), login, trusted_documents=mode):
        yield gw


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def enforcing(settings: Settings, database_url: str, registry_dir: Path) -> AsyncIterator[Gateway]:
    """CPNI_GATEWAY_TRUSTED_DOCUMENTS=enforce (the default outside --demo)."""
    async for gw in _gateway(settings, database_url, registry_dir, "enforce"):
        yield gw


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def logging_(settings: Settings, database_url: str, registry_dir: Path) -> AsyncIterator[Gateway]:
    """CPNI_GATEWAY_TRUSTED_DOCUMENTS=log (the --demo default)."""
    async for gw in _gateway(settings, database_url, registry_dir, "log"):
        yield gw


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def unchecked(settings: Settings, database_url: str, registry_dir: Path) -> AsyncIterator[Gateway]:
    """CPNI_GATEWAY_TRUSTED_DOCUMENTS=off."""
    async for gw in _gateway(settings, database_url, registry_dir, "off"):
        yield gw


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def shipped(settings: Settings, database_url: str) -> AsyncIterator[Gateway]:
    """The shipped policies and registry (the README's tour), enforced."""
    async for gw in _gateway(settings, database_url, default_policy_dir(), "enforce"):
        yield gw
