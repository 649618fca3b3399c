"""Chunk statements for the customer's own rows: account, contact, addresses, payment."""

from __future__ import annotations

from gateway.seed import vocab
from gateway.seed.sql import Customers, int_array, text_array
from gateway.seed.vocab import PLACES

NO_EMAIL_SHARE = 0.08
BILLING_SAME_SHARE = 0.80  # billing address = service address
BILLING_SAME_CITY_SHARE = 0.93  # else a PO box in the same city, else elsewhere

_IDS = "generate_series($1::bigint, $2::bigint) AS id"


def _name_parts(c: Customers) -> dict[str, str]:
    d = c.d
    n_first, n_last, n_kind = len(vocab.FIRST_NAMES), len(vocab.LAST_NAMES), len(vocab.BUSINESS_KINDS)
    # The same draw name indexes a list and its slugs, so they stay aligned.
    return {
        "first": d.pick("first", "id", text_array(vocab.FIRST_NAMES), n_first),
        "last": d.pick("last", "id", text_array(vocab.LAST_NAMES), n_last),
        "kind": d.pick("kind", "id", text_array(vocab.BUSINESS_KINDS), n_kind),
        "first_slug": d.pick("first", "id", text_array(map(vocab.slug, vocab.FIRST_NAMES)), n_first),
        "last_slug": d.pick("last", "id", text_array(map(vocab.slug, vocab.LAST_NAMES)), n_last),
        "kind_slug": d.pick("kind", "id", text_array(map(vocab.slug, vocab.BUSINESS_KINDS)), n_kind),
    }


def customers_sql(c: Customers) -> str:
    """Customers: account number from the id, ~20% business, ~5% terminated, ~25% unlisted."""
    n = _name_parts(c)
    unlisted = f"{c.d.unit('unlisted', 'id')} < {c.UNLISTED_SHARE}"
    return f"""
        INSERT INTO customers (id, account_number, segment, status, name, listed_phone, created_at)
        SELECT id,
               'ACC-' || lpad(id::text, 8, '0'),
               {c.segment('id')},
               CASE WHEN {c.terminated('id')} THEN 'TERMINATED' ELSE 'ACTIVE' END,
               CASE WHEN {c.business('id')} THEN {n['last']} || ' ' || {n['kind']}
                    ELSE {n['first']} || ' ' || {n['last']} END,
               CASE WHEN {unlisted} THEN NULL ELSE {c.phone('id')} END,
               {c.created_at('id')}
        FROM {_IDS}
    """


def contacts_sql(c: Customers) -> str:
    """Contacts: the (possibly non-published) number always, an e-mail for most."""
    n = _name_parts(c)
    domain = c.d.pick("domain", "id", text_array(vocab.EMAIL_DOMAINS), len(vocab.EMAIL_DOMAINS))
    # The id in the address keeps e-mails unique, as a lookup key should be.
    return f"""
        INSERT INTO customer_contacts (customer_id, email, contact_phone)
        SELECT id,
               CASE WHEN {c.d.unit('no_email', 'id')} < {NO_EMAIL_SHARE} THEN NULL
                    WHEN {c.business('id')}
                    THEN 'ap.' || id || '@' || {n['last_slug']} || '-' || {n['kind_slug']} || '.example.com'
                    ELSE {n['first_slug']} || '.' || {n['last_slug']} || '.' || id || '@' || {domain} END,
               {c.phone('id')}
        FROM {_IDS}
    """


def addresses_sql(c: Customers) -> str:
    """A SERVICE and a BILLING address per customer; most bill where they live."""
    d = c.d
    cities, states = text_array(p.city for p in PLACES), text_array(p.state for p in PLACES)
    zips = int_array(p.zip_code for p in PLACES)
    street = (
        f"(1 + {d.below('house', 'id', 9899)})::text || ' ' || "
        f"{d.pick('street', 'id', text_array(vocab.STREETS), len(vocab.STREETS))} || ' ' || "
        f"{d.pick('suffix', 'id', text_array(vocab.STREET_SUFFIXES), len(vocab.STREET_SUFFIXES))}"
    )
    elsewhere = c.place("id", draw="billing_place")
    return f"""
        WITH c AS MATERIALIZED (
            SELECT id, home, b, {street} AS street,
                   CASE WHEN b < {BILLING_SAME_CITY_SHARE} THEN home ELSE {elsewhere} END AS bill,
                   ({zips})[home] + {d.below('zip', 'id', 40)} AS zip
            FROM (SELECT id, {c.place('id')} AS home, {d.unit('billing', 'id')} AS b
                  FROM {_IDS}) AS p
        )
        INSERT INTO addresses (customer_id, kind, line1, city, state, postal_code)
        SELECT id, 'SERVICE', street, ({cities})[home], ({states})[home], lpad(zip::text, 5, '0')
        FROM c
        UNION ALL
        SELECT id, 'BILLING',
               CASE WHEN b < {BILLING_SAME_SHARE} THEN street
                    ELSE 'PO Box ' || (100 + {d.below('po_box', 'id', 9900)}) END,
               ({cities})[bill], ({states})[bill],
               CASE WHEN b < {BILLING_SAME_SHARE} THEN lpad(zip::text, 5, '0')
                    ELSE lpad((({zips})[bill] + {d.below('po_zip', 'id', 40)})::text, 5, '0') END
        FROM c
    """


def payment_methods_sql(c: Customers) -> str:
    """Payment instruments: kind and last four digits only (none for INVOICE)."""
    return f"""
        INSERT INTO payment_methods (customer_id, kind, last4)
        SELECT id, kind,
               CASE WHEN kind <> 'INVOICE' THEN lpad({c.d.below('last4', 'id', 10000)}::text, 4, '0') END
        FROM (
            SELECT id,
                   CASE WHEN biz THEN CASE WHEN u < 0.5 THEN 'INVOICE' WHEN u < 0.8 THEN 'BANK_ACCOUNT'
                                           ELSE 'CARD' END
                        ELSE CASE WHEN u < 0.6 THEN 'CARD' WHEN u < 0.9 THEN 'BANK_ACCOUNT'
                                  ELSE 'INVOICE' END END AS kind
            FROM (SELECT id, {c.business('id')} AS biz, {c.d.unit('payment', 'id')} AS u
                  FROM {_IDS} OFFSET 0) AS p
        ) AS k
    """
