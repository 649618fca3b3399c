-- Citus-ready by construction (issue 13, docs/SCALING.md).
--
-- Every customer-owned table can be distributed by its customer id with
-- create_distributed_table('<table>', 'customer_id') (customers: by 'id'),
-- all colocated, because every primary key and unique constraint includes
-- that column and every foreign key between them carries it. The audit
-- trail is distributed by chain (audit_events, audit_chain_heads,
-- audit_checkpoints, colocated with each other): each shard owns whole
-- chains, so it appends and verifies them on its own. campaigns and
-- idempotency_keys are reference tables; schema_migrations stays on the
-- coordinator. tests/db/test_distribution.py reads the catalogue and fails
-- on anything that would stop that.

-- Services: (customer_id, id). Lookups by service id alone keep an index.
ALTER TABLE service_configurations DROP CONSTRAINT service_configurations_service_id_fkey;
ALTER TABLE service_configurations DROP CONSTRAINT service_configurations_pkey;
ALTER TABLE services DROP CONSTRAINT services_pkey;
ALTER TABLE services ADD PRIMARY KEY (customer_id, id);
CREATE INDEX services_id ON services (id);
ALTER TABLE service_configurations ADD PRIMARY KEY (customer_id, service_id);
ALTER TABLE service_configurations
    ADD FOREIGN KEY (customer_id, service_id) REFERENCES services (customer_id, id);
CREATE INDEX service_configurations_service ON service_configurations (service_id);
-- The (customer_id) index is now the primary key's prefix.
DROP INDEX service_configurations_customer;

ALTER TABLE invoices DROP CONSTRAINT invoices_pkey;
ALTER TABLE invoices ADD PRIMARY KEY (customer_id, id);

-- Consent histories: the latest-record index (customer_id, scope, ...) is unchanged.
ALTER TABLE cpni_approvals DROP CONSTRAINT cpni_approvals_pkey;
ALTER TABLE cpni_approvals ADD PRIMARY KEY (customer_id, id);
ALTER TABLE cpni_notices DROP CONSTRAINT cpni_notices_pkey;
ALTER TABLE cpni_notices ADD PRIMARY KEY (customer_id, id);

-- An account number renders its customer's id ('ACC-' and the id, possibly
-- zero-padded), so it is unique because the id is: a distributed table
-- cannot enforce uniqueness on a column other than its distribution column.
ALTER TABLE customers DROP CONSTRAINT customers_account_number_key;
ALTER TABLE customers ADD CONSTRAINT customers_account_number_renders_id
    CHECK (account_number ~ '^ACC-[0-9]+$' AND ltrim(substr(account_number, 5), '0') = id::text);

-- Audit checkpoints belong to their chain's shard.
ALTER TABLE audit_checkpoints DROP CONSTRAINT audit_checkpoints_pkey;
ALTER TABLE audit_checkpoints ADD PRIMARY KEY (chain, id);
