"""Which policy directory runs: every `policy` command and `serve` say it, and an installed
gateway run from a checkout validates that checkout's copy, the one being edited."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "args",
    [
        ["policy", "validate"],
        ["policy", "matrix", "--format", "json"],
        ["policy", "test"],
        ["policy", "explain", "--field", "UsageRecord.cellSite"],
    ],
)
def test_every_policy_command_names_its_policy_directory(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CPNI_GATEWAY_POLICY_DIR", raising=False)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == f"policy directory: {ROOT / 'policies'} (the checkout this gateway runs from)"
    assert "policy directory" not in result.stdout  # stdout stays machine-readable (matrix --format json)


def test_the_environment_variable_is_named_when_it_chose(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPNI_GATEWAY_POLICY_DIR", str(ROOT / "policies"))
    result = CliRunner().invoke(main, ["policy", "test"])
    assert f"policy directory: {ROOT / 'policies'} (from CPNI_GATEWAY_POLICY_DIR)" in result.stderr


def test_policy_diff_names_both_directories(tmp_path: Path) -> None:
    copy = tmp_path / "new"
    shutil.copytree(ROOT / "policies", copy)
    result = CliRunner().invoke(main, ["policy", "diff", str(ROOT / "policies"), str(copy)])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[:2] == [
        f"old policy directory: {ROOT / 'policies'} (given)",
        f"new policy directory: {copy} (given)",
    ]


def _installed(tmp_path: Path) -> Path:
    """The wheel's layout (gateway/ with the policies inside as gateway/_policies) in a directory of its own."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "gateway", site / "gateway", ignore=shutil.ignore_patterns("__pycache__", "static"))
    shutil.copytree(ROOT / "policies", site / "gateway" / "_policies")
    return site


def _run_installed(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CPNI_GATEWAY_POLICY_DIR"}
    env["PYTHONPATH"] = str(site)  # ahead of the editable checkout
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_installed_outside_a_checkout_uses_the_shipped_copy_and_says_so(tmp_path: Path) -> None:
    site = _installed(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = _run_installed(site, elsewhere, "policy", "validate")
    assert done.returncode == 0, done.stderr
    shipped = site / "gateway" / "_policies"
    assert done.stderr.splitlines()[0] == (
        f"policy directory: {shipped} (shipped with the installed package;"
        " CPNI_GATEWAY_POLICY_DIR or --dir for a working copy)"
    )


def test_installed_and_run_from_a_checkout_validates_the_checkouts_edited_copy(tmp_path: Path) -> None:
    site = _installed(tmp_path)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    shutil.copy(ROOT / "pyproject.toml", checkout / "pyproject.toml")
    shutil.copytree(ROOT / "policies", checkout / "policies")
    edited = checkout / "policies" / "guards.cedar"
    edited.write_text(edited.read_text() + "\n@id(\"typo\")\n@cite(\"none\")\npermit (principal, action, resource) when { resource.segmnt == 1 };\n")
    done = _run_installed(site, checkout, "policy", "validate")
    assert done.stderr.splitlines()[0] == (
        f"policy directory: {checkout / 'policies'} (the checkout in the current directory;"
        " CPNI_GATEWAY_POLICY_DIR to change)"
    )
    assert done.returncode == 1  # the edit is what was validated, not the installed copy
    assert "typo" in done.stdout
