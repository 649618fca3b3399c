"""The ASGI application: Starlette routes, lifespan-built process state, body limit.

Process state (pool, policy, schema, pipeline) is built once in the lifespan
and kept on ``app.state``; per-request state is built by the endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.audit import AuditWriter
from gateway.auth import AuthError, KeySourceUnavailable, TokenVerifier
from gateway.authz.decide import Authorizer
from gateway.authz.matrix import Matrix
from gateway.authz.policy import PolicyBundle, load_policy
from gateway.campaigns import CampaignGate
from gateway.config import Settings, load_settings
from gateway.db import close_pool, create_pool, open_replicas, resolve_gateway_url
from gateway.documents import Validator
from gateway.drain import CancelledAnswer, Drain
from gateway.endpoint import GraphQLEndpoint
from gateway.graphiql import page as graphiql_page
from gateway.graphiql.demo import Demo, demo_from_env
from gateway.keys import require_keys
from gateway.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from gateway.metrics import Metrics
from gateway.observe import Observation
from gateway.policy_page import PolicyPage
from gateway.responses import error_response, new_request_id
from gateway.schema import build_schema, graphql_schema
from gateway.schema.fields import field_categories
from gateway.schema.sdl import schema_sdl
from gateway.trusted.prepared import TrustedDocuments
from gateway.trusted.registry import load_registry
from gateway.trusted.review import Reviewed, review

log = logging.getLogger("cpni_gateway")


@dataclass
class Runtime:
    """What the lifespan builds and the routes use."""

    settings: Settings
    bundle: PolicyBundle
    authorizer: Authorizer
    pool: asyncpg.Pool
    endpoint: GraphQLEndpoint
    metrics: Metrics
    policy_page: PolicyPage


class BodyLimit:
    """Plain ASGI middleware: refuse request bodies over ``max_bytes`` with 413."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_large = int(value) > self.max_bytes
                except ValueError:
                    too_large = True
                if too_large:
                    await self._refuse(scope, receive, send)
                    return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        observation = Observation(new_request_id())
        response = error_response("PAYLOAD_TOO_LARGE", "The request body is too large", observation.request_id)
        runtime: Runtime | None = getattr(getattr(scope.get("app"), "state", None), "runtime", None)
        if runtime is not None:  # its log line and metrics, as for every GraphQL request
            observation.outcome = "PAYLOAD_TOO_LARGE"
            observation.finish(response, runtime.metrics, runtime.pool)
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def graphql(request: Request) -> Response:
    runtime = _runtime(request)
    if request.method == "GET":
        # GET never executes an operation. A mutation (or anything but a browser
        # opening GraphiQL, whose links carry ?query=) is told to POST.
        asks = "query" in request.query_params or "documentId" in request.query_params
        browser = "text/html" in request.headers.get("accept", "")
        if asks and (not browser or _is_mutation(request.query_params.get("query", ""), runtime)):
            observation = Observation(new_request_id())
            response = error_response("METHOD_NOT_ALLOWED", "Send GraphQL operations with POST", observation.request_id)
            response.headers["Allow"] = "POST"
            observation.outcome = "METHOD_NOT_ALLOWED"
            observation.finish(response, runtime.metrics, runtime.pool)
            return response
        if not runtime.settings.graphiql:
            return error_response("BAD_REQUEST", "GraphiQL is disabled; POST GraphQL requests", new_request_id())
        return graphiql_page.page(request.app.state.demo)
    return await runtime.endpoint(request)


def _is_mutation(text: str, runtime: Runtime) -> bool:
    """Whether ``text`` holds a mutation (text that does not parse holds none: it is not run either)."""
    try:
        document = parse(text, max_tokens=runtime.settings.limits.max_tokens, no_location=True)
    except GraphQLError:
        return False
    return any(
        isinstance(d, OperationDefinitionNode) and d.operation == OperationType.MUTATION for d in document.definitions
    )


async def graphiql_asset(request: Request) -> Response:
    """GraphiQL's own files (gateway/graphiql/page.py): nothing of the explorer comes from elsewhere."""
    if not _runtime(request).settings.graphiql:
        return PlainTextResponse("not found\n", status_code=404)
    return graphiql_page.asset(request.path_params["name"])


async def schema_file(request: Request) -> Response:
    """``GET /graphql/schema.graphql``: the SDL with ``@category``, for authenticated callers."""
    verifier = _runtime(request).endpoint.verifier
    header = request.headers.get("authorization")
    try:
        if verifier.fetches_keys:
            await asyncio.to_thread(verifier.verify, header)
        else:
            verifier.verify(header)
    except KeySourceUnavailable:
        return error_response("SERVICE_UNAVAILABLE", "Service temporarily unavailable", new_request_id())
    except AuthError as exc:
        return error_response(exc.code, exc.message, new_request_id())
    return PlainTextResponse(schema_sdl(), media_type="application/graphql; charset=utf-8")


async def root(request: Request) -> Response:
    return RedirectResponse("/graphql", status_code=307)


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok\n")


