-- The unified customer account graph (SPEC section 5).
--
-- Every customer-owned table carries customer_id and leads its indexes with it,
-- so the data can later be distributed by customer (e.g. Citus) unchanged.
-- Data of one category lives in its own table where that category is denied
-- to some callers, so a denied field never causes a read of its data.

CREATE TABLE customers (
    id              bigint PRIMARY KEY,
    account_number  text NOT NULL UNIQUE,
    segment         text NOT NULL CHECK (segment IN ('RESIDENTIAL', 'BUSINESS')),
    status          text NOT NULL CHECK (status IN ('ACTIVE', 'TERMINATED')),
    -- SUBSCRIBER_LIST: published name and number (listed_phone is NULL when
    -- the number is non-published: that number is CONTACT, not subscriber list).
    name            text NOT NULL,
    listed_phone    text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customers_segment_status ON customers (segment, status, id);
CREATE INDEX customers_name_prefix ON customers (lower(name) text_pattern_ops, id);
CREATE INDEX customers_listed_phone ON customers (listed_phone) WHERE listed_phone IS NOT NULL;

-- CONTACT: email, the contact (possibly non-published) number.
CREATE TABLE customer_contacts (
    customer_id     bigint PRIMARY KEY REFERENCES customers (id),
    email           text,
    contact_phone   text
);
CREATE INDEX customer_contacts_phone ON customer_contacts (contact_phone);

-- SERVICE addresses are SUBSCRIBER_LIST, BILLING addresses are CONTACT.
CREATE TABLE addresses (
    customer_id     bigint NOT NULL REFERENCES customers (id),
    kind            text NOT NULL CHECK (kind IN ('SERVICE', 'BILLING')),
    line1           text NOT NULL,
    city            text NOT NULL,
    state           text NOT NULL,
    postal_code     text NOT NULL,
    PRIMARY KEY (customer_id, kind)
);
CREATE INDEX addresses_service_state ON addresses (state, customer_id) WHERE kind = 'SERVICE';

CREATE TABLE services (
    id              bigint PRIMARY KEY,
    customer_id     bigint NOT NULL REFERENCES customers (id),
    category        text NOT NULL
                    CHECK (category IN ('LOCAL', 'LONG_DISTANCE', 'WIRELESS', 'INTERNET', 'VIDEO')),
    plan            text NOT NULL,
    status          text NOT NULL CHECK (status IN ('ACTIVE', 'SUSPENDED', 'DISCONNECTED')),
    activated_at    timestamptz NOT NULL
);
CREATE INDEX services_customer ON services (customer_id, id);
CREATE INDEX services_category ON services (category, customer_id) WHERE status <> 'DISCONNECTED';

CREATE TABLE service_configurations (
    service_id      bigint PRIMARY KEY REFERENCES services (id),
    customer_id     bigint NOT NULL REFERENCES customers (id),
    features        text[] NOT NULL DEFAULT '{}',
    equipment       text,
    bandwidth_mbps  integer,
    ip_address      text
);
CREATE INDEX service_configurations_customer ON service_configurations (customer_id);

CREATE TABLE usage_records (
    customer_id      bigint NOT NULL,
    service_id       bigint NOT NULL,
    started_at       timestamptz NOT NULL,
    duration_seconds integer NOT NULL CHECK (duration_seconds >= 0),
    direction        text NOT NULL CHECK (direction IN ('OUTBOUND', 'INBOUND', 'DATA')),
    counterparty     text,
    bytes            bigint,
    cell_site        text
);
-- No foreign keys here: the table is large and append-mostly; the seed and
-- the loaders keep it consistent with services.
CREATE INDEX usage_records_service_time ON usage_records (service_id, started_at DESC);
CREATE INDEX usage_records_customer ON usage_records (customer_id);

CREATE TABLE invoices (
    id              bigint PRIMARY KEY,
    customer_id     bigint NOT NULL REFERENCES customers (id),
    period          text NOT NULL,
    issued_at       timestamptz NOT NULL,
    amount_cents    bigint NOT NULL,
    currency        text NOT NULL DEFAULT 'USD',
    status          text NOT NULL CHECK (status IN ('OPEN', 'PAID', 'OVERDUE', 'VOID'))
);
CREATE INDEX invoices_customer_issued ON invoices (customer_id, issued_at DESC);

CREATE TABLE balances (
    customer_id     bigint PRIMARY KEY REFERENCES customers (id),
    amount_cents    bigint NOT NULL,
    currency        text NOT NULL DEFAULT 'USD'
);

-- PAYMENT: the instrument's kind and last four digits only, never the number.
CREATE TABLE payment_methods (
    customer_id     bigint PRIMARY KEY REFERENCES customers (id),
    kind            text NOT NULL CHECK (kind IN ('CARD', 'BANK_ACCOUNT', 'INVOICE')),
    last4           text CHECK (last4 ~ '^[0-9]{4}$')
);

-- CONSENT: append-only histories; the latest record of a scope wins.
CREATE TABLE cpni_approvals (
    id              bigserial PRIMARY KEY,
    customer_id     bigint NOT NULL REFERENCES customers (id),
    scope           text NOT NULL CHECK (scope IN ('CPNI', 'LOCATION')),
    status          text NOT NULL CHECK (status IN ('OPT_IN', 'OPT_OUT', 'NONE')),
    channel         text NOT NULL,
    recorded_by     text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX cpni_approvals_latest ON cpni_approvals (customer_id, scope, recorded_at DESC, id DESC);

CREATE TABLE cpni_notices (
    id              bigserial PRIMARY KEY,
    customer_id     bigint NOT NULL REFERENCES customers (id),
    sent_at         timestamptz NOT NULL,
    method          text NOT NULL CHECK (method IN ('MAIL', 'EMAIL')),
    recorded_by     text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX cpni_notices_customer ON cpni_notices (customer_id, sent_at DESC);

CREATE TABLE campaigns (
    id                  text PRIMARY KEY,
    name                text NOT NULL,
    description         text NOT NULL,
    division            text NOT NULL,
    purpose             text NOT NULL,
    categories          text[] NOT NULL,
    target_categories   text[] NOT NULL DEFAULT '{}',
    starts_at           timestamptz NOT NULL,
    ends_at             timestamptz NOT NULL CHECK (ends_at > starts_at),
    status              text NOT NULL CHECK (status IN ('PENDING', 'APPROVED')),
    created_by          text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    approved_by         text,
    approved_at         timestamptz
);
CREATE INDEX campaigns_division ON campaigns (division, status);

-- Consent histories are records the FCC requires to be kept (64.2008,
-- 64.2009): the database refuses to rewrite them.
CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER cpni_approvals_append_only BEFORE UPDATE OR DELETE ON cpni_approvals
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER cpni_approvals_no_truncate BEFORE TRUNCATE ON cpni_approvals
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER cpni_notices_append_only BEFORE UPDATE OR DELETE ON cpni_notices
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER cpni_notices_no_truncate BEFORE TRUNCATE ON cpni_notices
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
