"""The audit trail (SPEC 6.4): every request that reads or is denied customer data is recorded.

What is recorded: one event per customer a request touched (time, request
id, client, division, purpose, regime, campaign, operation name, customer
id, categories disclosed and denied, determining policy ids); never field
values, never tokens. A strict-mode refusal records nothing as disclosed; a
denial tied to no customer (a filter on a category never readable) gets an
event without a customer. ``explainAccess`` is recorded too: it shows a
customer's subscriptions and consent.

How it is stored: the customers a request treated alike (the same
categories disclosed and denied, the same policies) share one row, a
*record* listing them in ``customer_ids`` (migration 0010); a customer
treated unlike the others has a row of its own, as before. A page of 50
customers is a row or a few instead of 50. Readers (``auditEvents``, the
campaign record) expand a record to one event per customer; ``audit
export`` writes rows, as the chain links them.

How (modules):

- ``writer``: the events of a request go to one ``audit_append()`` call, on
  a small pool of its own acting as ``cpni_gateway_app``, and commit before
  the response is built. A mutation appends its events inside
  the transaction of its write instead (``record_within``): the change and
  its record commit together or not at all. Any failure raises
  :class:`AuditUnavailable`: the endpoint answers 503 with no data. A
  request refused for bad input still records the denials it decided.
- ``group``: group commit for reads and refusals: concurrent requests'
  events go to one ``audit_append()`` call (migration 0008: one chain head
  locked and moved once, one INSERT), one transaction and one WAL flush; each
  request waits for the commit holding its events, and a failed group fails
  every request in it (503). An idle request is written at once, alone.
- ``chain``: the canonical content of an event, its digest and the link
  ``hash = sha256(prev_hash || chain || seq || at || id || digest)`` (link
  version 2, since migration 0004; older events keep version 1, without
  the id). Pure.
- ``verify``: walks each chain from its genesis or retention checkpoint and
  names the first broken event; records verified checkpoints.
- ``retention``: drops whole monthly partitions past the retention period,
  after verifying, leaving a retention checkpoint per chain.
- ``events``, ``export``, ``campaigns``: the filter and pages behind
  ``auditEvents``, the COPY-based export, the 64.2009(c) campaign record.

Tamper evidence without a global lock: 64 hash chains. A write locks the
head row of whichever chain no other transaction holds (``FOR UPDATE SKIP
LOCKED``, starting from a chain hinted by the request id), links its events
and updates the head, in one statement. Writers never wait for each other
until more than 64 writes are in flight at once, and a head is held only
while the database runs that statement (0.3 ms for one event, 0.7 ms for
twenty, measured; a group about 0.25 ms per request in it), never across
a network round trip. A group's calls append after the head its first call
took (a transaction's own lock is not skipped), so a group normally holds
one head and only its first call can wait for one. Chains are
independent: each verifies on its own, in parallel.

Throughput limit: every request with events waits for a durable commit
before its response (that is the point). The chains allow 64 / 0.3-0.7 ms,
i.e. roughly 90,000-200,000 appends/s; long before that the commit is the
limit. A process commits one group at a time, holding every request that
arrived during the previous commit (up to 64 requests, 2,048 events), so
the commits per request fall as load rises: 40 concurrent reads took 3
commits in the tests, 64 concurrent one-event writers ~0.02 commits and WAL
flushes per request (against 1.05 commits and ~0.17 flushes before, when
PostgreSQL's own group commit merged only the flushes), and a third of the
gateway's CPU per append. A group's statement runs in one backend, so a
process tops out near 1 / (0.25 ms per request) inside PostgreSQL; several
worker processes commit in parallel, on different chains.

Append-only: triggers refuse UPDATE, DELETE and TRUNCATE on the events and
checkpoints (even for the owner) and let chain heads only move forward; the
role ``cpni_gateway_app`` holds no table privilege at all, only EXECUTE on
``audit_append()`` (SECURITY DEFINER) and ``audit_ensure_partitions()``.
Only a superuser or the owner can switch the triggers off, and the gateway
is neither (least privilege, see ``gateway.db``).

Deploying: the migrations create ``cpni_gateway_app`` and
``cpni_gateway_request`` (NOLOGIN; the latter holds the request path's
table privileges, SELECT on ``audit_events`` included) when the migrating
role may create roles. In production run migrations as the owner role and
let the gateway log in as a separate role that owns nothing, is no
superuser and is a member of both (``CREATE ROLE cpni_gateway LOGIN IN ROLE
cpni_gateway_app, cpni_gateway_request``); the embedded demo does exactly
that. The gateway refuses to start when it cannot act as
``cpni_gateway_app`` or that role may not call ``audit_append()``. Run ``cpni-gateway audit prune`` daily: it
keeps partitions three months ahead (a DEFAULT partition catches anything
else) and applies the retention (``CPNI_GATEWAY_AUDIT_RETENTION_DAYS``,
default 730). Export checkpoints' hashes (``audit verify`` output, or the
``audit_checkpoints`` table) off the database host to anchor the chains
against an administrator who rewrites everything.

Errors: :class:`AuditUnavailable` (the request fails closed);
``gateway.db.DatabaseError`` when the store cannot be opened at startup;
``retention.RetentionError`` when pruning is refused.
"""

from __future__ import annotations

from gateway.audit.writer import AuditUnavailable, AuditWriter

__all__ = ["AuditUnavailable", "AuditWriter"]
