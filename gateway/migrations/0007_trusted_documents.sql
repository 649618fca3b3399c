-- Trusted documents (issue 14, SPEC 4): every audit event records the
-- trusted-document check of its request.
--
--   document_id     sha256:<hex> of the normalised document (gateway/trusted)
--   document_trust  REGISTERED (registered for the caller's division),
--                   UNREGISTERED (run anyway: CPNI_GATEWAY_TRUSTED_DOCUMENTS=log),
--                   REFUSED (400 OPERATION_NOT_REGISTERED: nothing was read)
--
-- Both NULL when the check is off, and on every event written before. Both
-- are part of the event's digest (canonical content version 2, see
-- gateway/audit/chain.py), so `audit verify` notices a changed or erased
-- mark. audit_append gains the two request-level arguments; the old
-- signature stays for a gateway of the previous release during a rolling
-- upgrade (its events carry NULL, as before).

ALTER TABLE audit_events
    ADD COLUMN document_id text,
    ADD COLUMN document_trust text
        CONSTRAINT audit_events_document_trust CHECK (document_trust IN ('REGISTERED', 'UNREGISTERED', 'REFUSED'));

CREATE FUNCTION audit_append(
    p_hint integer,
    p_request_id text,
    p_client text,
    p_division text,
    p_purpose text,
    p_regime text,
    p_campaign_id text,
    p_operation_name text,
    p_document_id text,
    p_document_trust text,
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
                              policy_ids, prev_hash, hash, link_version, document_id, document_trust)
    SELECT v_ids[e.ord], v_at, v_chain, v_seq + e.ord, p_request_id, p_client, p_division, p_purpose,
           p_regime, p_campaign_id, p_operation_name, e.customer_id, e.disclosed, e.denied,
           e.policy_ids, v_prevs[e.ord], v_hashes[e.ord], 2, p_document_id, p_document_trust
      FROM unnest(p_events) WITH ORDINALITY
           AS e(customer_id, disclosed, denied, policy_ids, digest, ord);
    UPDATE audit_chain_heads SET seq = v_seq + n, hash = v_hash, at = v_at WHERE chain = v_chain;
    RETURN n;
END;
$$;

REVOKE ALL ON FUNCTION audit_append(integer, text, text, text, text, text, text, text, text, text, audit_event_in[]) FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cpni_gateway_app') THEN
        GRANT EXECUTE ON FUNCTION audit_append(integer, text, text, text, text, text, text, text, text, text, audit_event_in[]) TO cpni_gateway_app;
    END IF;
END;
$$;