async def readyz(request: Request) -> Response:
    runtime = _runtime(request)
    checks: dict[str, str] = {"policy": "ok" if runtime.authorizer is not None else "missing"}
    if request.app.state.drain.draining:  # shutting down: send traffic elsewhere (gateway/drain.py)
        checks["shutdown"] = "draining"
    try:
        async with runtime.pool.acquire() as conn:
            await conn.fetchval("SELECT 1")
        checks["database"] = "ok"
    except Exception:  # readiness reports, never raises (and never names the driver's error)
        checks["database"] = "unavailable"
    ready = all(v == "ok" for v in checks.values())
    body = orjson.dumps({"ready": ready, "checks": checks})
    return Response(body, status_code=200 if ready else 503, media_type="application/json")


async def metrics(request: Request) -> Response:
    runtime = _runtime(request)
    runtime.metrics.pool(runtime.pool)
    return Response(runtime.metrics.render(), media_type=METRICS_CONTENT_TYPE)


async def policy_page(request: Request) -> Response:
    """The effective policy matrix for reviewers."""
    return HTMLResponse(await _runtime(request).policy_page.html(request.query_params.get("tab")))



# A request allocates thousands of short-lived objects (rows, dicts of the
# answer); with CPython's default threshold (700) the collector ran several
# times per request and took ~10 % of its time. Nothing the gateway builds
# per request is cyclic on purpose, so collections can be rarer.
GC_THRESHOLD = (50_000, 20, 20)


def settle_garbage_collector() -> None:
    """Rarer collections, and the startup's objects (schema, policy, plans) never scanned again."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)


def create_app(
    settings: Settings | None = None,
    *,
    database_url: str | None = None,
    drain: Drain | None = None,
    serving: bool = False,
    demo: Demo | None = None,
) -> Starlette:
    """The gateway as an ASGI app; state is built when the lifespan starts.

    ``drain``: set by the server on SIGTERM; ``/readyz`` then answers 503.
    ``serving``: a server's app (``serve``), which starts its validation process at once.
    ``demo``: ``serve --demo``'s callers, offered by GraphiQL's picker (else none).
    """
    settings = settings or load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        bundle = load_policy(settings.policy_dir)
        for warning in bundle.warnings:
            log.warning("policy: %s", warning)
        authorizer = Authorizer(bundle, settings.regime)
        verifier = TokenVerifier(settings, bundle.divisions)  # a bad key setting stops startup here
        schema = build_schema()
        # A registry file that does not parse or validate stops startup (RegistryError names it).
        registry = load_registry(bundle.directory, bundle.divisions, max_tokens=settings.limits.max_tokens)
        trusted = TrustedDocuments(registry, settings.trusted_documents, Validator(graphql_schema(schema), settings.limits))
        dsn = database_url or await resolve_gateway_url(settings)  # never the owner (gateway/db.py)
        pool = await create_pool(settings, dsn)
        try:
            audit = await AuditWriter.open(settings, dsn)  # its own pool, writing as the audit role
        except BaseException:
            await pool.close()
            raise
        replicas = await open_replicas(settings)  # read-only requests (docs/SCALING.md)
        metrics_ = Metrics()
        audit.group.observer = metrics_.audit_group
        endpoint = GraphQLEndpoint(
            settings=settings,
            schema=graphql_schema(schema),
            executor_class=schema.execution_context_class,
            authorizer=authorizer,
            verifier=verifier,
            pool=pool,
            audit=audit,
            campaigns=CampaignGate(pool, acquire_timeout=settings.limits.pool_acquire_timeout_s),
            metrics=metrics_,
            replicas=replicas,
            trusted=trusted,
        )
        categories = {name: f.category for name, f in field_categories(schema).items()}

        def operations(matrix: Matrix) -> list[Reviewed]:
            return review(registry, graphql_schema(schema), categories, matrix, bundle.divisions)

        page = PolicyPage(authorizer, operations, settings.trusted_documents)
        app.state.runtime = Runtime(settings, bundle, authorizer, pool, endpoint, metrics_, page)
        if serving:
            endpoint.documents.warm()
            settle_garbage_collector()
        try:
            yield
        finally:
            # Bounded: shutdown keeps its deadline (gateway/drain.py).
            await asyncio.gather(
                audit.close(),
                close_pool(pool),
                asyncio.to_thread(endpoint.documents.close),
                *([replicas.close()] if replicas else []),
            )

    app = Starlette(
        routes=[
            Route("/", root),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/graphql/schema.graphql", schema_file),
            Route("/graphiql/{name}", graphiql_asset),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            Route("/policy", policy_page),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimit, max_bytes=settings.limits.max_body_bytes)
    app.add_middleware(CancelledAnswer)  # outermost: shutdown cancels requests (gateway/drain.py)
    app.state.drain = drain or Drain()
    app.state.demo = demo
    return app


def asgi_factory() -> Any:
    """Entry point for ``uvicorn --factory gateway.app:asgi_factory`` (worker processes)."""
    settings = load_settings()
    require_keys(settings)
    return create_app(settings, serving=True, demo=demo_from_env())
