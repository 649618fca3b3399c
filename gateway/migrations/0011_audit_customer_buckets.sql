-- A record's customers indexed by bucket (issue 11).
--
-- Migration 0010's GIN index put every customer of a record in the index:
-- 50 entries for a page of 50, written with each append (fastupdate off, so
-- no append stalls on a pending list). Measured under load, those entries
-- were most of what authorization and audit add to a page request inside
-- PostgreSQL (0.08-0.11 ms of its CPU a request; bench/README.md).
--
-- From now on a record also holds the *buckets* of its customers
-- (customer_id >> 6, distinct, ascending): a page of consecutive customers
-- touches one or two. The GIN index on the buckets finds the candidate
-- records of a customer, and `customer_ids @> ARRAY[id]` keeps those that
-- hold it (gateway/audit/events.py). A bucket is derived from the ids the
-- content digest covers; `audit verify` checks that they agree.
--
-- The records written before this migration have no buckets and stay in
-- the previous index, now only for them (the table is append-only: they are
-- never rewritten). audit_append keeps its signature, for gateways of the
-- previous release during a rolling upgrade.

ALTER TABLE audit_events ADD COLUMN customer_buckets bigint[]
    CONSTRAINT audit_events_customer_buckets CHECK (customer_buckets IS NULL OR customer_ids IS NOT NULL);

DROP INDEX audit_events_customers;
CREATE INDEX audit_events_customers ON audit_events USING gin (customer_ids) WITH (fastupdate = off)
    WHERE customer_ids IS NOT NULL AND customer_buckets IS NULL;
CREATE INDEX audit_events_customer_buckets ON audit_events USING gin (customer_buckets) WITH (fastupdate = off)
    WHERE customer_buckets IS NOT NULL;

-- As 0010's, writing each record's buckets.
CREATE OR REPLACE FUNCTION audit_append(
    p_hint integer,
    p_request_id text[],
    p_client text[],
    p_division text[],
    p_purpose text[],
    p_regime text[],
    p_campaign_id text[],
    p_operation_name text[],
    p_document_id text[],
    p_document_trust text[],
    p_names text[],           -- the distinct lists of names, each a text[] literal
    p_request_of integer[],   -- per row: the (1-based) index of its request in the arrays above
    p_customer_id bigint[],
    p_disclosed integer[],    -- per row: the (1-based) index of its list in p_names
    p_denied integer[],
    p_policy_ids integer[],
    p_digests bytea,          -- the rows' 32-byte digests, one after another
    p_customer_ids text[]     -- per row: NULL, or the record's customers (a bigint[] literal)
) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_chain integer;
    v_seq bigint;
    v_head bytea;
    v_hash bytea;
    v_at timestamptz;
    v_micros bigint;
    v_ids bigint[];
    v_hashes bytea[];
    v_hint integer;
    v_events integer;
    r integer := coalesce(cardinality(p_request_id), 0);
    n integer := coalesce(cardinality(p_request_of), 0);
BEGIN
    IF n = 0 THEN
        RETURN 0;
    END IF;
    IF coalesce(cardinality(p_client), 0) <> r OR coalesce(cardinality(p_division), 0) <> r
       OR coalesce(cardinality(p_purpose), 0) <> r OR coalesce(cardinality(p_regime), 0) <> r
       OR coalesce(cardinality(p_campaign_id), 0) <> r OR coalesce(cardinality(p_operation_name), 0) <> r
       OR coalesce(cardinality(p_document_id), 0) <> r OR coalesce(cardinality(p_document_trust), 0) <> r
       OR coalesce(cardinality(p_customer_id), 0) <> n OR coalesce(cardinality(p_disclosed), 0) <> n
       OR coalesce(cardinality(p_denied), 0) <> n OR coalesce(cardinality(p_policy_ids), 0) <> n
       OR coalesce(cardinality(p_customer_ids), 0) <> n
       OR coalesce(length(p_digests), 0) <> 32 * n
       OR EXISTS (SELECT 1 FROM unnest(p_request_of) q WHERE q IS NULL OR q < 1 OR q > r)
       OR EXISTS (SELECT 1 FROM unnest(p_disclosed || p_denied || p_policy_ids) x
                   WHERE x IS NULL OR x < 1 OR x > coalesce(cardinality(p_names), 0)) THEN
        RAISE EXCEPTION 'audit_append: the arrays of one group do not match'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The table's CHECK refuses a record with a customer_id beside it, or of fewer than two.
    SELECT coalesce(sum(coalesce(cardinality(c::bigint[]), 1)), 0) INTO v_events FROM unnest(p_customer_ids) c;
    v_hint := abs(p_hint % (SELECT count(*) FROM audit_chain_heads));
    SELECT chain, seq, hash INTO v_chain, v_seq, v_head
      FROM audit_chain_heads
     ORDER BY chain < v_hint, chain
       FOR UPDATE SKIP LOCKED
     LIMIT 1;
    IF NOT FOUND THEN
        SELECT chain, seq, hash INTO STRICT v_chain, v_seq, v_head
          FROM audit_chain_heads
         WHERE chain = v_hint
           FOR UPDATE;
    END IF;
    v_at := clock_timestamp();
    v_micros := (extract(epoch FROM v_at) * 1000000)::bigint;
    v_ids := ARRAY(SELECT nextval('audit_events_id_seq') FROM generate_series(1, n));
    v_hashes := array_fill(NULL::bytea, ARRAY[n]);
    v_hash := v_head;
    FOR i IN 1 .. n LOOP
        v_hash := sha256(v_hash || int4send(v_chain) || int8send(v_seq + i) || int8send(v_micros)
                         || int8send(v_ids[i]) || substring(p_digests FROM 32 * (i - 1) + 1 FOR 32));
        v_hashes[i] := v_hash;
    END LOOP;
    INSERT INTO audit_events (id, at, chain, seq, request_id, client, division, purpose, regime,
                              campaign_id, operation_name, customer_id, customer_ids, customer_buckets, disclosed, denied,
                              policy_ids, prev_hash, hash, link_version, document_id, document_trust)
    SELECT v_ids[e.ord], v_at, v_chain, v_seq + e.ord, p_request_id[e.req], p_client[e.req],
           p_division[e.req], p_purpose[e.req], p_regime[e.req], p_campaign_id[e.req],
           p_operation_name[e.req], e.customer_id, e.customer_ids::bigint[],
           CASE WHEN e.customer_ids IS NOT NULL THEN
               ARRAY(SELECT DISTINCT m >> 6 FROM unnest(e.customer_ids::bigint[]) m ORDER BY 1) END,
           p_names[e.disclosed]::text[],
           p_names[e.denied]::text[], p_names[e.policy_ids]::text[],
           CASE WHEN e.ord = 1 THEN v_head ELSE v_hashes[e.ord - 1] END,
           v_hashes[e.ord], 2, p_document_id[e.req], p_document_trust[e.req]
      FROM unnest(p_request_of, p_customer_id, p_customer_ids, p_disclosed, p_denied, p_policy_ids) WITH ORDINALITY
           AS e(req, customer_id, customer_ids, disclosed, denied, policy_ids, ord);
    UPDATE audit_chain_heads SET seq = v_seq + n, hash = v_hash, at = v_at WHERE chain = v_chain;
    RETURN v_events;
END;
$$;

