"""``cpni-gateway policy``: validate, test, show, explain and compare the authorization policy.

``validate``, ``matrix``, ``test`` and ``diff`` work on policy directories
alone; ``explain`` and ``diff --impact`` also read the current database
(``DATABASE_URL``, else the embedded server). Exit codes: 0 success, 1
invalid policy, failing case, unknown customer, unreachable database or
(``diff --exit-code``) changed cells, 2 usage error.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TypeVar

import asyncpg
import click

from gateway.authz.cases import CaseError, parse_cases, run_cases
from gateway.authz.decide import Authorizer
from gateway.authz.deciding import deciding_policies, render_catalog_json, render_catalog_text
from gateway.authz.diff import diff_matrices
from gateway.authz.explain import CampaignRef, ServiceRef, explain_field, render_field_json, render_field_text
from gateway.authz.impact import Group, impacts
from gateway.authz.matrix import Matrix, compute_matrix, render_json, render_markdown
from gateway.authz.model import Facts, Purpose, Regime, ServiceCategory
from gateway.authz.policy import PolicyBundle, PolicyError, case_files, load_policy, policy_source, read_cases
from gateway.cli.common import POLICY_DIR, data_dir_option, policy_dir_option, run_with_pool, settings_or_exit
from gateway.config import Settings
from gateway.policy_page import render_matrix_page
from gateway.resolvers.campaigns import usable_campaign_categories
from gateway.resolvers.database import DATABASE_ERRORS, Database
from gateway.resolvers.facts import facts_by_customer
from gateway.resolvers.impact import population
from gateway.resolvers.services import services_by_customer
from gateway.trusted.registry import RegistryError, load_registry
from gateway.trusted.review import OperationChange, diff_registries

T = TypeVar("T")

_REGIMES = click.Choice([r.value for r in Regime])
_dir_option = policy_dir_option("Policy directory (default: CPNI_GATEWAY_POLICY_DIR, else the shipped policies/).")
_regime_option = click.option(
    "--regime",
    type=_REGIMES,
    default=Regime.OPT_OUT.value,
    envvar="CPNI_GATEWAY_REGIME",
    show_default=True,
    help="opt_out (FCC 2002 rules) or opt_in (the attorneys general's position).",
)


@click.group()
def policy() -> None:
    """Validate, test, show, explain and compare the authorization policy (Cedar files in policies/)."""


@policy.command()
@click.argument("directory", type=POLICY_DIR, required=False)
def validate(directory: Path | None) -> None:
    """Validate DIRECTORY (default: the configured policies/) and the schema's field categories.

    Checks every policy against the Cedar schema, the division registry, and
    that every field of the GraphQL schema carries a data category. Prints one
    line per problem, naming the file and the policy id (or the field), and
    exits 1 if there is any; warnings do not fail.
    """
    problems: list[str] = []
    bundle: PolicyBundle | None = None
    click.echo(str(policy_source(directory)), err=True)
    try:
        bundle = load_policy(directory)
    except PolicyError as exc:
        problems += exc.problems
    problems += _schema_problems()
    if problems:
        _fail(problems)
    assert bundle is not None
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
    render = {"md": render_markdown, "html": render_matrix_page, "json": render_json}[fmt]
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
@click.option("--division", default=None, help="Division id of the registry (needed with --customer).")
@click.option(
    "--purpose",
    default=None,
    type=click.Choice([p.value for p in Purpose]),
    metavar="PURPOSE",
    help="Declared purpose, as in X-Purpose (e.g. marketing_cross_category; needed with --customer).",
)
@click.option("--customer", type=int, default=None, help="Customer id in the database (omit: the policies only).")
@click.option("--field", "field_name", required=True, help="A schema field as Type.field, e.g. UsageRecord.cellSite.")
@click.option("--service", "service_id", default=None, help="For a field decided per service: that service's id.")
@click.option("--campaign", "campaign_id", default=None, help="For a marketing purpose: the X-Campaign-Id to run under.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output.")
@_dir_option
@_regime_option
@data_dir_option
def explain(
    division: str | None,
    purpose: str | None,
    customer: int | None,
    field_name: str,
    service_id: str | None,
    campaign_id: str | None,
    fmt: str,
    directory: Path | None,
    regime: str,
    data_dir: Path | None,
) -> None:
    """Would DIVISION, declaring PURPOSE, see FIELD of CUSTOMER now, and why?

    Reads the customer's facts (and services, and the campaign) from the
    current database, takes the field's data category from the schema's
    @category directive, and decides as the gateway does: a field decided per
    service for --service, else for each of the customer's services (allowed
    only if every one allows it); a marketing purpose under --campaign (none,
    or one not current and approved for the division and purpose: refused).
    Prints the determining policy ids with their @cite and the facts used.

    Without --customer, reads no database: prints every policy that can
    decide the field's category (for --division / --purpose if given), with
    its @cite and the matrix cells it decides.

    Exits 0 whether allowed or denied, 1 if the customer does not exist, 2
    for an unknown division, purpose, field or service.
    """
    from gateway.schema import build_schema  # noqa: PLC0415
    from gateway.schema.fields import FieldLookupError, lookup_field  # noqa: PLC0415 - builds the schema

    authorizer = Authorizer(_load(directory), Regime(regime))
    found = None
    if division is not None:
        found = authorizer.divisions.get(division)
        if found is None:
            known = ", ".join(sorted(authorizer.divisions))
            raise click.BadParameter(f"unknown division `{division}` (known: {known})", param_hint="--division")
    try:
        field = lookup_field(build_schema(), field_name)
    except FieldLookupError as exc:
        raise click.BadParameter(str(exc), param_hint="--field") from None
    if customer is None:
        if service_id is not None or campaign_id is not None:
            raise click.UsageError("--service and --campaign need --customer")
        catalog = deciding_policies(
            authorizer, compute_matrix(authorizer), field.category, division=division, purpose=Purpose(purpose) if purpose else None
        )
        click.echo(
            json.dumps(render_catalog_json(field.name, field.category, catalog), indent=2)
            if fmt == "json"
            else render_catalog_text(field.name, field.category, catalog)
        )
        return
    if found is None or purpose is None:
        raise click.UsageError("--customer needs --division and --purpose")
    if service_id is not None and not field.per_service:
        raise click.BadParameter(f"{field.name} is not decided per service", param_hint="--service")
    looked_up = _customer(
        settings_or_exit(data_dir=data_dir), customer, field.per_service, campaign_id, found.id, Purpose(purpose)
    )
    if looked_up.facts is None:
        click.echo(f"customer {customer} not found")
        raise SystemExit(1)
    service = None
    if service_id is not None:
        service = next((s for s in looked_up.services if s.id == service_id.strip()), None)
        if service is None:
            raise click.BadParameter(f"customer {customer} has no service `{service_id}`", param_hint="--service")
    report = explain_field(
        authorizer, found, Purpose(purpose), field.name, field.category, str(customer), looked_up.facts,
        per_service=field.per_service, services=looked_up.services, service=service, campaign=looked_up.campaign,
        steps=field.steps,
    )
    click.echo(json.dumps(render_field_json(report), indent=2) if fmt == "json" else render_field_text(report))


@policy.command()
@click.argument("old_dir", type=POLICY_DIR)
@click.argument("new_dir", type=POLICY_DIR)
@_regime_option
@click.option("--old-regime", type=_REGIMES, default=None, help="Regime of OLD_DIR (default: --regime).")
@click.option("--new-regime", type=_REGIMES, default=None, help="Regime of NEW_DIR (default: --regime).")
@click.option("--impact", is_flag=True, help="Count the customers of the current database each change affects.")
@click.option("--exit-code", is_flag=True, help="Exit 1 when any cell changed (like `git diff --exit-code`).")
@data_dir_option
def diff(
    old_dir: Path,
    new_dir: Path,
    regime: str,
    old_regime: str | None,
    new_regime: str | None,
    impact: bool,
    exit_code: bool,
    data_dir: Path | None,
) -> None:
    """Show the matrix cells whose outcome differs between OLD_DIR and NEW_DIR.

    One line per changed cell (`division purpose CATEGORY: old -> new`, `-`
    for a cell that does not exist on one side), then the policies added,
    removed or edited, then the registered operations (trusted documents)
    added, removed or changed, with the categories each change adds. With --impact, each line also says how many customers
    of the current database would lose and gain visibility of that cell
    (counted with one GROUP BY query, never customer by customer). Give
    --old-regime and --new-regime to compare the two regimes.
    """
    old_bundle, new_bundle = _load(old_dir, "old "), _load(new_dir, "new ")
    old_authz = Authorizer(old_bundle, Regime(old_regime or regime))
    new_authz = Authorizer(new_bundle, Regime(new_regime or regime))
    changes = diff_matrices(compute_matrix(old_authz), compute_matrix(new_authz))
    lines: list[str] = [str(change) for change in changes]
    if impact and changes:
        groups = _population(settings_or_exit(data_dir=data_dir))
        lines = [str(i) for i in impacts(changes, old_authz, new_authz, groups)]
        lines.append(f"impact over {sum(g.customers for g in groups)} customer(s) in the current database")
    for line in lines:
        click.echo(line)
    edited = _policy_changes(old_bundle, new_bundle)
    for line in edited:
        click.echo(line)
    operations = _operation_changes(old_bundle, new_bundle)
    for change in operations:
        click.echo(str(change))
    click.echo(f"{len(changes)} cell(s) changed, {len(edited)} polic(y/ies) added, removed or edited")
    if operations:
        click.echo(f"{len(operations)} operation(s) added, removed or changed")
    if exit_code and changes:
        raise SystemExit(1)


def _load(directory: Path | None, label: str = "") -> PolicyBundle:
    """The policy of ``directory`` (default: the configured one), saying on stderr which it is."""
    click.echo(label + str(policy_source(directory)), err=True)
    try:
        return load_policy(directory)
    except PolicyError as exc:
        _fail(exc.problems)


def _matrix(bundle: PolicyBundle, regime: Regime) -> Matrix:
    return compute_matrix(Authorizer(bundle, regime))


@dataclass(frozen=True)
class _Looked:
    facts: Facts | None
    services: list[ServiceRef]
    campaign: CampaignRef | None


def _customer(
    settings: Settings, customer: int, per_service: bool, campaign_id: str | None, division: str, purpose: Purpose
) -> _Looked:
    """The customer's facts, for service data its services, and the campaign asked about."""

    async def work(pool: asyncpg.Pool) -> _Looked:
        db = Database(pool)
        facts = (await facts_by_customer(db, [customer]))[0]
        campaign = None
        if campaign_id is not None and purpose.is_marketing:
            categories = await usable_campaign_categories(db, campaign_id, division, purpose.value)
            campaign = CampaignRef(campaign_id, categories)
        if facts is None or not per_service:
            return _Looked(facts, [], campaign)
        rows = (await services_by_customer(db, [customer]))[0]
        return _Looked(facts, [ServiceRef(str(r.id), ServiceCategory(r.category)) for r in rows], campaign)

    return _with_database(settings, work)


