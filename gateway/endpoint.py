"""POST /graphql: authenticate, parse and validate (cached), execute, audit, answer.

Every refusal maps to one public error code and HTTP status (SPEC section 4).
No response carries a stack trace, SQL, a driver name, a file path, a token
or a "Did you mean" suggestion.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import asyncpg
import orjson
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    execute,
    parse,
    specified_rules,
    validate,
)
from starlette.requests import Request
from starlette.responses import Response

from gateway.audit import AuditUnavailable, AuditWriter
from gateway.auth import AuthError, Caller, KeySourceUnavailable, TokenVerifier, choose_purpose
from gateway.authz.decide import Authorizer
from gateway.campaigns import CampaignGate
from gateway.config import Settings
from gateway.cursors import CursorCodec
from gateway.metrics import Metrics
from gateway.plan import NotPlanned, Planner, in_document_order
from gateway.resolvers.database import DATABASE_ERRORS, Database
from gateway.resolvers.loaders import Loaders
from gateway.responses import (
    STATUS_BY_CODE,
    Refusal,
    error_response,
    format_error,
    json_response,
    strip_suggestions,
)
from gateway.schema.context import Campaign, Decisions, RequestContext
from gateway.schema.errors import ServiceUnavailableError
from gateway.schema.limits import check_cost, limit_rules

log = logging.getLogger("cpni_gateway.request")

# Errors raised inside resolvers that mean "a backing store is unavailable".
UNAVAILABLE: tuple[type[Exception], ...] = (ServiceUnavailableError, AuditUnavailable, *DATABASE_ERRORS)


@dataclass(frozen=True)
class Prepared:
    """A parsed and validated document (cached by its text: it depends on nothing else)."""

    document: DocumentNode | None
    code: str | None = None
    messages: tuple[str, ...] = ()


class GraphQLEndpoint:
    """The request pipeline; one per process, built in the lifespan."""

    def __init__(
        self,
        *,
        settings: Settings,
        schema: GraphQLSchema,
        executor_class: Any,
        authorizer: Authorizer,
        verifier: TokenVerifier,
        pool: asyncpg.Pool,
        audit: AuditWriter,
        campaigns: CampaignGate,
        metrics: Metrics,
    ) -> None:
        self.settings = settings
        self.schema = schema
        self.executor_class = executor_class
        self.authorizer = authorizer
        self.verifier = verifier
        self.pool = pool
        self.audit = audit
        self.campaigns = campaigns
        self.metrics = metrics
        # The configured key (the same on every process); without one (an
        # app built directly, as in tests), a random key of this process.
        self.cursors = CursorCodec(settings.cursor_key or secrets.token_urlsafe(48))
        limits = settings.limits
        self._rules = [*specified_rules, *limit_rules(limits.max_depth, limits.max_aliases)]
        self.prepare = lru_cache(maxsize=1024)(self._prepare)
        self.planner = Planner(schema) if settings.planner else None

    def _prepare(self, query: str) -> Prepared:
        try:
            document = parse(query, max_tokens=self.settings.limits.max_tokens, no_location=False)
        except GraphQLError as exc:
            if "token limit" in exc.message.lower() or "tokens" in exc.message.lower():
                return Prepared(None, "QUERY_TOO_COMPLEX", ("Query has too many tokens",))
            return Prepared(None, "GRAPHQL_PARSE_FAILED", (strip_suggestions(exc.message),))
        errors = validate(self.schema, document, self._rules, max_errors=20, hide_suggestions=True)
        if errors:
            too_complex = [e for e in errors if (e.extensions or {}).get("code") == "QUERY_TOO_COMPLEX"]
            if too_complex:
                return Prepared(None, "QUERY_TOO_COMPLEX", tuple(e.message for e in too_complex))
            return Prepared(None, "GRAPHQL_VALIDATION_FAILED", tuple(strip_suggestions(e.message) for e in errors))
        return Prepared(document)

    def _context(
        self, request: Request, request_id: str, caller: Caller, purpose: Any, campaign: Campaign | None
    ) -> RequestContext:
        db = Database(self.pool, acquire_timeout=self.settings.limits.pool_acquire_timeout_s)
        loaders = Loaders(db)
        return RequestContext(
            request_id=request_id,
            client=caller.client,
            division=caller.division,
            purpose=purpose,
            purposes=caller.purposes,
            loaders=loaders,
            decisions=Decisions(self.authorizer, caller.division, purpose, loaders, campaign),
            campaign=campaign,
            idempotency_key=request.headers.get("idempotency-key"),
            cursors=self.cursors,
            max_page_size=self.settings.limits.max_page_size,
            max_usage_page=self.settings.limits.max_usage_page,
            pool=self.pool,
            audit=self.audit,
        )

    async def _execute(
        self,
        text: str,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: dict[str, Any],
        ctx: RequestContext,
    ) -> _Outcome | None:
        """The planned path; None when the reference path must answer."""
        if self.planner is None:
            return None
        plan = self.planner.plan(text, document, operation, variables)
        if plan is None:
            return None
        try:
            return await plan.execute(ctx)
        except NotPlanned:
            self.planner.counts["fallback"] += 1
            return None

    async def _reference(
        self, document: DocumentNode, operation_name: str | None, variables: dict[str, Any], ctx: RequestContext
    ) -> _Outcome:
        """graphql-core over the Strawberry schema: the definition of every answer."""
        result = execute(
            self.schema,
            document,
            context_value=ctx,
            variable_values=variables,
            operation_name=operation_name,
            executor_class=self.executor_class,
            hide_suggestions=True,
        )
        if not isinstance(result, ExecutionResult):
            result = await result
        assert isinstance(result, ExecutionResult)
        return result

    async def __call__(self, request: Request) -> Response:
        request_id = secrets.token_hex(8)
        with self.metrics.timed() as outcome:
            response = await self._handle(request, request_id)
            outcome.status = response.status_code
        return response

    async def _handle(self, request: Request, request_id: str) -> Response:
        header = request.headers.get("authorization")
        try:
            if self.verifier.fetches_keys:
                caller = await asyncio.to_thread(self.verifier.verify, header)
            else:
                caller = self.verifier.verify(header)
            purpose = choose_purpose(caller, request.headers.get("x-purpose"))
        except AuthError as exc:
            return error_response(exc.code, exc.message, request_id)
        except KeySourceUnavailable:
            log.warning("request %s: the JWKS endpoint is unavailable", request_id)
            return error_response("SERVICE_UNAVAILABLE", "Service temporarily unavailable", request_id)
        try:
            body = await self._body(request)
        except Refusal as exc:
            return error_response(exc.code, exc.message, request_id)
        try:
            return await asyncio.wait_for(
                self._run(request, request_id, caller, purpose, body),
                timeout=self.settings.limits.request_timeout_s,
            )
        except (TimeoutError, asyncpg.QueryCanceledError):  # the budget, or the statement timeout
            return error_response("TIMEOUT", "The request took longer than its time budget", request_id)
        except AuthError as exc:
            return error_response(exc.code, exc.message, request_id)
        except Refusal as exc:
            return error_response(exc.code, exc.message, request_id)
        except UNAVAILABLE as exc:
            log.warning("request %s: service unavailable (%s)", request_id, type(exc).__name__)
            return error_response("SERVICE_UNAVAILABLE", "Service temporarily unavailable", request_id)
        except Exception as exc:  # the last line of defence: masked
            log.error("request %s: unexpected %s", request_id, type(exc).__name__)
            return error_response("INTERNAL_SERVER_ERROR", "Internal server error", request_id)

    async def _body(self, request: Request) -> dict[str, Any]:
        content_type = request.headers.get("content-type", "")
        if "json" not in content_type:
            raise Refusal("BAD_REQUEST", "Send a JSON body with Content-Type: application/json")
        raw = await request.body()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise Refusal("BAD_REQUEST", "The body is not valid JSON") from None
        if isinstance(body, list):
            raise Refusal("BAD_REQUEST", "Batched operations are not supported")
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            raise Refusal("BAD_REQUEST", "The body needs a `query` string")
        variables = body.get("variables")
        if variables is not None and not isinstance(variables, dict):
            raise Refusal("BAD_USER_INPUT", "`variables` must be an object")
        name = body.get("operationName")
        if name is not None and not isinstance(name, str):
            raise Refusal("BAD_REQUEST", "`operationName` must be a string")
        return body

    async def _run(
        self, request: Request, request_id: str, caller: Caller, purpose: Any, body: dict[str, Any]
    ) -> Response:
        prepared = self.prepare(body["query"])
        if prepared.document is None:
            assert prepared.code is not None
            refusals = [{"message": m, "extensions": {"code": prepared.code}} for m in prepared.messages]
            return json_response({"errors": refusals}, STATUS_BY_CODE[prepared.code], request_id)
        document = prepared.document
        operation_name = body.get("operationName")
        operation = _operation(document, operation_name)
        variables = body.get("variables") or {}
        try:
            check_cost(
                document,
                operation,
                variables,
                max_cost=self.settings.limits.max_cost,
                max_page_size=self.settings.limits.max_page_size,
                max_usage_page=self.settings.limits.max_usage_page,
            )
        except GraphQLError as exc:
            raise Refusal("QUERY_TOO_COMPLEX", exc.message) from None
        if operation.operation == OperationType.SUBSCRIPTION:
            raise Refusal("BAD_REQUEST", "Subscriptions are not supported")
        if operation.operation == OperationType.MUTATION and len(_root_fields(document, operation)) > 1:
            # With several, an error in one would hide the writes of the others
            # (a retry would then write them twice).
            raise Refusal("BAD_USER_INPUT", "Send one mutation per request")

        campaign = await self.campaigns.require(
            request.headers.get("x-campaign-id"),
            caller,
            purpose,
            mutation=operation.operation == OperationType.MUTATION,
        )
        ctx = self._context(request, request_id, caller, purpose, campaign)
        result = await self._execute(body["query"], document, operation, variables, ctx)
        if result is None:
            ctx = self._context(request, request_id, caller, purpose, campaign)  # nothing of the plan's run is kept
            result = await self._reference(document, operation_name, variables, ctx)
        db = ctx.loaders.db

        errors = in_document_order(result.data, result.errors or [])
        for error in errors:
            original = error.original_error
            if isinstance(original, UNAVAILABLE):
                raise original
            if original is not None and not isinstance(original, GraphQLError):
                raise original
        if result.data is None and errors and all(e.path is None for e in errors):
            # Variable coercion failed before execution started.
            raise Refusal("BAD_USER_INPUT", strip_suggestions(errors[0].message))
        refusal = None
        for error in errors:
            code = (error.extensions or {}).get("code")
            if code in ("QUERY_TOO_COMPLEX", "BAD_USER_INPUT") and error.path is not None and len(errors) == 1:
                refusal = Refusal(code, error.message)

        forbidden = [e for e in errors if (e.extensions or {}).get("code") == "FORBIDDEN"]
        # X-Authz-Mode: strict refuses the whole operation when anything is denied.
        strict = request.headers.get("x-authz-mode", "").strip().lower() == "strict"
        # A refused operation discloses nothing, but the denials it decided are recorded.
        await self.audit.record(
            ctx,
            operation_name or _operation_label(operation),
            withheld=refusal is not None or (strict and bool(forbidden)),  # no data goes out
            denied_categories=[(e.extensions or {})["category"] for e in forbidden if "category" in (e.extensions or {})],
        )
        if refusal is not None:
            raise refusal

        headers = {}
        if self.settings.server_timing:
            headers["Server-Timing"] = f'sql;desc="round trips";dur={db.round_trips}'
        if strict and forbidden:
            return json_response({"errors": [format_error(e) for e in forbidden]}, 403, request_id, headers)
        payload: dict[str, Any] = {"data": result.data}
        if errors:
            payload["errors"] = [format_error(e) for e in errors]
        return json_response(payload, 200, request_id, headers)


class _Outcome(Protocol):
    data: dict[str, Any] | None
    errors: Any


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        if len(operations) != 1:
            raise Refusal("BAD_REQUEST", "Name the operation to run with `operationName`")
        return operations[0]
    for operation in operations:
        if operation.name is not None and operation.name.value == name:
            return operation
    raise Refusal("BAD_REQUEST", "No operation with that `operationName`")


def _root_fields(document: DocumentNode, operation: OperationDefinitionNode) -> set[str]:
    """The response keys an operation selects at its root, through fragments."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    keys: set[str] = set()

    def walk(selection_set: SelectionSetNode, seen: frozenset[str]) -> None:
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                if node.name.value != "__typename":
                    keys.add(node.alias.value if node.alias else node.name.value)
            elif isinstance(node, InlineFragmentNode):
                walk(node.selection_set, seen)
            elif isinstance(node, FragmentSpreadNode) and node.name.value in fragments and node.name.value not in seen:
                walk(fragments[node.name.value].selection_set, seen | {node.name.value})

    walk(operation.selection_set, frozenset())
    return keys


def _operation_label(operation: OperationDefinitionNode) -> str | None:
    return operation.name.value if operation.name else None
