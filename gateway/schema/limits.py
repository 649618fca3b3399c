"""Query limits (SPEC section 7) as graphql-core validation rules.

Depth and aliases are checked on the document; page sizes and cost need the
variables, so :func:`check_cost` runs after validation with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    VariableNode,
)

from gateway.schema.errors import QueryTooComplexError

# Sizes of list fields without a page argument, for the cost estimate.
DEFAULT_LIST_SIZE = 10
PAGE_ARGUMENTS = ("first", "last")


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _depth(selection_set: SelectionSetNode | None, fragments: Mapping[str, FragmentDefinitionNode], seen: frozenset[str]) -> int:
    if selection_set is None:
        return 0
    deepest = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value.startswith("__"):
                continue  # introspection is bounded by the schema itself
            deepest = max(deepest, 1 + _depth(selection.selection_set, fragments, seen))
        elif isinstance(selection, InlineFragmentNode):
            deepest = max(deepest, _depth(selection.selection_set, fragments, seen))
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in seen or name not in fragments:
                continue  # cycles and unknown fragments are reported by the spec rules
            deepest = max(deepest, _depth(fragments[name].selection_set, fragments, seen | {name}))
    return deepest


def limit_rules(max_depth: int, max_aliases: int) -> list[type[ASTValidationRule]]:
    """Validation rules refusing documents deeper or with more aliases than allowed."""

    class DepthLimit(ASTValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            fragments = _fragments(self.context.document)
            if _depth(node.selection_set, fragments, frozenset()) > max_depth:
                self.report_error(
                    GraphQLError(f"Query is deeper than {max_depth} levels", extensions={"code": "QUERY_TOO_COMPLEX"})
                )

    class AliasLimit(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.count = 0

        def enter_field(self, node: FieldNode, *_: Any) -> None:
            if node.alias is not None:
                self.count += 1
                if self.count == max_aliases + 1:
                    self.report_error(
                        GraphQLError(f"Query uses more than {max_aliases} aliases", extensions={"code": "QUERY_TOO_COMPLEX"})
                    )

    return [DepthLimit, AliasLimit]


def _int_argument(node: FieldNode, name: str, variables: Mapping[str, Any]) -> int | None:
    for argument in node.arguments or ():
        if argument.name.value != name:
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            raw = variables.get(value.name.value)
            return raw if isinstance(raw, int) and not isinstance(raw, bool) else None
    return None


def check_cost(
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any],
    *,
    max_cost: int,
    max_page_size: int,
    max_usage_page: int,
) -> None:
    """Refuse page sizes over the limits and documents whose estimated cost is too high.

    Cost counts every field, multiplied by the page sizes of the lists above it.
    """
    fragments = _fragments(document)

    def cost(selection_set: SelectionSetNode | None, multiplier: int, seen: frozenset[str]) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                size = 1
                for argument in PAGE_ARGUMENTS:
                    value = _int_argument(selection, argument, variables)
                    if value is None:
                        continue
                    limit = max_usage_page if name == "usage" else max_page_size
                    if value > limit:
                        raise QueryTooComplexError(f"`{argument}` of `{name}` is at most {limit}")
                    size = max(value, 1)
                if selection.selection_set is not None and size == 1 and name in {"services", "cpniNotices"}:
                    size = DEFAULT_LIST_SIZE
                elif selection.selection_set is not None and size == 1 and name in {"usage", "invoices", "customers", "auditEvents"}:
                    size = 50
                total += multiplier + cost(selection.selection_set, multiplier * size, seen)
            elif isinstance(selection, InlineFragmentNode):
                total += cost(selection.selection_set, multiplier, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in seen and name in fragments:
                    total += cost(fragments[name].selection_set, multiplier, seen | {name})
            if total > max_cost:
                raise QueryTooComplexError(f"Query cost is over the limit of {max_cost}")
        return total

    cost(operation.selection_set, 1, frozenset())
