-- The audit trail (SPEC 6.4): one event per customer touched by a request.
--
-- Append-only: triggers refuse UPDATE, DELETE and TRUNCATE, and the role the
-- gateway writes as (cpni_gateway_app) holds no privilege on the tables at
-- all: it may only call audit_append(), which links every event into a hash
-- chain. Retention drops whole monthly partitions (gateway/audit/retention.py).
--
-- Tamper evidence: AUDIT_CHAINS independent hash chains. A write takes the
-- head row of any chain no other transaction holds (FOR UPDATE SKIP LOCKED),
-- so writers wait on each other only when more of them are in flight than
-- there are chains. hash = sha256(prev_hash || chain || seq || at || digest),
-- where digest is the sha256 of the event's canonical content computed by the
-- gateway (gateway/audit/chain.py); `audit verify` recomputes both.

-- The role the gateway writes audit events as. NOLOGIN: production grants it
-- to the gateway's own login role (see gateway/audit/__init__.py). Roles are
-- cluster-wide, so it may exist already; a migrating user that may not create
-- roles leaves that to the administrator (the gateway then refuses to start).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cpni_gateway_app') THEN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolcreaterole)) THEN
            CREATE ROLE cpni_gateway_app NOLOGIN;
        ELSE
            RAISE NOTICE 'role cpni_gateway_app is missing and % may not create it', current_user;
        END IF;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cpni_gateway_app')
       AND NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND rolsuper)
       AND NOT pg_has_role(current_user, 'cpni_gateway_app', 'SET') THEN
        -- The migrating (owner) role can then run the gateway as well.
        GRANT cpni_gateway_app TO CURRENT_USER;
    END IF;
END;
$$;

CREATE TABLE audit_chain_heads (
    chain   integer PRIMARY KEY,
    seq     bigint NOT NULL DEFAULT 0,
    hash    bytea NOT NULL DEFAULT decode(repeat('00', 32), 'hex'),  -- genesis
    at      timestamptz
);
-- 64 chains: more than the audit connections of a few workers, so a writer
-- almost never finds every head taken.
INSERT INTO audit_chain_heads (chain) SELECT generate_series(0, 63);

CREATE SEQUENCE audit_events_id_seq AS bigint;
CREATE TABLE audit_events (
    id              bigint NOT NULL DEFAULT nextval('audit_events_id_seq'),
    at              timestamptz NOT NULL,
    chain           integer NOT NULL,
    seq             bigint NOT NULL,
    request_id      text NOT NULL,
    client          text NOT NULL,
    division        text NOT NULL,
    purpose         text NOT NULL,
    regime          text NOT NULL,
    campaign_id     text,
    operation_name  text,
    customer_id     bigint,           -- NULL: a denial not tied to one customer
    disclosed       text[] NOT NULL,
    denied          text[] NOT NULL,
    policy_ids      text[] NOT NULL,
    prev_hash       bytea NOT NULL,
    hash            bytea NOT NULL,
    PRIMARY KEY (chain, seq, at)
) PARTITION BY RANGE (at);
ALTER SEQUENCE audit_events_id_seq OWNED BY audit_events.id;
CREATE INDEX audit_events_at ON audit_events (at, id);
CREATE INDEX audit_events_customer ON audit_events (customer_id, at) WHERE customer_id IS NOT NULL;
CREATE INDEX audit_events_campaign ON audit_events (campaign_id, at) WHERE campaign_id IS NOT NULL;
-- The safety net: an event whose month has no partition yet lands here
-- instead of failing the request.
CREATE TABLE audit_events_default PARTITION OF audit_events DEFAULT;

