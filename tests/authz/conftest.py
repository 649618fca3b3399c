"""Fixtures of the authorization tests: the shipped policy, loaded once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.authz.decide import Authorizer
from gateway.authz.matrix import Matrix, compute_matrix
from gateway.authz.model import Regime
from gateway.authz.policy import PolicyBundle, load_policy

POLICY_DIR = Path(__file__).resolve().parents[2] / "policies"


@pytest.fixture(scope="session")
def policy_dir() -> Path:
    """The shipped policy directory of this checkout."""
    return POLICY_DIR


@pytest.fixture(scope="session")
def bundle() -> PolicyBundle:
    return load_policy(POLICY_DIR)


@pytest.fixture(scope="session")
def authz(bundle: PolicyBundle) -> Authorizer:
    return Authorizer(bundle, Regime.OPT_OUT)


@pytest.fixture(scope="session")
def matrix(authz: Authorizer) -> Matrix:
    return compute_matrix(authz)


@pytest.fixture(scope="session")
def matrix_opt_in(bundle: PolicyBundle) -> Matrix:
    return compute_matrix(Authorizer(bundle, Regime.OPT_IN))


@pytest.fixture
def policy_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped policy directory."""
    target = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, target)
    return target

