-- Customer.lastKnownLocation (SPEC 5): the newest usage record with a cell
-- site, per service. Wireline services have no cell site, so the plain
-- (service_id, started_at) index would walk all their records to find none;
-- this partial index answers each service with one probe.
CREATE INDEX IF NOT EXISTS usage_records_service_cell_site ON usage_records (service_id, started_at DESC)
    WHERE cell_site IS NOT NULL;
