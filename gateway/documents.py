"""Prepared documents: parsed and validated off the event loop, cached within a byte budget.

Validating a document inside every limit can take a second of CPU
(graphql-core's overlapping-fields check is quadratic); done on the event
loop it would stall every other request (``/healthz`` included).
:class:`Documents` runs that work off the loop (a thread for short texts, a
validation process for long ones), and keeps the results in a
:class:`~gateway.schema.sized_cache.SizedCache` weighed in bytes (the text
plus an estimate per token), so distinct large texts cannot pin memory.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import threading
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TypeAlias

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    StringValueNode,
    Token,
    Visitor,
    parse,
    specified_rules,
    validate,
    visit,
)
from graphql.validation.validate import ValidationAbortedError

from gateway.config import Limits
from gateway.responses import strip_suggestions
from gateway.schema.errors import ServiceUnavailableError
from gateway.schema.limits import limit_rules
from gateway.schema.sized_cache import SizedCache

# Retained bytes per token of a parsed document with locations (measured: ~450).
BYTES_PER_TOKEN = 512
CACHE_BYTES = 64 * 1024 * 1024
VALIDATION_THREADS = 2
VALIDATION_PROCESSES = 1
# Up to this many characters a document validates on a thread: its worst case
# (~50 sibling fields of one name) measured ~15 ms; 1 KiB already ~40 ms.
LOCAL_CHARS = 512
MAX_ERRORS = 20


@dataclass(frozen=True)
class Prepared:
    """A parsed and validated document, or the refusal it earns (it depends on its text only)."""

    document: DocumentNode | None
    code: str | None = None
    messages: tuple[str, ...] = ()
    # Per message, where in the document it points: (line, column) pairs.
    locations: tuple[tuple[tuple[int, int], ...], ...] = ()

    def errors(self) -> list[dict[str, object]]:
        """The refusal's GraphQL errors, each with its ``locations`` when it has some."""
        found = []
        for index, message in enumerate(self.messages):
            error: dict[str, object] = {"message": message}
            places = self.locations[index] if index < len(self.locations) else ()
            if places:
                error["locations"] = [{"line": line, "column": column} for line, column in places]
            error["extensions"] = {"code": self.code}
            found.append(error)
        return found


def _places(error: GraphQLError) -> tuple[tuple[int, int], ...]:
    return tuple((loc.line, loc.column) for loc in error.locations or ())


Verdict: TypeAlias = tuple[str | None, tuple[str, ...], tuple[tuple[tuple[int, int], ...], ...]]


class _NulFinder(Visitor):
    found = False

    def enter_string_value(self, node: StringValueNode, *_: object) -> None:
        if "\x00" in node.value:
            self.found = True


class Validator:
    """Parses and validates in the calling thread or process, without caching."""

    def __init__(self, schema: GraphQLSchema, limits: Limits) -> None:
        self.schema = schema
        self.max_tokens = limits.max_tokens
        self.rules = [*specified_rules, *limit_rules(limits.max_depth, limits.max_aliases)]

    def prepare(self, query: str) -> Prepared:
        if "\x00" in query:
            return Prepared(None, "BAD_USER_INPUT", ("The document contains a NUL character",))
        try:
            document = parse(query, max_tokens=self.max_tokens, no_location=False)
        except GraphQLError as exc:
            if "tokens" in exc.message.lower():
                return Prepared(None, "QUERY_TOO_COMPLEX", ("Query has too many tokens",))
            return Prepared(None, "GRAPHQL_PARSE_FAILED", (strip_suggestions(exc.message),), (_places(exc),))
        errors = validate(self.schema, document, self.rules, max_errors=MAX_ERRORS, hide_suggestions=True)
        if len(errors) <= MAX_ERRORS and any(isinstance(e, ValidationAbortedError) for e in errors):
            # graphql-core's own work budget ran out (not the error count): too complex to validate.
            return Prepared(None, "QUERY_TOO_COMPLEX", ("Query is too complex to validate",))
        if errors:
            too_complex = [e for e in errors if (e.extensions or {}).get("code") == "QUERY_TOO_COMPLEX"]
            if too_complex:
                return Prepared(None, "QUERY_TOO_COMPLEX", tuple(e.message for e in too_complex))
            return Prepared(
                None,
                "GRAPHQL_VALIDATION_FAILED",
                tuple(strip_suggestions(e.message) for e in errors),
                tuple(_places(e) for e in errors),
            )
        finder = _NulFinder()
        visit(document, finder)
        if finder.found:
            # PostgreSQL text cannot hold NUL: refuse here, not as a driver error later.
            return Prepared(None, "BAD_USER_INPUT", ("A string argument contains a NUL character",))
        return Prepared(document)

    def verdict(self, query: str) -> Verdict:
        """The refusal code, messages and their locations for ``query``; code None when valid (picklable)."""
        prepared = self.prepare(query)
        return prepared.code, prepared.messages, prepared.locations

    def parse(self, query: str) -> Prepared:
        """A document already found valid (by a validation process): parse only."""
        return Prepared(parse(query, max_tokens=self.max_tokens, no_location=False))


