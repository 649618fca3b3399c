-- Idempotency-Key records: a retried mutation returns its first result
-- instead of writing twice (SPEC 5, mutations).
--
-- One row per calling client and key, inserted in the same transaction as the
-- write it guards: a concurrent retry waits on the primary key until the
-- first attempt commits (then finds its result) or rolls back (then writes).
-- `request_hash` tells a true retry from a key reused for another request;
-- `response` is the written record, replayed as the first answer.
CREATE TABLE idempotency_keys (
    client          text NOT NULL,
    key             text NOT NULL,
    operation       text NOT NULL,
    request_hash    text NOT NULL,
    response        jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client, key)
);
-- For a retention job that forgets old keys (the records they guard stay).
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
