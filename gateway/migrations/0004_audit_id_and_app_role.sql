-- Hardening of the audit trail (issue 9).
--
-- 1. The event id is covered by the hash chain. Events appended from now on
--    carry link_version 2:
--      hash = sha256(prev_hash || chain || seq || at || id || digest)
--    Events written before this migration keep link_version 1 (no id) and
--    verify as before. Lowering an event's link_version does not hide a
--    changed id: its stored hash was computed with the id and no longer
--    matches the version-1 formula.
-- 2. Least privilege: the role cpni_gateway_request holds exactly what the
--    request path needs besides the audit append (read the customer graph
--    and the audit trail, append consent and campaign records, approve
--    campaigns, keep idempotency records); cpni_gateway_app still holds only
--    EXECUTE on audit_append(). Neither owns anything, so a session acting
--    as them can neither disable the audit triggers nor alter any table.
--    The gateway's login role is a member of both (the embedded demo
--    creates one, cpni_gateway: gateway/db.py).

ALTER TABLE audit_events ADD COLUMN link_version smallint NOT NULL DEFAULT 1;

CREATE OR REPLACE FUNCTION audit_append(
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
    v_id bigint;
    v_ids bigint[] := '{}';
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
        v_id := nextval('audit_events_id_seq');
        v_ids := v_ids || v_id;
        v_prevs := v_prevs || v_hash;
        v_hash := sha256(v_hash || int4send(v_chain) || int8send(v_seq + i) || int8send(v_micros)
                         || int8send(v_id) || (p_events[i]).digest);
        v_hashes := v_hashes || v_hash;
    END LOOP;
    INSERT INTO audit_events (id, at, chain, seq, request_id, client, division, purpose, regime,
                              campaign_id, operation_name, customer_id, disclosed, denied,
                              policy_ids, prev_hash, hash, link_version)
    SELECT v_ids[e.ord], v_at, v_chain, v_seq + e.ord, p_request_id, p_client, p_division, p_purpose,
           p_regime, p_campaign_id, p_operation_name, e.customer_id, e.disclosed, e.denied,
           e.policy_ids, v_prevs[e.ord], v_hashes[e.ord], 2
      FROM unnest(p_events) WITH ORDINALITY
           AS e(customer_id, disclosed, denied, policy_ids, digest, ord);
    UPDATE audit_chain_heads SET seq = v_seq + n, hash = v_hash, at = v_at WHERE chain = v_chain;
    RETURN n;
END;
$$;

-- CREATE OR REPLACE keeps the function's privileges; restated for clarity.
REVOKE ALL ON FUNCTION audit_append(integer, text, text, text, text, text, text, text, audit_event_in[]) FROM PUBLIC;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cpni_gateway_request') THEN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolcreaterole)) THEN
            CREATE ROLE cpni_gateway_request NOLOGIN;
        ELSE
            RAISE NOTICE 'role cpni_gateway_request is missing and % may not create it', current_user;
        END IF;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cpni_gateway_request') THEN
        GRANT SELECT ON customers, customer_contacts, addresses, services, service_configurations,
                        usage_records, invoices, balances, payment_methods, cpni_approvals, cpni_notices,
                        campaigns, idempotency_keys, audit_events
           TO cpni_gateway_request;
        GRANT INSERT ON cpni_approvals, cpni_notices, campaigns, idempotency_keys TO cpni_gateway_request;
        GRANT USAGE ON SEQUENCE cpni_approvals_id_seq, cpni_notices_id_seq TO cpni_gateway_request;
        -- Approval of a campaign, and the answer kept for an idempotent retry.
        GRANT UPDATE (status, approved_by, approved_at) ON campaigns TO cpni_gateway_request;
        GRANT UPDATE (response) ON idempotency_keys TO cpni_gateway_request;
        -- Tables later migrations create are readable by the gateway; any
        -- other privilege they need, they grant themselves.
        ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO cpni_gateway_request;
    END IF;
END;
$$;