class Documents:
    """Turns query texts into :class:`Prepared` documents; one per process.

    Short texts (up to ``local_chars``) cannot take long to validate and run
    on a thread. Longer ones are validated in a separate process: a thread
    would share the interpreter lock with the event loop, and a second of
    validation would still slow every other request down.
    """

    def __init__(
        self,
        schema: GraphQLSchema,
        limits: Limits,
        *,
        cache_bytes: int = CACHE_BYTES,
        local_chars: int = LOCAL_CHARS,
    ) -> None:
        self.validator = Validator(schema, limits)
        self.limits = _validation_limits(limits)
        self.local_chars = local_chars
        self.cache: SizedCache[Prepared] = SizedCache(cache_bytes)
        self._threads = ThreadPoolExecutor(max_workers=VALIDATION_THREADS, thread_name_prefix="cpni-validate")
        self._closed = False
        _join(self.limits)

    async def prepare(self, query: str) -> Prepared:
        """The prepared document for ``query``: from the cache, or validated off the event loop."""
        prepared = self.cache.get(query)
        if prepared is None:
            prepared = await self._prepare(query)
            self.cache.put(query, prepared, _weight(query, prepared))
        return prepared

    async def _prepare(self, query: str) -> Prepared:
        loop = asyncio.get_running_loop()
        if len(query) <= self.local_chars:
            return await loop.run_in_executor(self._threads, self.validator.prepare, query)
        processes = _validation_processes(self.limits)
        try:
            code, messages, locations = await loop.run_in_executor(processes, _worker_verdict, query)
        except BrokenProcessPool:
            _forget(self.limits, processes)  # a new one next time
            raise ServiceUnavailableError("validation process died") from None
        if code is not None:
            return Prepared(None, code, messages, locations)
        return await loop.run_in_executor(self._threads, self.validator.parse, query)

    def warm(self) -> None:
        """Start the validation process now (in the background), not on the first long document."""
        _validation_processes(self.limits).submit(_ready)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._threads.shutdown(wait=False, cancel_futures=True)
            _leave(self.limits)


# Validation processes belong to the process, like its interpreter: started on
# first use (or by warm()), shared by every open Documents of the same limits
# (tests build many apps; a server one), stopped when the last one closes.
_PROCESSES: dict[Limits, ProcessPoolExecutor] = {}
_USERS: Counter[Limits] = Counter()


def _validation_limits(limits: Limits) -> Limits:
    """The limits a validation process applies (the others do not change its answers)."""
    return Limits(max_depth=limits.max_depth, max_aliases=limits.max_aliases, max_tokens=limits.max_tokens)
_PROCESSES_LOCK = threading.Lock()


def _validation_processes(limits: Limits) -> ProcessPoolExecutor:
    with _PROCESSES_LOCK:
        processes = _PROCESSES.get(limits)
        if processes is None:
            processes = _PROCESSES[limits] = ProcessPoolExecutor(
                max_workers=VALIDATION_PROCESSES,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(limits,),
            )
        return processes


def _forget(limits: Limits, processes: ProcessPoolExecutor) -> None:
    with _PROCESSES_LOCK:
        if _PROCESSES.get(limits) is processes:
            del _PROCESSES[limits]
    processes.shutdown(wait=False, cancel_futures=True)


def _join(limits: Limits) -> None:
    with _PROCESSES_LOCK:
        _USERS[limits] += 1


def _leave(limits: Limits) -> None:
    with _PROCESSES_LOCK:
        _USERS[limits] -= 1
        processes = _PROCESSES.pop(limits, None) if _USERS[limits] <= 0 else None
    if processes is not None:
        processes.shutdown(wait=True, cancel_futures=True)


def _ready() -> None:
    """Nothing: a task that returns once a validation process has started."""


# The validator inside a validation process (built once when it starts).
_worker: Validator | None = None


def _start_worker(limits: Limits) -> None:
    global _worker
    from gateway.schema import build_schema, graphql_schema  # noqa: PLC0415 - in the validation process only

    _worker = Validator(graphql_schema(build_schema()), limits)


def _worker_verdict(query: str) -> Verdict:
    assert _worker is not None
    return _worker.verdict(query)


def _weight(query: str, prepared: Prepared) -> int:
    """Estimated bytes an entry holds: the text, plus what its tokens keep alive."""
    weight = sys.getsizeof(query) + sum(sys.getsizeof(m) for m in prepared.messages)
    document = prepared.document
    if document is not None and document.loc is not None:
        tokens = 0
        token: Token | None = document.loc.start_token
        while token is not None:
            tokens += 1
            token = token.next
        weight += BYTES_PER_TOKEN * tokens
    return weight
