-- The latest invoices of a customer in the order every reader asks for them
-- (issued_at DESC, id DESC: gateway/resolvers/billing.py, gateway/plan/sql.py),
-- so a page's `invoices(last: n)` reads the first n index entries instead of
-- sorting each customer's invoices by id within equal issue times.

CREATE INDEX invoices_customer_latest ON invoices (customer_id, issued_at DESC, id DESC);
DROP INDEX invoices_customer_issued;
