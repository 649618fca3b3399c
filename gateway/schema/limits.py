"""Query limits (SPEC section 7), counted through every form a document can take.

Depth and aliases are checked on the document by validation rules; page
sizes and cost need the variables, so :func:`check_cost` runs after the
variables are coerced (:func:`coerce_variables`) exactly as execution will
coerce them: ``100.0`` is the Int ``100``, a variable's default applies when
it is not sent, an argument's schema default when it is not given.

Everything is counted over the *expansion* of the operation: a fragment
spread ten times counts ten times. Each fragment is measured once and the
result reused (a fragment spreading another twice, twenty levels deep, is
2^20 fields of expansion but 20 measurements), so a limit check is linear in
the document, never exponential.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
    get_named_type,
    value_from_ast,
)
from graphql.execution.values import VariableValues, get_variable_values

from gateway.schema.errors import BadUserInputError, QueryTooComplexError
from gateway.schema.sized_cache import SizedCache

# Assumed length of a list field without a page argument, for the cost estimate.
DEFAULT_LIST_SIZE = 10
PAGE_ARGUMENTS = ("first", "last")


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


@dataclass
class _Measure:
    """Depth and alias count of selection sets, memoized per fragment."""

    fragments: Mapping[str, FragmentDefinitionNode]
    cap: int  # counts saturate here: past the limit, how far past does not matter

    def __post_init__(self) -> None:
        self._memo: dict[str, tuple[int, int]] = {}
        self._open: set[str] = set()

    def fragment(self, name: str) -> tuple[int, int]:
        known = self._memo.get(name)
        if known is not None:
            return known
        if name in self._open or name not in self.fragments:
            return 0, 0  # cycles and unknown fragments are reported by the spec rules
        self._open.add(name)
        try:
            measured = self.selection_set(self.fragments[name].selection_set)
        finally:
            self._open.discard(name)
        self._memo[name] = measured
        return measured

    def selection_set(self, selection_set: SelectionSetNode | None) -> tuple[int, int]:
        """(depth, aliases) of the expansion of ``selection_set``."""
        if selection_set is None:
            return 0, 0
        deepest, aliases = 0, 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                depth, inner = self.selection_set(selection.selection_set)
                if not selection.name.value.startswith("__"):  # introspection is bounded by the schema
                    deepest = max(deepest, 1 + depth)
                aliases += inner + (selection.alias is not None)
            elif isinstance(selection, InlineFragmentNode):
                depth, inner = self.selection_set(selection.selection_set)
                deepest, aliases = max(deepest, depth), aliases + inner
            elif isinstance(selection, FragmentSpreadNode):
                depth, inner = self.fragment(selection.name.value)
                deepest, aliases = max(deepest, depth), aliases + inner
            aliases = min(aliases, self.cap)
        return min(deepest, self.cap), aliases


def limit_rules(max_depth: int, max_aliases: int) -> list[type[ASTValidationRule]]:
    """Validation rules refusing operations deeper, or with more aliases, than allowed.

    Both count the operation as executed: through fragment spreads, inline
    fragments and repetition.
    """

    class OperationLimits(ASTValidationRule):
        def __init__(self, context: Any) -> None:
            super().__init__(context)
            self.measure = _Measure(_fragments(context.document), cap=max(max_depth, max_aliases) + 1)

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            depth, aliases = self.measure.selection_set(node.selection_set)
            if depth > max_depth:
                self.report_error(
                    GraphQLError(f"Query is deeper than {max_depth} levels", extensions={"code": "QUERY_TOO_COMPLEX"})
                )
            if aliases > max_aliases:
                self.report_error(
                    GraphQLError(f"Query uses more than {max_aliases} aliases", extensions={"code": "QUERY_TOO_COMPLEX"})
                )

    return [OperationLimits]


def coerce_variables(
    schema: GraphQLSchema, operation: OperationDefinitionNode, variables: Mapping[str, Any]
) -> VariableValues:
    """The variables as execution will see them (defaults applied), or :class:`BadUserInputError`."""
    coerced = get_variable_values(
        schema, operation.variable_definitions or (), dict(variables), max_errors=1, hide_suggestions=True
    )
    if isinstance(coerced, list):
        raise BadUserInputError(coerced[0].message if coerced else "Invalid variables")
    return coerced


def _root_type(schema: GraphQLSchema, operation: OperationDefinitionNode) -> GraphQLObjectType | None:
    if operation.operation == OperationType.MUTATION:
        return schema.mutation_type
    if operation.operation == OperationType.SUBSCRIPTION:
        return schema.subscription_type
    return schema.query_type


def _is_list(field: GraphQLField) -> bool:
    output = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    return isinstance(output, GraphQLList)


def check_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any],
    *,
    max_cost: int,
    max_page_size: int,
    max_usage_page: int,
) -> None:
    """Refuse bad page sizes and operations whose estimated cost is over ``max_cost``.

    ``variables`` are the coerced ones (:func:`coerce_variables`). A negative
    page size is :class:`BadUserInputError`; one over its limit, or a cost over
    the limit, is :class:`QueryTooComplexError`. Cost counts every field of the
    expansion, multiplied by the page sizes (or assumed list sizes) above it.
    """
    fragments = _fragments(document)
    variables = dict(variables)
    memo: dict[str, int] = {}
    open_: set[str] = set()

    def page_size(node: FieldNode, field: GraphQLField) -> int | None:
        size: int | None = None
        given = {a.name.value: a.value for a in node.arguments or ()}
        for name in PAGE_ARGUMENTS:
            argument = field.args.get(name)
            if argument is None:
                continue
            value: Any = Undefined
            if name in given:
                value = value_from_ast(given[name], argument.type, variables)
            if value is Undefined:
                value = argument.default_value
            if not isinstance(value, int) or isinstance(value, bool):
                continue  # null or absent: the resolver's own default applies
            limit = max_usage_page if node.name.value == "usage" else max_page_size
            if value < 0:
                raise BadUserInputError(f"`{name}` of `{node.name.value}` must not be negative")
            if value > limit:
                raise QueryTooComplexError(f"`{name}` of `{node.name.value}` is at most {limit}")
            size = max(size or 0, value, 1)
        return size

    def unit_cost(selection_set: SelectionSetNode | None, parent: Any) -> int:
        """Cost of ``selection_set`` under a multiplier of 1 (cost is linear in it)."""
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += 1 + field_cost(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                total += unit_cost(selection.selection_set, schema.get_type(condition.name.value) if condition else parent)
            elif isinstance(selection, FragmentSpreadNode):
                total += fragment_cost(selection.name.value)
            if total > max_cost:
                raise QueryTooComplexError(f"Query cost is over the limit of {max_cost}")
        return total

    def field_cost(node: FieldNode, parent: Any) -> int:
        if node.selection_set is None:
            return 0
        field = parent.fields.get(node.name.value) if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType) else None
        if field is None:
            return unit_cost(node.selection_set, None)  # introspection: no page sizes below
        size = page_size(node, field)
        if size is None:
            size = DEFAULT_LIST_SIZE if _is_list(field) else 1
        return size * unit_cost(node.selection_set, get_named_type(field.type))

    def fragment_cost(name: str) -> int:
        known = memo.get(name)
        if known is not None:
            return known
        if name in open_ or name not in fragments:
            return 0
        open_.add(name)
        try:
            definition = fragments[name]
            known = memo[name] = unit_cost(definition.selection_set, schema.get_type(definition.type_condition.name.value))
        finally:
            open_.discard(name)
        return known

    unit_cost(operation.selection_set, _root_type(schema, operation))



# Values that can change an operation's cost (page sizes, `@include`/`@skip`
# conditions, and anything nested that may hold them); other values (ids,
# names, dates, enum values) enter the key by their type only.
_COST_BEARING = (int, float, bool, type(None), list, dict)
COST_CACHE_BYTES = 8 * 1024 * 1024


class CostCheck:
    """:func:`check_cost`, computed once per document, operation and shape of its variables."""

    def __init__(self, schema: GraphQLSchema, *, max_cost: int, max_page_size: int, max_usage_page: int) -> None:
        self.schema = schema
        self.limits = {"max_cost": max_cost, "max_page_size": max_page_size, "max_usage_page": max_usage_page}
        # (None,) when within limits, else (error class name, message, extensions)
        self._verdicts: SizedCache[tuple[Any, ...]] = SizedCache(COST_CACHE_BYTES)

    def __call__(
        self, digest: bytes, document: DocumentNode, operation: OperationDefinitionNode, variables: Mapping[str, Any]
    ) -> None:
        """Raise what :func:`check_cost` raises for these coerced ``variables``; ``digest`` names the text."""
        shape = tuple(
            (name, repr(value) if isinstance(value, _COST_BEARING) else type(value).__name__)
            for name, value in sorted(variables.items())
        )
        key = (digest, operation.name.value if operation.name else None, shape)
        verdict = self._verdicts.get(key)
        if verdict is None:
            try:
                check_cost(self.schema, document, operation, variables, **self.limits)
                verdict = (None,)
            except GraphQLError as exc:
                verdict = (type(exc).__name__, exc.message, dict(exc.extensions or {}))
            self._verdicts.put(key, verdict, 256 + len(repr(shape)))
        if verdict[0] is not None:
            kind, message, extensions = verdict
            error = BadUserInputError(message) if kind == BadUserInputError.__name__ else QueryTooComplexError(message)
            error.extensions = extensions
            raise error
