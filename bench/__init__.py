"""The load benchmark of SPEC section 8: ``python -m bench.run``.

Three servers answer the same full-profile request: the gateway as shipped
(authorization and audit on), the gateway with both replaced by
pass-throughs, and hand-written SQL behind a bare Starlette route (the
floor). Each is driven in turn by a load generator in its own process; the
report puts requests per second, p50/p99 latency and server CPU per request
side by side.

Layout: :mod:`bench.database` prepares PostgreSQL, :mod:`bench.workload`
holds the query and the request bodies, :mod:`bench.floor` and
:mod:`bench.unguarded` are the two bench-only servers, :mod:`bench.servers`
runs each as a uvicorn subprocess, :mod:`bench.load` is the load generator,
:mod:`bench.sanity` checks answers before measuring, :mod:`bench.report`
renders the table and :mod:`bench.run` ties them together.
"""
