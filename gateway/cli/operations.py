"""``cpni-gateway operations``: the trusted documents of each division (SPEC 4, gateway/trusted).

``check`` validates every registered file against the schema and the
limits and prints each document's id; ``add`` registers a file for a
division; ``list`` shows what reviewers read: per operation, the categories
it can read and, per purpose the division may declare, the matrix letter of
each. Exit codes: 0 success, 1 an invalid registry or file, 2 usage error.
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import click
from graphql import GraphQLError

from gateway.authz.decide import Authorizer
from gateway.authz.matrix import compute_matrix
from gateway.authz.model import Regime
from gateway.authz.policy import PolicyBundle, PolicyError, load_policy
from gateway.cli.common import policy_dir_option, settings_or_exit
from gateway.documents import Validator
from gateway.trusted.check import Checked, check_registry, schema_categories
from gateway.trusted.registry import SUFFIX, RegistryError, document_id, registry_dir
from gateway.trusted.review import render_json, render_markdown, review

_dir_option = policy_dir_option(
    "Policy directory holding operations/<division>/ (default: CPNI_GATEWAY_POLICY_DIR, else policies/)."
)


@click.group()
def operations() -> None:
    """Trusted documents: the operations each division may send."""


@operations.command()
@_dir_option
def check(directory: Path | None) -> None:
    """Validate every registered document against the schema and the limits; print each id."""
    checked = _checked(_bundle(directory))
    for doc in checked.registry.documents:
        click.echo(f"{doc.id}  {doc.file}")
    click.echo(f"{len(checked.registry.documents)} document(s) valid")


@operations.command(name="list")
@_dir_option
@click.option("--division", default=None, help="Only this division's operations.")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True, help="Output.")
@click.option(
    "--regime",
    type=click.Choice([r.value for r in Regime]),
    default=Regime.OPT_OUT.value,
    envvar="CPNI_GATEWAY_REGIME",
    show_default=True,
    help="The regime the outcome letters are computed under.",
)
def list_(directory: Path | None, division: str | None, fmt: str, regime: str) -> None:
    """Per registered operation: the categories it reads and each purpose's outcome letters."""
    bundle = _bundle(directory)
    if division is not None and division not in bundle.divisions:
        _fail([f"`{division}` is not a division of the registry"])
    checked = _checked(bundle)
    matrix = compute_matrix(Authorizer(bundle, Regime(regime)))
    reviewed = review(
        checked.registry, checked.schema, schema_categories(), matrix, bundle.divisions, division=division
    )
    click.echo(render_json(reviewed) if fmt == "json" else render_markdown(reviewed), nl=False)


@operations.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--division", required=True, help="The division that may send it.")
@click.option("--name", default=None, help="File name in the registry (default: FILE's own name).")
@_dir_option
def add(file: Path, division: str, name: str | None, directory: Path | None) -> None:
    """Register FILE for DIVISION: validated first, then copied to operations/<division>/."""
    bundle = _bundle(directory)
    if division not in bundle.divisions:
        _fail([f"`{division}` is not a division of the registry"])
    checked = _checked(bundle)  # the registry as it is must be valid too
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail([f"{file.name}: cannot be read ({type(exc).__name__})"])
    verdict = Validator(checked.schema, settings_or_exit().limits).prepare(text)
    if verdict.document is None:
        _fail([f"{file.name}: {verdict.code}: {'; '.join(verdict.messages[:3])}"])
    try:
        doc_id = document_id(text)
    except GraphQLError as exc:  # validated above; kept for the type checker's sake
        _fail([f"{file.name}: does not parse ({exc.message})"])
    if checked.registry.registered(division, doc_id):
        known = next(d.file for d in checked.registry.of_division(division) if d.id == doc_id)
        click.echo(f"{doc_id}  already registered as {known}")
        return
    stem = Path(name or file.name).stem
    target = registry_dir(bundle.directory) / division / f"{stem}{SUFFIX}"
    if target.exists():
        _fail([f"operations/{division}/{target.name} exists and holds another document: choose --name"])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    click.echo(f"{doc_id}  operations/{division}/{target.name}")


def _bundle(directory: Path | None) -> PolicyBundle:
    try:
        return load_policy(directory)
    except PolicyError as exc:
        _fail(exc.problems)


def _checked(bundle: PolicyBundle) -> Checked:
    try:
        return check_registry(bundle, settings_or_exit().limits)
    except RegistryError as exc:
        _fail([str(exc)])


def _fail(problems: list[str]) -> NoReturn:
    for problem in problems:
        click.echo(problem, err=True)
    raise SystemExit(1)
