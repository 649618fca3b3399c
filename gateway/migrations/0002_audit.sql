-- The audit trail (SPEC 6.4): one row per customer touched by a request.
CREATE TABLE audit_events (
    id              bigserial PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT clock_timestamp(),
    request_id      text NOT NULL,
    client          text NOT NULL,
    division        text NOT NULL,
    purpose         text NOT NULL,
    regime          text NOT NULL,
    campaign_id     text,
    operation_name  text,
    customer_id     bigint,
    disclosed       text[] NOT NULL,
    denied          text[] NOT NULL,
    policy_ids      text[] NOT NULL
);
CREATE INDEX audit_events_customer ON audit_events (customer_id, at);
CREATE INDEX audit_events_at ON audit_events (at);
