"""The load benchmark of issue 11 (SPEC section 8): ``python -m bench.run``.

Three servers answer the same requests: hand-written SQL behind a bare
Starlette route (the floor), the gateway with authorization and audit
replaced by pass-throughs (off), and the gateway as shipped (on). wrk
drives each in turn, interleaved over reps, for three queries; the report
puts medians of requests/s, latency, CPU per request, SQL round trips and
memory side by side with issue 11's targets.

Layout: :mod:`bench.database` prepares PostgreSQL, :mod:`bench.workload`
holds the queries, callers and request bodies, :mod:`bench.floor` and
:mod:`bench.unguarded` are the two bench-only servers, :mod:`bench.serve`
runs one target as ``serve`` would, :mod:`bench.servers` starts them,
:mod:`bench.instrument` counts SQL round trips, :mod:`bench.wrk` is the load
generator, :mod:`bench.sanity` checks answers before timing,
:mod:`bench.profile` profiles with py-spy, :mod:`bench.report` renders the
tables and :mod:`bench.run` ties them together.
"""