def _population(settings: Settings) -> list[Group]:
    async def work(pool: asyncpg.Pool) -> list[Group]:
        return await population(pool)

    return _with_database(settings, work)


def _with_database(settings: Settings, work: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    """Run database work; a failing database is one line and exit 1, never a traceback."""

    async def guarded(pool: asyncpg.Pool) -> T:
        try:
            return await work(pool)
        except DATABASE_ERRORS as exc:
            raise click.ClickException(f"the database is unavailable ({type(exc).__name__})") from None

    return run_with_pool(settings, guarded)


def _policy_changes(old: PolicyBundle, new: PolicyBundle) -> list[str]:
    lines = [f"+ policy {pid}" for pid in sorted(set(new.texts) - set(old.texts))]
    lines += [f"- policy {pid}" for pid in sorted(set(old.texts) - set(new.texts))]
    lines += [
        f"~ policy {pid}" for pid in sorted(set(old.texts) & set(new.texts)) if old.texts[pid] != new.texts[pid]
    ]
    return lines


def _operation_changes(old: PolicyBundle, new: PolicyBundle) -> list[OperationChange]:
    """Trusted documents added, removed or changed between the two directories' registries."""
    from gateway.schema import build_schema, graphql_schema  # noqa: PLC0415
    from gateway.trusted.check import schema_categories  # noqa: PLC0415 - imports strawberry

    try:
        before = load_registry(old.directory, old.divisions)
        after = load_registry(new.directory, new.divisions)
    except RegistryError as exc:
        _fail([str(exc)])
    if not before.documents and not after.documents:
        return []
    return diff_registries(before, after, graphql_schema(build_schema()), schema_categories())


def _schema_problems() -> list[str]:
    """Every field of the GraphQL schema must carry a data category (SPEC 5)."""
    from gateway.schema import build_schema  # noqa: PLC0415 - imports strawberry
    from gateway.schema.check import SchemaCategoryError  # noqa: PLC0415

    try:
        build_schema()
    except SchemaCategoryError as exc:
        return [f"gateway/schema: {problem}" for problem in str(exc).split("; ")]
    except Exception as exc:  # a schema that does not build is a finding, not a crash
        return [f"gateway/schema: the schema does not build ({type(exc).__name__}: {exc})"]
    return []


def _fail(problems: list[str]) -> NoReturn:
    for problem in problems:
        click.echo(problem)
    raise SystemExit(1)
