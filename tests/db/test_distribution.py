"""The schema can be distributed by customer (Citus) as it is (docs/SCALING.md).

Reads the catalogue of the migrated session database and fails on anything
that would stop ``create_distributed_table(table, column)`` with every
customer-owned table colocated on the customer id, the audit trail
colocated on its chain, and the registries as reference tables:

- every table of the schema is in exactly one of those groups;
- a distributed table's column is NOT NULL, and every primary key, unique
  constraint, unique index and exclusion constraint includes it;
- a foreign key between distributed tables joins their distribution
  columns to each other (colocated), and one that points at a reference
  table is fine; a reference table never points at a distributed one.
"""

from __future__ import annotations

import re
from pathlib import Path

import asyncpg

import gateway.resolvers

# Distributed by the customer's id, all colocated with customers.
CUSTOMER_OWNED = {
    "customers": "id",
    "customer_contacts": "customer_id",
    "addresses": "customer_id",
    "services": "customer_id",
    "service_configurations": "customer_id",
    "usage_records": "customer_id",
    "invoices": "customer_id",
    "balances": "customer_id",
    "payment_methods": "customer_id",
    "cpni_approvals": "customer_id",
    "cpni_notices": "customer_id",
}
# Distributed by chain, colocated with each other: each shard owns whole chains.
AUDIT = {"audit_events": "chain", "audit_chain_heads": "chain", "audit_checkpoints": "chain"}
DISTRIBUTED = CUSTOMER_OWNED | AUDIT
# Replicated to every node (small registries, written rarely).
REFERENCE = {"campaigns", "idempotency_keys"}
# Stays on the coordinator.
LOCAL = {"schema_migrations"}

TABLES_SQL = """
SELECT c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
"""

# Primary keys, unique constraints and exclusion constraints, and unique
# indexes that back no constraint: their tables and column names.
UNIQUE_SQL = """
SELECT t.relname AS table_name, i.relname AS index_name,
       array(SELECT a.attname FROM unnest(x.indkey) k JOIN pg_attribute a
             ON a.attrelid = x.indrelid AND a.attnum = k) AS columns,
       x.indexprs IS NOT NULL AS has_expressions
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = 'public' AND (x.indisunique OR x.indisexclusion) AND NOT t.relispartition
"""

FOREIGN_KEYS_SQL = """
SELECT c.conname, src.relname AS source, dst.relname AS target,
       array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o) AS source_columns,
       array(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o) AS target_columns
FROM pg_constraint c
JOIN pg_class src ON src.oid = c.conrelid
JOIN pg_class dst ON dst.oid = c.confrelid
JOIN pg_namespace n ON n.oid = src.relnamespace
WHERE n.nspname = 'public' AND c.contype = 'f' AND NOT src.relispartition
"""


async def test_every_table_has_a_distribution_group(pool: asyncpg.Pool) -> None:
    tables = {r["relname"] for r in await pool.fetch(TABLES_SQL)}
    grouped = set(DISTRIBUTED) | REFERENCE | LOCAL
    assert tables - grouped == set(), "tables without a group: decide how each is distributed"
    assert grouped - tables == set(), "groups name tables that do not exist"


async def test_distribution_columns_are_never_null(pool: asyncpg.Pool) -> None:
    nullable = await pool.fetch(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = 'public' AND is_nullable = 'YES'"
    )
    assert [(r["table_name"], r["column_name"]) for r in nullable if DISTRIBUTED.get(r["table_name"]) == r["column_name"]] == []


async def test_every_unique_index_of_a_distributed_table_includes_its_distribution_column(pool: asyncpg.Pool) -> None:
    bad = []
    for r in await pool.fetch(UNIQUE_SQL):
        column = DISTRIBUTED.get(r["table_name"])
        if column is not None and (column not in r["columns"] or r["has_expressions"]):
            bad.append(f"{r['table_name']}.{r['index_name']} {list(r['columns'])}")
    assert bad == []
    # Every distributed table that has a primary key (usage_records has none) keys it that way.
    keyed = {r["table_name"] for r in await pool.fetch(UNIQUE_SQL) if r["index_name"].endswith("_pkey")}
    assert set(DISTRIBUTED) - keyed == {"usage_records"}


async def test_foreign_keys_join_distribution_columns_or_point_at_reference_tables(pool: asyncpg.Pool) -> None:
    bad = []
    for r in await pool.fetch(FOREIGN_KEYS_SQL):
        source, target = r["source"], r["target"]
        pairs = dict(zip(r["source_columns"], r["target_columns"], strict=True))
        if target in REFERENCE:
            continue
        if source in REFERENCE or source in LOCAL or target in LOCAL:
            bad.append(f"{r['conname']}: {source} -> {target}")
            continue
        same_group = (source in CUSTOMER_OWNED) == (target in CUSTOMER_OWNED)
        if not same_group or pairs.get(DISTRIBUTED[source]) != DISTRIBUTED[target]:
            bad.append(f"{r['conname']}: {source} {pairs} -> {target}")
    assert bad == []


# A join or correlated subquery between two customer-owned tables must match
# their customer ids: with `alias.column = alias.column` between aliases of
# two customer-owned tables, one equality must be on the customer ids.
_TABLE_ALIAS = re.compile(r"\b(?:FROM|JOIN)\s+(\w+)(?:\s+(?:AS\s+)?(\w+))?", re.IGNORECASE)
_EQUALITY = re.compile(r"\b(\w+)\.(\w+)\s*=\s*(\w+)\.(\w+)")


def _customer_owned_joins_off_the_key(sql: str) -> list[str]:
    aliases = {}
    for table, alias in _TABLE_ALIAS.findall(sql):
        if table in CUSTOMER_OWNED:
            aliases[alias or table] = table
            aliases[table] = table
    joined: dict[frozenset[str], bool] = {}
    for a, a_col, b, b_col in _EQUALITY.findall(sql):
        if a in aliases and b in aliases and aliases[a] != aliases[b]:
            pair = frozenset((a, b))
            on_key = a_col == CUSTOMER_OWNED[aliases[a]] and b_col == CUSTOMER_OWNED[aliases[b]]
            joined[pair] = joined.get(pair, False) or on_key
    return [" & ".join(sorted(pair)) for pair, on_key in joined.items() if not on_key]


def test_no_query_joins_customer_owned_tables_except_on_the_customer_id() -> None:
    root = Path(gateway.resolvers.__file__).parent.parent
    found = []
    for path in sorted(root.rglob("*.py")):
        if "seed" in path.parts:  # bulk generation, run on the coordinator once
            continue
        text = path.read_text()
        for bad in _customer_owned_joins_off_the_key(text):
            found.append(f"{path.relative_to(root)}: {bad}")
    assert found == []


def test_the_join_check_sees_a_join_on_the_service_id_alone() -> None:
    sql = "SELECT 1 FROM services s CROSS JOIN LATERAL (SELECT 1 FROM usage_records u WHERE u.service_id = s.id) l"
    assert _customer_owned_joins_off_the_key(sql) == ["s & u"]
    fixed = sql.replace("u.service_id = s.id", "u.customer_id = s.customer_id AND u.service_id = s.id")
    assert _customer_owned_joins_off_the_key(fixed) == []
