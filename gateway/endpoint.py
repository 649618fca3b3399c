"""POST /graphql: authenticate, parse and validate (cached, off the loop), execute, audit, answer.

Every refusal maps to one public error code and HTTP status (SPEC section 4).
No response carries a stack trace, SQL, a driver name, a file path, a token
or a "Did you mean" suggestion. Each request leaves one JSON log line and
its metrics (see :mod:`gateway.observe`).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from typing import Any, NamedTuple

import asyncpg
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    execute,
)
from graphql.execution.values import VariableValues
from starlette.requests import Request
from starlette.responses import Response

from gateway.audit import AuditUnavailable, AuditWriter
from gateway.audit.chain import EventContent
from gateway.auth import AuthError, Caller, KeySourceUnavailable, TokenVerifier, choose_purpose
from gateway.authz.decide import Authorizer
from gateway.campaigns import CampaignCheck, CampaignGate, campaign_required
from gateway.config import Settings
from gateway.cursors import CursorCodec
from gateway.documents import Documents
from gateway.errors import FieldError
from gateway.http_input import (
    Disconnected,
    check_headers,
    declared_purpose,
    read_body,
    response_media_type,
    strict_mode,
)
from gateway.metrics import Metrics
from gateway.observe import Observation
from gateway.operations import operation_label, root_fields, select_operation
from gateway.plan import NotPlanned, Planner, in_document_order
from gateway.resolvers.database import DATABASE_ERRORS, Database, Replicas
from gateway.resolvers.loaders import Loaders
from gateway.responses import (
    STATUS_BY_CODE,
    Refusal,
    error_response,
    json_response,
    new_request_id,
    strip_suggestions,
)
from gateway.schema.context import Decisions, RequestContext
from gateway.schema.errors import ServiceUnavailableError
from gateway.schema.limits import CostCheck, coerce_variables
from gateway.trusted.prepared import REFUSED, UNREGISTERED, NotRegistered, Resolved, TrustedDocuments
from gateway.trusted.registry import Registry

# Errors raised inside resolvers that mean "a backing store is unavailable".
UNAVAILABLE: tuple[type[Exception], ...] = (ServiceUnavailableError, AuditUnavailable, *DATABASE_ERRORS)
# Codes that refuse the whole operation wherever they arise (no partial data).
REFUSING_CODES = ("QUERY_TOO_COMPLEX", "BAD_USER_INPUT")


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
        replicas: Replicas | None = None,
        trusted: TrustedDocuments | None = None,
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
        self.replicas = replicas  # read-only requests only (gateway/resolvers/database.py)
        # The configured key (the same on every process); without one (an
        # app built directly, as in tests), a random key of this process.
        self.cursors = CursorCodec(settings.cursor_key or secrets.token_urlsafe(48))
        self.documents = Documents(schema, settings.limits)
        limits = settings.limits
        self.cost = CostCheck(
            schema, max_cost=limits.max_cost, max_page_size=limits.max_page_size, max_usage_page=limits.max_usage_page
        )
        self.planner = Planner(schema) if settings.planner else None
        # Registered documents are validated, parsed and planned here, once
        # (a file that does not validate stops startup: RegistryError).
        self.trusted = trusted or TrustedDocuments(Registry(), settings.trusted_documents, self.documents.validator)
        if self.planner is not None:
            for text, prepared in self.trusted.documents():
                assert prepared.document is not None
                self.planner.warm(text, prepared.document)

    def _context(
        self,
        request: Request,
        request_id: str,
        caller: Caller,
        purpose: Any,
        check: CampaignCheck | None,
        resolved: Resolved,
        *,
        read_only: bool = False,
    ) -> RequestContext:
        campaign = None if check is None else check.campaign
        db = Database(
            self.pool,
            acquire_timeout=self.settings.limits.pool_acquire_timeout_s,
            replicas=self.replicas if read_only else None,
        )
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
            campaign_check=check,
            idempotency_key=request.headers.get("idempotency-key"),
            cursors=self.cursors,
            max_page_size=self.settings.limits.max_page_size,
            max_usage_page=self.settings.limits.max_usage_page,
            pool=self.pool,
            audit=self.audit,
            trusted_document=resolved.mark,
        )

    async def _planned(self, prepared: Prepared, ctx: RequestContext) -> Outcome | None:
        """The planned path; None when the reference path must answer."""
        if self.planner is None:
            return None
        plan = self.planner.plan(
            prepared.text, prepared.document, prepared.operation, prepared.raw_variables,
            digest=prepared.digest, coerced=prepared.variables,
        )  # fmt: skip
        if plan is None:
            return None
        try:
            result = await plan.execute(ctx)
        except NotPlanned:
            self.planner.counts["fallback"] += 1
            return None
        return Outcome(result.data, result.errors, None)

    async def _reference(self, prepared: Prepared, ctx: RequestContext) -> Outcome:
        """graphql-core over the Strawberry schema: the definition of every answer."""
        result = execute(
            self.schema,
            prepared.document,
            context_value=ctx,
            variable_values=prepared.raw_variables,
            operation_name=prepared.operation_name,
            executor_class=self.executor_class,
            hide_suggestions=True,
        )
        if not isinstance(result, ExecutionResult):
            result = await result
        assert isinstance(result, ExecutionResult)
        return reference_outcome(result)

    async def __call__(self, request: Request) -> Response:
        observation = Observation(new_request_id())
        try:
            response = await self._handle(request, observation)
        except Disconnected:
            response = Response(status_code=499)  # nobody reads it; logged and counted as such
            observation.outcome = "CLIENT_DISCONNECTED"
        if response.media_type == "application/json":
            # The same JSON, labelled as the client asked (GraphQL over HTTP). The raw
            # headers are edited directly: Starlette's MutableHeaders rescans them per access.
            media = f"{response_media_type(request)}; charset=utf-8".encode("latin-1")
            response.raw_headers = [
                *((name, value) for name, value in response.raw_headers if name not in (b"content-type", b"vary")),
                (b"content-type", media),
                (b"vary", b"Accept"),
            ]
        observation.finish(response, self.metrics, self.pool)
        return response

    async def _handle(self, request: Request, observation: Observation) -> Response:
        request_id = observation.request_id
        try:
            header = request.headers.get("authorization")
            if self.verifier.fetches_keys:
                caller = await asyncio.to_thread(self.verifier.verify, header)
            else:
                caller = self.verifier.verify(header)
            observation.division = caller.division.id
            check_headers(request)
            purpose = choose_purpose(caller, declared_purpose(request))
            observation.purpose = purpose.value
            strict_mode(request)  # a mode that is not one is refused before anything runs
            body = await read_body(request, timeout=self.settings.limits.request_timeout_s)
        except AuthError as exc:
            return observation.refused(error_response(exc.code, exc.message, request_id), exc.code)
        except KeySourceUnavailable:
            observation.cause = "jwks"
            return observation.refused(self._unavailable(request_id), "SERVICE_UNAVAILABLE")
        except Refusal as exc:
            return observation.refused(_refusal_response(exc, request_id), exc.code)
        budget = asyncio.timeout(self.settings.limits.request_timeout_s)
        try:
            async with budget:
                return await self._run(request, observation, caller, purpose, body)
        except (TimeoutError, asyncpg.QueryCanceledError) as exc:  # the budget, or the statement timeout
            if isinstance(exc, TimeoutError) and not budget.expired():  # a bounded wait inside: the pool's
                observation.cause = "database"
                return observation.refused(self._unavailable(request_id), "SERVICE_UNAVAILABLE")
            message = "The request took longer than its time budget"
            return observation.refused(error_response("TIMEOUT", message, request_id), "TIMEOUT")
        except AuthError as exc:
            return observation.refused(error_response(exc.code, exc.message, request_id), exc.code)
        except Refusal as exc:
            return observation.refused(error_response(exc.code, exc.message, request_id), exc.code)
        except UNAVAILABLE as exc:
            observation.cause = "audit" if isinstance(exc, AuditUnavailable) else "database"
            return observation.refused(self._unavailable(request_id), "SERVICE_UNAVAILABLE")
        except Exception as exc:  # the last line of defence: masked
            observation.cause = type(exc).__name__
            response = error_response("INTERNAL_SERVER_ERROR", "Internal server error", request_id)
            return observation.refused(response, "INTERNAL_SERVER_ERROR")

    @staticmethod
    def _unavailable(request_id: str) -> Response:
        return error_response("SERVICE_UNAVAILABLE", "Service temporarily unavailable", request_id)

    async def _run(
        self, request: Request, observation: Observation, caller: Caller, purpose: Any, body: dict[str, Any]
    ) -> Response:
        """The pipeline: prepare, execute (planned or reference), audit, answer."""
        request_id = observation.request_id
        prepared = await self._prepare(request_id, caller, purpose, body)
        if isinstance(prepared, Invalid):
            observation.outcome = prepared.code
            return prepared.response
        header = request.headers.get("x-campaign-id")
        mutation = prepared.kind == OperationType.MUTATION
        for known in (True, False):
            # A campaign this process knows runs first and is confirmed before anything is answered;
            # if it no longer holds, the request runs again on the campaign read afresh.
            check = await self.campaigns.require(header, caller, purpose, mutation=mutation, known=known)
            ctx = self._context(request, request_id, caller, purpose, check, prepared.resolved, read_only=prepared.read_only)
            outcome = await self._planned(prepared, ctx)
            if outcome is None:
                # Nothing of the plan's run is kept.
                ctx = self._context(request, request_id, caller, purpose, check, prepared.resolved, read_only=prepared.read_only)
                outcome = await self._reference(prepared, ctx)
            if check is None or await self.campaigns.confirm(check):
                return await self._answer(request, observation, prepared, ctx, outcome)
        raise campaign_required()  # it changed while this request ran

    async def _answer(
        self, request: Request, observation: Observation, prepared: Prepared, ctx: RequestContext, outcome: Outcome
    ) -> Response:
        """Record the request's events (durably), then answer: data and errors, 403 in strict mode, or the refusal."""
        request_id = observation.request_id
        db = ctx.loaders.db
        if db.routed:
            self.metrics.read_from("replica" if db.on_replica else "primary")
        forbidden = [e for e in outcome.errors if e.code == "FORBIDDEN"]
        # X-Authz-Mode: strict refuses the whole operation when anything is denied.
        strict = strict_mode(request)
        # A refused operation discloses nothing, but the denials it decided are recorded.
        with self.metrics.audit_write():
            await self.audit.record(
                ctx,
                prepared.operation_name or operation_label(prepared.operation),
                withheld=outcome.refusal is not None or (strict and bool(forbidden)),  # no data goes out
                denied_categories=[c for e in forbidden if (c := e.category) is not None],
            )
        observation.decisions = ctx.decisions
        if outcome.refusal is not None:
            raise outcome.refusal
        headers = {}
        if self.settings.server_timing:
            headers["Server-Timing"] = f'sql;desc="round trips";dur={db.round_trips}'
        if strict and forbidden:
            observation.outcome = "FORBIDDEN"
            return json_response({"errors": [e.formatted for e in forbidden]}, 403, request_id, headers)
        payload: dict[str, Any] = {"data": outcome.data}
        if outcome.errors:
            observation.outcome = "PARTIAL"
            payload["errors"] = [e.formatted for e in outcome.errors]
        if prepared.resolved.trust == UNREGISTERED:
            # CPNI_GATEWAY_TRUSTED_DOCUMENTS=log: it ran, but enforced it would not have.
            payload["extensions"] = {"trustedDocuments": {"registered": False, "whenEnforced": "OPERATION_NOT_REGISTERED"}}
        return json_response(payload, 200, request_id, headers)

    async def _prepare(
        self, request_id: str, caller: Caller, purpose: Any, body: dict[str, Any]
    ) -> Prepared | Invalid:
        """The trusted-document check, the parsed and validated document, its variables and limits.

        A document that does not parse or validate is answered here (its
        errors, 400); every other refusal is raised as a :class:`Refusal`.
        """
        operation_name = body.get("operationName")
        try:
            resolved = self.trusted.resolve(body, caller.division.id)
        except NotRegistered as exc:  # refused before the document is validated or anything is read
            await self._record_refusal(request_id, caller, purpose, operation_name, exc.document_id)
            raise
        # A registered document was prepared at startup; any other text is prepared now (cached).
        document = resolved.prepared or await self.documents.prepare(resolved.text)
        if document.document is None:
            assert document.code is not None
            response = json_response({"errors": document.errors()}, STATUS_BY_CODE[document.code], request_id)
            return Invalid(document.code, response)
        operation = select_operation(document.document, operation_name)
        raw_variables = body.get("variables") or {}
        digest = hashlib.sha256(resolved.text.encode("utf-8", "surrogatepass")).digest()
        try:
            variables = coerce_variables(self.schema, operation, raw_variables)
            self.cost(digest, document.document, operation, variables.coerced)
        except GraphQLError as exc:
            raise Refusal((exc.extensions or {}).get("code", "QUERY_TOO_COMPLEX"), exc.message) from None
        if operation.operation == OperationType.SUBSCRIPTION:
            raise Refusal("BAD_REQUEST", "Subscriptions are not supported")
        if operation.operation == OperationType.MUTATION and len(root_fields(document.document, operation)) > 1:
            # With several, an error in one would hide the writes of the others
            # (a retry would then write them twice).
            raise Refusal("BAD_USER_INPUT", "Send one mutation per request")
        return Prepared(
            resolved, resolved.text, digest, document.document, operation, operation_name, raw_variables, variables
        )

    async def _record_refusal(
        self, request_id: str, caller: Caller, purpose: Any, operation_name: Any, document_id: str | None
    ) -> None:
        """The audit event of an operation refused as not registered: who sent what, nothing read."""
        event = EventContent(
            request_id=request_id,
            client=caller.client,
            division=caller.division.id,
            purpose=purpose.value,
            regime=self.audit.regime.value,
            campaign_id=None,
            operation_name=operation_name if isinstance(operation_name, str) else None,
            customer_id=None,
            disclosed=(),
            denied=(),
            policy_ids=(),
            document_id=document_id,
            document_trust=REFUSED,
        )
        with self.metrics.audit_write():
            await self.audit.record_refusal(event)


