"""Loading and validating the policy directory.

The only module of `gateway.authz` that reads files. A policy directory holds
`schema.cedarschema`, the Cedar policies (`*.cedar`), the division registry
`divisions.toml` and policy test cases (`tests/*.toml`, read by `cases.py`).
Validation is a step of its own with its own result: `load_policy` either
returns a bundle whose every policy parsed, carries `@id` and `@cite`, and
passed Cedar's validator against the schema, or raises `PolicyError` listing
every problem, each naming its file and policy id.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import cedarpy
from cedarpy import pst

from gateway.authz.model import Category, Division
from gateway.authz.registry import parse_registry

SCHEMA_FILE = "schema.cedarschema"
REGISTRY_FILE = "divisions.toml"
REQUIRED_ANNOTATIONS = ("id", "cite")


class PolicyError(Exception):
    """The policy directory is invalid; `.problems` lists each problem on one line.

    Each problem names the file and, where there is one, the policy id:
    "policies/cpni.cedar: policy `care-reads-cpni`: unknown attribute `segmnt`".
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class PolicyBundle:
    """A validated policy directory, ready to build an `Authorizer` from."""

    directory: Path
    policies_text: str  # every *.cedar file, concatenated in file-name order
    schema: str  # the Cedar schema text
    divisions: Mapping[str, Division]
    annotations: Mapping[str, Mapping[str, str]]  # policy id -> {"id": .., "cite": .., ...}
    source: Mapping[str, tuple[str, int]]  # policy id -> (file, line of its first annotation)
    effects: Mapping[str, str] = field(default_factory=dict)  # policy id -> "permit" | "forbid"
    texts: Mapping[str, str] = field(default_factory=dict)  # policy id -> its source text
    warnings: tuple[str, ...] = ()


POLICY_DIR_ENV = "CPNI_GATEWAY_POLICY_DIR"


@dataclass(frozen=True)
class PolicySource:
    """Which policy directory is in use, and why: every command says so (``policy_source``)."""

    directory: Path
    why: str

    def __str__(self) -> str:
        return f"policy directory: {self.directory.resolve()} ({self.why})"


def policy_source(directory: Path | None = None) -> PolicySource:
    """The policy directory to use, and why.

    ``directory`` if given; else `CPNI_GATEWAY_POLICY_DIR`; else `policies/`
    of the source checkout the package runs from (an editable install); else
    `policies/` of a checkout in the current directory (after `pip install
    .`, the copy being edited there, not the one installed); else the copy
    shipped in the wheel (`gateway/_policies`).
    """
    configured = os.environ.get(POLICY_DIR_ENV)
    if directory is not None:
        given = Path(directory)
        same = configured and Path(configured).resolve() == given.resolve()
        return PolicySource(given, f"from {POLICY_DIR_ENV}" if same else "given")
    if configured:
        return PolicySource(Path(configured), f"from {POLICY_DIR_ENV}")
    root = Path(__file__).resolve().parents[2]
    # Installed, parents[2] is site-packages: require the checkout's own markers.
    if _is_checkout(root):
        return PolicySource(root / "policies", "the checkout this gateway runs from")
    if _is_checkout(Path.cwd()):
        return PolicySource(Path.cwd() / "policies", f"the checkout in the current directory; {POLICY_DIR_ENV} to change")
    return PolicySource(
        Path(__file__).resolve().parents[1] / "_policies",
        f"shipped with the installed package; {POLICY_DIR_ENV} or --dir for a working copy",
    )


def default_policy_dir() -> Path:
    """The policy directory to use when none is given (see :func:`policy_source`)."""
    return policy_source().directory


def _is_checkout(root: Path) -> bool:
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file() or not (root / "policies" / REGISTRY_FILE).is_file():
        return False
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return False
    return bool(project.get("name") == "cpni-gateway")


def load_policy(directory: Path | None = None) -> PolicyBundle:
    """Read, parse and validate a policy directory; raise `PolicyError` if invalid."""
    directory = Path(directory) if directory is not None else default_policy_dir()
    if not directory.is_dir():
        raise PolicyError([f"{_show(directory)}: not a policy directory"])
    problems: list[str] = []
    schema_text = _read_schema(directory, problems)
    files = sorted(directory.glob("*.cedar"))
    if not files:
        problems.append(f"{_show(directory)}: no *.cedar policy files")
    texts: list[str] = []
    annotations: dict[str, Mapping[str, str]] = {}
    source: dict[str, tuple[str, int]] = {}
    effects: dict[str, str] = {}
    policy_texts: dict[str, str] = {}
    permitted: set[str] = set()
    for path in files:
        text = path.read_text(encoding="utf-8")
        texts.append(text)
        for template in _parse_file(path, text, problems):
            _check_policy(path, text, template, annotations, source, effects, problems)
            if template.effect == "permit":
                permitted |= _categories_named(template)
        policy_texts.update((_id_in(chunk), chunk.strip()) for _, chunk in _chunks(text))
        if schema_text is not None:
            _validate_file(path, text, schema_text, problems)
    divisions = _read_registry(directory / REGISTRY_FILE, problems)
    if problems:
        raise PolicyError(problems)
    assert schema_text is not None  # a missing schema is a problem above
    warnings = tuple(
        f"{_show(directory)}: no policy permits category {c} for anyone"
        for c in Category
        if c.value not in permitted
    )
    return PolicyBundle(
        directory=directory,
        policies_text="\n".join(texts),
        schema=schema_text,
        divisions=MappingProxyType(divisions),
        annotations=MappingProxyType(annotations),
        source=MappingProxyType(source),
        effects=MappingProxyType(effects),
        texts=MappingProxyType({k: v for k, v in policy_texts.items() if k in source}),
        warnings=warnings,
    )


