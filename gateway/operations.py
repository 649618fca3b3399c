"""An operation inside a document: which one runs, and what its root selects."""

from __future__ import annotations

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

from gateway.responses import Refusal


def select_operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        if len(operations) != 1:
            raise Refusal("BAD_REQUEST", "Name the operation to run with `operationName`")
        return operations[0]
    for operation in operations:
        if operation.name is not None and operation.name.value == name:
            return operation
    raise Refusal("BAD_REQUEST", "No operation with that `operationName`")


def root_fields(document: DocumentNode, operation: OperationDefinitionNode) -> set[str]:
    """The response keys an operation selects at its root, through fragments (each walked once)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    keys: set[str] = set()
    walked: set[str] = set()

    def walk(selection_set: SelectionSetNode) -> None:
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                if node.name.value != "__typename":
                    keys.add(node.alias.value if node.alias else node.name.value)
            elif isinstance(node, InlineFragmentNode):
                walk(node.selection_set)
            elif isinstance(node, FragmentSpreadNode) and node.name.value in fragments and node.name.value not in walked:
                walked.add(node.name.value)
                walk(fragments[node.name.value].selection_set)

    walk(operation.selection_set)
    return keys


def operation_label(operation: OperationDefinitionNode) -> str | None:
    return operation.name.value if operation.name else None
