"""Planned execution: a validated query compiled once, executed wave by wave.

The reference path (graphql-core over the Strawberry schema) interprets a
document field by field, one awaitable per field. For the operations that
make up the traffic (customers by id, by phone, by page, and `me`), the
planner instead compiles the document once into a tree of nodes
(:mod:`gateway.plan.compile`) and executes it (:mod:`gateway.plan.execute`).
A customer by id or a page of customers is answered by one statement that
finds them, reads their facts and builds each one's answer as JSON, every
boundary guarded in SQL by the caller's decision (:mod:`gateway.plan.sql`).
A customer whose facts code settles the selection (every decision known
from the code alone, the same for every service) gets its answer written
final, with the record and errors the code stands for (decisions below the
Customer's own fields where the answer holds their objects); for the
others Python makes the same decisions for the audit, checks them against
what PostgreSQL built and adds the errors (:mod:`gateway.plan.walk`). Other
selections run wave by wave: every decision of a wave first, then one
statement per kind of object, then the answer assembled as plain dicts. Everything else, and anything
unusual, runs on the reference path, which stays the definition of the
answer: a differential test holds the two equal.

Uses `gateway.authz` (through the request's `Decisions`) and the SQL of
`gateway.resolvers`; no Strawberry code runs here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from graphql import DocumentNode, GraphQLSchema, OperationDefinitionNode, Token
from graphql.execution.values import VariableValues, get_variable_values

from gateway.plan.compile import Compiler, Node, NotPlanned, directive_variables
from gateway.plan.execute import FETCHES, ROOTS, Execution, Program, Result
from gateway.plan.order import in_document_order
from gateway.schema.context import RequestContext
from gateway.schema.sized_cache import SizedCache

__all__ = ["NotPlanned", "Plan", "Planner", "Result", "in_document_order"]

# Plans hold their document (locations point into its text): bound their
# total text, not their count.
PLAN_CACHE_BYTES = 32 * 1024 * 1024


class Plan:
    """A compiled operation with this request's coerced variables."""

    def __init__(self, program: Program, variables: VariableValues) -> None:
        self.program = program
        self.variables = variables

    @property
    def roots(self) -> tuple[Node, ...]:
        return self.program.roots

    async def execute(self, ctx: RequestContext) -> Result:
        """Run on one connection; :class:`NotPlanned` if the reference path must answer instead."""
        async with ctx.loaders.db.pinned():
            return await Execution(self.program, ctx, self.variables).run()


class _Entry:
    """The plans of one operation of one document text, by the values of its directives' variables."""

    __slots__ = ("directives", "plans", "size")

    def __init__(self, directives: tuple[str, ...], size: int) -> None:
        self.directives = directives
        self.plans: dict[tuple[str, ...], Program | None] = {}
        self.size = size


class Planner:
    """Compiles and caches plans for one schema (one per process)."""

    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema
        self.compiler = Compiler(schema, frozenset(FETCHES) | {("Query", name) for name in ROOTS})
        self._cache: SizedCache[_Entry] = SizedCache(PLAN_CACHE_BYTES)
        self.counts = {"planned": 0, "reference": 0, "fallback": 0}

    def warm(self, text: str, document: DocumentNode) -> int:
        """Compile every operation of ``document`` now; how many were compiled.

        For registered trusted documents (gateway/trusted), prepared at
        startup. An operation whose plan depends on ``@include``/``@skip``
        variables is compiled on first use instead, once per their values.
        """
        if directive_variables(document):
            return 0
        compiled = 0
        for operation in document.definitions:
            if not isinstance(operation, OperationDefinitionNode):
                continue
            key = (hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest(), operation.name.value if operation.name else None)
            entry = _Entry((), _weight(text, document))
            entry.plans[()] = self._program(document, operation, {})
            compiled += entry.plans[()] is not None
            self._cache.put(key, entry, entry.size)
        return compiled

    def plan(
        self,
        text: str,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        raw: Mapping[str, Any],
        *,
        digest: bytes | None = None,
        coerced: VariableValues | None = None,
    ) -> Plan | None:
        """The plan of ``operation`` with these variables, or None for the reference path.

        ``digest``: the SHA-256 of ``text``, and ``coerced``: ``raw`` coerced,
        when the caller has them already.
        """
        if coerced is None:
            found = get_variable_values(self.schema, operation.variable_definitions or (), dict(raw), hide_suggestions=True)
            if isinstance(found, list):
                self.counts["reference"] += 1
                return None  # the reference path reports the bad variables
            coerced = found
        if digest is None:
            digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
        key = (digest, operation.name.value if operation.name else None)
        entry = self._cache.get(key)
        if entry is None:
            entry = _Entry(directive_variables(document), _weight(text, document))
            self._cache.put(key, entry, entry.size)
        values = tuple(repr(coerced.coerced.get(name)) for name in entry.directives)
        if values in entry.plans:
            program = entry.plans[values]
        else:
            program = self._program(document, operation, coerced.coerced)
            if len(entry.plans) < 16:  # each boolean doubles them: keep a few
                entry.plans[values] = program
        if program is None:
            self.counts["reference"] += 1
            return None
        self.counts["planned"] += 1
        return Plan(program, coerced)

    def _program(
        self, document: DocumentNode, operation: OperationDefinitionNode, variables: Mapping[str, Any]
    ) -> Program | None:
        try:
            return Program(self.compiler.compile(document, operation, variables))
        except NotPlanned:
            return None


# A parsed document costs far more than its text: count its nodes too.
BYTES_PER_NODE = 512


def _weight(text: str, document: DocumentNode) -> int:
    loc = document.loc
    tokens = 0
    if loc is not None:
        token: Token | None = loc.start_token
        while token is not None and tokens < 1_000_000:
            tokens += 1
            token = token.next
    return len(text) + BYTES_PER_NODE * tokens