def _show(path: Path) -> str:
    """A path as messages show it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _read_schema(directory: Path, problems: list[str]) -> str | None:
    path = directory / SCHEMA_FILE
    if not path.is_file():
        problems.append(f"{_show(path)}: missing Cedar schema")
        return None
    text = path.read_text(encoding="utf-8")
    try:
        cedarpy.Schema.from_str(text)
    except ValueError as exc:
        problems.append(f"{_show(path)}: invalid schema: {_one_line(str(exc))}")
        return None
    return text


def _parse_file(path: Path, text: str, problems: list[str]) -> list[pst.Template]:
    """Parse one file; on a syntax error find which policy has it (Cedar gives no line)."""
    try:
        parsed = cedarpy.policies_to_pst(text)
    except ValueError:
        for line, chunk in _chunks(text):
            try:
                cedarpy.policies_to_pst(chunk)
            except ValueError as exc:
                problems.append(
                    f"{_show(path)}:{line}: policy `{_id_in(chunk)}`: "
                    f"syntax error: {_one_line(str(exc))}"
                )
        return []
    for template in parsed.templates.values():
        problems.append(
            f"{_show(path)}: policy `{template.annotations.get('id', template.id)}`: "
            "templates (?principal/?resource) are not allowed"
        )
    return list(parsed.static_policies.values())


def _check_policy(
    path: Path,
    text: str,
    template: pst.Template,
    annotations: dict[str, Mapping[str, str]],
    source: dict[str, tuple[str, int]],
    effects: dict[str, str],
    problems: list[str],
) -> None:
    policy_id = template.annotations.get("id", "")
    line = _line_of(text, policy_id)
    label = policy_id or f"<no @id, line {line}>"
    for name in REQUIRED_ANNOTATIONS:
        if not template.annotations.get(name, "").strip():
            problems.append(f"{_show(path)}: policy `{label}`: missing @{name} annotation")
    if not policy_id:
        return
    if policy_id in source:
        first = source[policy_id]
        problems.append(
            f"{_show(path)}: policy `{policy_id}`: duplicate @id (also {first[0]}:{first[1]})"
        )
        return
    annotations[policy_id] = MappingProxyType(dict(template.annotations))
    source[policy_id] = (_show(path), line)
    effects[policy_id] = template.effect


def _validate_file(path: Path, text: str, schema_text: str, problems: list[str]) -> None:
    result = cedarpy.validate_policies(text, schema_text)
    if result.validation_passed:
        return
    names = result.id_annotations_by_policy_id
    for error in result.errors:
        if not error.policy_id:
            continue  # a parse error, already reported with its policy by _parse_file
        label = names.get(error.policy_id, error.policy_id)
        message = error.error.replace(f"for policy `{error.policy_id}`, ", "")
        problems.append(f"{_show(path)}: policy `{label}`: {_one_line(message)}")


def _read_registry(path: Path, problems: list[str]) -> dict[str, Division]:
    shown = _show(path)
    if not path.is_file():
        problems.append(f"{shown}: missing division registry")
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{shown}: invalid TOML: {exc}")
        return {}
    return parse_registry(shown, data, problems)


def _categories_named(template: pst.Template) -> set[str]:
    """Data categories a permit names; one naming none may permit every category."""
    named = {uid.id for uid in pst.entity_uids(template) if uid.type.basename == "DataCategory"}
    return named or {c.value for c in Category}


_ID = re.compile(r'@id\(\s*"((?:[^"\\]|\\.)*)"\s*\)')


def _id_in(chunk: str) -> str:
    match = _ID.search(chunk)
    return match.group(1) if match else "<no @id>"


def _line_of(text: str, policy_id: str) -> int:
    for match in _ID.finditer(text):
        if match.group(1) == policy_id:
            return text.count("\n", 0, match.start()) + 1
    return 1


def _chunks(text: str) -> list[tuple[int, str]]:
    """Split policy text into (first line, text) per policy, to locate syntax errors.

    A policy starts at a line beginning (column 0) with `@`, `permit` or
    `forbid` after the previous policy's closing `;`.
    """
    chunks: list[tuple[int, list[str]]] = []
    closed = True
    for number, line in enumerate(text.splitlines(), start=1):
        code = line.split("//", 1)[0].rstrip()
        if closed and re.match(r"(@|permit\b|forbid\b)", line):
            chunks.append((number, []))
            closed = False
        if chunks and not closed:
            chunks[-1][1].append(line)
        if code.endswith(";"):
            closed = True
    return [(start, "\n".join(lines)) for start, lines in chunks]


def _one_line(message: str) -> str:
    return " ".join(message.split())


def case_files(paths: list[Path] | None = None, directory: Path | None = None) -> list[Path]:
    """The policy test case files: `paths` (files or folders), else `<policy dir>/tests/*.toml`."""
    if not paths:
        paths = [(directory or default_policy_dir()) / "tests"]
    found: list[Path] = []
    for path in paths:
        found += sorted(path.glob("*.toml")) if path.is_dir() else [path]
    return found


def read_cases(files: list[Path]) -> list[tuple[str, dict[str, object]]]:
    """Read policy test case files (TOML); `PolicyError` names each unreadable one."""
    documents: list[tuple[str, dict[str, object]]] = []
    problems: list[str] = []
    for path in files:
        try:
            documents.append((_show(path), tomllib.loads(path.read_text(encoding="utf-8"))))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            problems.append(f"{_show(path)}: {_one_line(str(exc))}")
    if problems:
        raise PolicyError(problems)
    return documents