class Outcome(NamedTuple):
    """What an execution path answers: data, its field errors in document order, or a refusal."""

    data: dict[str, Any] | None
    errors: list[FieldError]
    refusal: Refusal | None


class Prepared(NamedTuple):
    """A request ready to execute."""

    resolved: Resolved
    text: str
    digest: bytes  # of the text: the key of its plans and cost verdicts
    document: DocumentNode
    operation: OperationDefinitionNode
    operation_name: str | None
    raw_variables: dict[str, Any]
    variables: VariableValues  # coerced, as execution sees them

    @property
    def kind(self) -> OperationType:
        return self.operation.operation

    @property
    def read_only(self) -> bool:
        return self.operation.operation == OperationType.QUERY  # a mutation reads its own writes


class Invalid(NamedTuple):
    """A document that does not parse or validate: its code and its answer (400, its errors)."""

    code: str
    response: Response


def reference_outcome(result: ExecutionResult) -> Outcome:
    """graphql-core's result in the gateway's terms: unavailability raised, errors public and ordered."""
    errors = in_document_order(result.data, result.errors or [])
    for error in errors:
        original = error.original_error
        if isinstance(original, AuditUnavailable | ServiceUnavailableError | asyncpg.QueryCanceledError):
            raise original  # the statement timeout is answered as TIMEOUT
        if isinstance(original, UNAVAILABLE):
            # e.g. the pool's acquire timeout: a TimeoutError, but not the request's budget (503, not 504)
            raise ServiceUnavailableError("database unavailable") from original
        if original is not None and not isinstance(original, GraphQLError):
            raise original
    if result.data is None and errors and all(e.path is None for e in errors):
        # Variable coercion failed before execution started.
        raise Refusal("BAD_USER_INPUT", strip_suggestions(errors[0].message))
    # An invalid argument refuses the whole operation, however many objects it touched.
    refusal = next(
        (
            Refusal(code, strip_suggestions(e.message))
            for e in errors
            if (code := (e.extensions or {}).get("code")) in REFUSING_CODES
        ),
        None,
    )
    return Outcome(result.data, [FieldError.of(e) for e in errors], refusal)


def _refusal_response(exc: Refusal, request_id: str) -> Response:
    response = error_response(exc.code, exc.message, request_id)
    if exc.code == "TIMEOUT":
        response.headers["Connection"] = "close"  # the rest of a slow body is not awaited
    return response
