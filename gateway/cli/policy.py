"""``cpni-gateway policy``: validate, test, show and compare the authorization policy.

Everything here works on the policy directory alone (no database):
``validate``, ``matrix``, ``test`` and ``diff``. Exit codes: 0 success,
1 invalid policy, failing case or (``diff --exit-code``) changed cells,
2 usage error.
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import click

from gateway.authz.cases import CaseError, parse_cases, run_cases
from gateway.authz.decide import Authorizer
from gateway.authz.diff import diff_matrices
from gateway.authz.matrix import Matrix, compute_matrix, render_html, render_json, render_markdown
from gateway.authz.model import Regime
from gateway.authz.policy import PolicyBundle, PolicyError, case_files, load_policy, read_cases

_DIR = click.Path(exists=True, file_okay=False, path_type=Path)
_dir_option = click.option(
    "--dir",
    "directory",
    type=_DIR,
    default=None,
    envvar="CPNI_GATEWAY_POLICY_DIR",
    help="Policy directory (default: CPNI_GATEWAY_POLICY_DIR, else the shipped policies/).",
)
_regime_option = click.option(
    "--regime",
    type=click.Choice([r.value for r in Regime]),
    default=Regime.OPT_OUT.value,
    envvar="CPNI_GATEWAY_REGIME",
    show_default=True,
    help="opt_out (FCC 2002 rules) or opt_in (the attorneys general's position).",
)


@click.group()
def policy() -> None:
    """Validate, test, show and compare the authorization policy (Cedar files in policies/)."""


@policy.command()
@click.argument("directory", type=_DIR, required=False)
def validate(directory: Path | None) -> None:
    """Parse and validate DIRECTORY (default: the configured policies/).

    Prints one line per problem, naming the file and the policy id, and exits 1
    if there is any; warnings do not fail.
    """
    bundle = _load(directory)
    for warning in bundle.warnings:
        click.echo(f"warning: {warning}")
    click.echo(f"{bundle.directory}: valid ({len(bundle.annotations)} policies, {len(bundle.divisions)} divisions)")


@policy.command()
@_dir_option
@click.option(
    "--format", "fmt", type=click.Choice(["md", "html", "json"]), default="md", show_default=True, help="Output format."
)
@_regime_option
def matrix(directory: Path | None, fmt: str, regime: str) -> None:
    """Print the effective policy matrix: purpose x category and division x purpose x category.

    Every cell is computed by Cedar over every relevant combination of
    customer facts, then named by the letter of SPEC 6.2's legend.
    """
    computed = _matrix(_load(directory), Regime(regime))
    render = {"md": render_markdown, "html": render_html, "json": render_json}[fmt]
    click.echo(render(computed))


@policy.command()
@click.argument("cases", nargs=-1, type=click.Path(exists=True, path_type=Path))
@_dir_option
def test(cases: tuple[Path, ...], directory: Path | None) -> None:
    """Run policy test cases (CASES: files or folders; default: policies/tests/*.toml).

    Prints one line per failing case and a summary; exits 1 if any case fails.
    """
    bundle = _load(directory)
    try:
        parsed = parse_cases(read_cases(case_files(list(cases), bundle.directory)))
    except (PolicyError, CaseError) as exc:
        _fail(exc.problems)
    if not parsed:
        _fail(["no policy test cases found"])
    results = run_cases(bundle, parsed)
    failed = [r for r in results if not r.passed]
    for result in failed:
        click.echo(f"FAIL {result.case.file}: {result.case.name} [{result.regime.value}]: {result.message}")
    click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed ({len(parsed)} cases)")
    if failed:
        raise SystemExit(1)


@policy.command()
@click.argument("old_dir", type=_DIR)
@click.argument("new_dir", type=_DIR)
@_regime_option
@click.option("--exit-code", is_flag=True, help="Exit 1 when any cell changed (like `git diff --exit-code`).")
def diff(old_dir: Path, new_dir: Path, regime: str, exit_code: bool) -> None:
    """Show the matrix cells whose outcome differs between OLD_DIR and NEW_DIR.

    One line per changed cell (`division purpose CATEGORY: old -> new`, `-`
    for a cell that does not exist on one side), then the policies added,
    removed or edited.
    """
    old_bundle, new_bundle = _load(old_dir), _load(new_dir)
    old, new = _matrix(old_bundle, Regime(regime)), _matrix(new_bundle, Regime(regime))
    changes = diff_matrices(old, new)
    for change in changes:
        click.echo(str(change))
    edited = _policy_changes(old_bundle, new_bundle)
    for line in edited:
        click.echo(line)
    click.echo(f"{len(changes)} cell(s) changed, {len(edited)} polic(y/ies) added, removed or edited")
    if exit_code and changes:
        raise SystemExit(1)


def _load(directory: Path | None) -> PolicyBundle:
    try:
        return load_policy(directory)
    except PolicyError as exc:
        _fail(exc.problems)


def _matrix(bundle: PolicyBundle, regime: Regime) -> Matrix:
    return compute_matrix(Authorizer(bundle, regime))


def _policy_changes(old: PolicyBundle, new: PolicyBundle) -> list[str]:
    lines = [f"+ policy {pid}" for pid in sorted(set(new.texts) - set(old.texts))]
    lines += [f"- policy {pid}" for pid in sorted(set(old.texts) - set(new.texts))]
    lines += [
        f"~ policy {pid}" for pid in sorted(set(old.texts) & set(new.texts)) if old.texts[pid] != new.texts[pid]
    ]
    return lines


def _fail(problems: list[str]) -> NoReturn:
    for problem in problems:
        click.echo(problem)
    raise SystemExit(1)