-- Verified and retention checkpoints: verification and retention start from
-- the latest retention checkpoint of a chain instead of its genesis.
CREATE TABLE audit_checkpoints (
    id          bigserial PRIMARY KEY,
    chain       integer NOT NULL REFERENCES audit_chain_heads (chain),
    seq         bigint NOT NULL,
    hash        bytea NOT NULL,
    event_at    timestamptz,
    kind        text NOT NULL CHECK (kind IN ('verified', 'retention')),
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX audit_checkpoints_chain ON audit_checkpoints (chain, kind, seq DESC);

-- Append-only (refuse_change() comes with 0001). Row triggers on the
-- partitioned table are cloned to every partition; TRUNCATE triggers are
-- not, so audit_ensure_partitions() adds one to each partition it creates.
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events_default
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- A chain head only moves forward: rolling it back would hide deleted events.
CREATE FUNCTION audit_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.chain = OLD.chain AND NEW.seq >= OLD.seq THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit chain heads only move forward'
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_chain_heads_forward_only BEFORE UPDATE OR DELETE ON audit_chain_heads
    FOR EACH ROW EXECUTE FUNCTION audit_head_forward_only();
CREATE TRIGGER audit_chain_heads_no_truncate BEFORE TRUNCATE ON audit_chain_heads
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- What the gateway sends per event; the rest is per request.
CREATE TYPE audit_event_in AS (
    customer_id bigint,
    disclosed   text[],
    denied      text[],
    policy_ids  text[],
    digest      bytea
);

-- Append one request's events to a free chain, in one statement.
-- p_hint spreads writers over the chains; SKIP LOCKED passes over heads that
-- other transactions hold, and only when all are held does it wait (for the
-- hinted chain, under lock_timeout). The time is taken after the head is
-- locked, so within a chain `at` never goes backwards and a dropped monthly
-- partition holds a prefix of every chain.
CREATE FUNCTION audit_append(
    p_hint integer,
    p_request_id text,
    p_client text,
    p_division text,
    p_purpose text,
    p_regime text,
    p_campaign_id text,
    p_operation_name text,
    p_events audit_event_in[]
) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_chain integer;
    v_seq bigint;
    v_hash bytea;
    v_at timestamptz;
    v_micros bigint;
    v_prevs bytea[] := '{}';
    v_hashes bytea[] := '{}';
    v_hint integer;
    n integer := coalesce(cardinality(p_events), 0);
BEGIN
    IF n = 0 THEN
        RETURN 0;
    END IF;
    v_hint := abs(p_hint % (SELECT count(*) FROM audit_chain_heads));
    SELECT chain, seq, hash INTO v_chain, v_seq, v_hash
      FROM audit_chain_heads
     ORDER BY chain < v_hint, chain
       FOR UPDATE SKIP LOCKED
     LIMIT 1;
    IF NOT FOUND THEN
        SELECT chain, seq, hash INTO STRICT v_chain, v_seq, v_hash
          FROM audit_chain_heads
         WHERE chain = v_hint
           FOR UPDATE;
    END IF;
    v_at := clock_timestamp();
    v_micros := (extract(epoch FROM v_at) * 1000000)::bigint;
    FOR i IN 1 .. n LOOP
        v_prevs := v_prevs || v_hash;
        v_hash := sha256(v_hash || int4send(v_chain) || int8send(v_seq + i) || int8send(v_micros)
                         || (p_events[i]).digest);
        v_hashes := v_hashes || v_hash;
    END LOOP;
    INSERT INTO audit_events (at, chain, seq, request_id, client, division, purpose, regime,
                              campaign_id, operation_name, customer_id, disclosed, denied,
                              policy_ids, prev_hash, hash)
    SELECT v_at, v_chain, v_seq + e.ord, p_request_id, p_client, p_division, p_purpose, p_regime,
           p_campaign_id, p_operation_name, e.customer_id, e.disclosed, e.denied,
           e.policy_ids, v_prevs[e.ord], v_hashes[e.ord]
      FROM unnest(p_events) WITH ORDINALITY
           AS e(customer_id, disclosed, denied, policy_ids, digest, ord);
    UPDATE audit_chain_heads SET seq = v_seq + n, hash = v_hash, at = v_at WHERE chain = v_chain;
    RETURN n;
END;
$$;

-- Monthly partitions (UTC) from this month to p_months_ahead months ahead.
-- Idempotent and safe to call concurrently. A month whose events already
-- sit in the default partition is left there (creating its partition would
-- fail); retention drops the default partition once all of it is old.
CREATE FUNCTION audit_ensure_partitions(p_months_ahead integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_start timestamptz;
    v_end timestamptz;
    v_name text;
    v_created integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('audit_ensure_partitions'));
    FOR m IN 0 .. p_months_ahead LOOP
        v_start := date_trunc('month', now(), 'UTC') + make_interval(months => m);
        v_end := v_start + interval '1 month';
        v_name := 'audit_events_' || to_char(v_start AT TIME ZONE 'UTC', 'YYYY_MM');
        CONTINUE WHEN to_regclass(v_name) IS NOT NULL;
        CONTINUE WHEN EXISTS (SELECT 1 FROM audit_events_default WHERE at >= v_start AND at < v_end);
        EXECUTE format('CREATE TABLE %I PARTITION OF audit_events FOR VALUES FROM (%L) TO (%L)',
                       v_name, v_start, v_end);
        EXECUTE format('CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION refuse_change()', v_name);
        v_created := v_created + 1;
    END LOOP;
    RETURN v_created;
END;
$$;

SELECT audit_ensure_partitions(3);

-- Functions are executable by PUBLIC unless revoked.
REVOKE ALL ON FUNCTION audit_append(integer, text, text, text, text, text, text, text, audit_event_in[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_ensure_partitions(integer) FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cpni_gateway_app') THEN
        GRANT EXECUTE ON FUNCTION
            audit_append(integer, text, text, text, text, text, text, text, audit_event_in[]),
            audit_ensure_partitions(integer)
        TO cpni_gateway_app;
        GRANT USAGE ON TYPE audit_event_in TO cpni_gateway_app;
    END IF;
END;
$$;
