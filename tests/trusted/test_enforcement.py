"""Trusted documents over HTTP (SPEC 4): each division runs only what is registered for it."""

from __future__ import annotations

import hashlib
from typing import Any

import asyncpg
import httpx

from gateway.audit.verify import verify_chain
from gateway.trusted import document_id
from tests.e2e.conftest import Gateway
from tests.factories import make_customer
from tests.trusted.conftest import BILLING_BALANCE, CARE_CUSTOMER, CARE_CUSTOMER_REFORMATTED, UNREGISTERED


async def post(gw: Gateway, division: str, body: dict[str, Any]) -> httpx.Response:
    return await gw.client.post("/graphql", json=body, headers={"Authorization": f"Bearer {gw.token(division)}"})


async def events_of(pool: asyncpg.Pool, response: httpx.Response) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT chain, customer_id, operation_name, disclosed, denied, document_id, document_trust"
        " FROM audit_events WHERE request_id = $1 ORDER BY id",
        response.headers["x-request-id"],
    )


async def test_a_registered_document_runs_when_sent_as_text(enforcing: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool)
    response = await post(enforcing, "customer_care", {"query": CARE_CUSTOMER, "variables": {"id": str(made.id)}})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["customer"]["email"] == f"c{made.id}@example.test"
    [event] = await events_of(pool, response)
    assert (event["customer_id"], event["document_id"], event["document_trust"]) == (
        made.id, document_id(CARE_CUSTOMER), "REGISTERED"
    )


async def test_a_registered_document_runs_when_sent_by_id(enforcing: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool)
    body = {"documentId": document_id(CARE_CUSTOMER), "variables": {"id": str(made.id)}}
    response = await post(enforcing, "customer_care", body)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["customer"]["name"] == f"Test Customer {made.id}"
    [event] = await events_of(pool, response)
    assert (event["operation_name"], event["document_trust"]) == ("CareCustomer", "REGISTERED")


async def test_apollo_persisted_query_hash_names_a_registered_document(enforcing: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool)
    digest = document_id(CARE_CUSTOMER).removeprefix("sha256:")
    body = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}, "variables": {"id": str(made.id)}}
    response = await post(enforcing, "customer_care", body)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["customer"]["id"] == str(made.id)


async def test_whitespace_and_comments_do_not_change_the_id(enforcing: Gateway, pool: asyncpg.Pool) -> None:
    assert document_id(CARE_CUSTOMER_REFORMATTED) == document_id(CARE_CUSTOMER)
    assert document_id(UNREGISTERED) != document_id(CARE_CUSTOMER)
    made = await make_customer(pool)
    body = {"query": CARE_CUSTOMER_REFORMATTED, "variables": {"id": str(made.id)}}
    response = await post(enforcing, "customer_care", body)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["customer"]["id"] == str(made.id)


async def test_an_unregistered_document_is_refused_before_anything_is_read(
    enforcing: Gateway, pool: asyncpg.Pool
) -> None:
    made = await make_customer(pool)
    body = {"query": UNREGISTERED, "variables": {"id": str(made.id)}, "operationName": "Exfiltrate"}
    response = await post(enforcing, "customer_care", body)
    assert response.status_code == 400
    payload = response.json()
    assert "data" not in payload
    assert [e["extensions"]["code"] for e in payload["errors"]] == ["OPERATION_NOT_REGISTERED"]
    # Audited: who sent which document; no customer was read, nothing disclosed or denied.
    [event] = await events_of(pool, response)
    assert dict(event) | {"chain": None} == {
        "chain": None,
        "customer_id": None,
        "operation_name": "Exfiltrate",
        "disclosed": [],
        "denied": [],
        "document_id": document_id(UNREGISTERED),
        "document_trust": "REFUSED",
    }
    assert await pool.fetchval("SELECT count(*) FROM audit_events WHERE customer_id = $1", made.id) == 0
    checked = await verify_chain(pool, event["chain"], from_checkpoint=False, record=False)
    assert checked.broken is None


async def test_an_unparsable_document_is_refused_as_not_registered(enforcing: Gateway) -> None:
    response = await post(enforcing, "customer_care", {"query": "{ customer(id: "})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "OPERATION_NOT_REGISTERED"


async def test_an_unregistered_document_id_is_not_found(enforcing: Gateway) -> None:
    unknown = "sha256:" + hashlib.sha256(b"never registered").hexdigest()
    response = await post(enforcing, "customer_care", {"documentId": unknown})
    assert response.status_code == 400
    assert "data" not in response.json()
    assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_DOCUMENT_NOT_FOUND"


async def test_a_malformed_document_id_is_a_bad_request(enforcing: Gateway) -> None:
    response = await post(enforcing, "customer_care", {"documentId": "md5:abc"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_document_of_another_division_is_refused_by_text_and_by_id(
    enforcing: Gateway, pool: asyncpg.Pool
) -> None:
    made = await make_customer(pool)
    variables = {"id": str(made.id)}
    # billing_collections may send it ...
    allowed = await post(enforcing, "billing_collections", {"query": BILLING_BALANCE, "variables": variables})
    assert allowed.status_code == 200, allowed.text
    # ... customer care may not, however it names it.
    for body in ({"query": BILLING_BALANCE}, {"documentId": document_id(BILLING_BALANCE)}):
        refused = await post(enforcing, "customer_care", {**body, "variables": variables})
        assert refused.status_code == 400, refused.text
        assert refused.json()["errors"][0]["extensions"]["code"] == "OPERATION_NOT_REGISTERED"
        [event] = await events_of(pool, refused)
        assert (event["document_id"], event["document_trust"]) == (document_id(BILLING_BALANCE), "REFUSED")


async def test_query_and_document_id_must_agree(enforcing: Gateway) -> None:
    body = {"query": CARE_CUSTOMER, "documentId": document_id(BILLING_BALANCE)}
    response = await post(enforcing, "customer_care", body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_registered_documents_are_prepared_at_startup(enforcing: Gateway, pool: asyncpg.Pool) -> None:
    assert enforcing.app is not None
    endpoint = enforcing.app.state.runtime.endpoint
    assert document_id(CARE_CUSTOMER) in endpoint.trusted.prepared
    made = await make_customer(pool)
    cached, planned = len(endpoint.documents.cache), endpoint.planner.counts["planned"]
    response = await post(enforcing, "customer_care", {"query": CARE_CUSTOMER, "variables": {"id": str(made.id)}})
    assert response.status_code == 200, response.text
    # Neither parsed nor validated for this request (the request cache is untouched), and planned.
    assert len(endpoint.documents.cache) == cached
    assert endpoint.planner.counts["planned"] == planned + 1


async def test_log_mode_runs_an_unregistered_document_and_marks_its_events(
    logging_: Gateway, pool: asyncpg.Pool
) -> None:
    made = await make_customer(pool)
    response = await post(logging_, "customer_care", {"query": UNREGISTERED, "variables": {"id": str(made.id)}})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["customer"]["id"] == str(made.id)
    # The answer says it would have been refused under enforce.
    assert response.json()["extensions"] == {
        "trustedDocuments": {"registered": False, "whenEnforced": "OPERATION_NOT_REGISTERED"}
    }
    [event] = await events_of(pool, response)
    assert (event["customer_id"], event["document_id"], event["document_trust"]) == (
        made.id, document_id(UNREGISTERED), "UNREGISTERED"
    )
    registered = await post(logging_, "customer_care", {"query": CARE_CUSTOMER, "variables": {"id": str(made.id)}})
    assert "extensions" not in registered.json()
    [marked] = await events_of(pool, registered)
    assert marked["document_trust"] == "REGISTERED"
    # Another division's document runs too under log, marked as not registered for this one.
    other = await post(logging_, "customer_care", {"documentId": document_id(BILLING_BALANCE), "variables": {"id": str(made.id)}})
    assert other.status_code == 200, other.text
    assert [e["document_trust"] for e in await events_of(pool, other)] == ["UNREGISTERED"]
    for e in (event, marked):
        assert (await verify_chain(pool, e["chain"], from_checkpoint=False, record=False)).broken is None


async def test_off_mode_runs_anything_and_records_no_mark(unchecked: Gateway, pool: asyncpg.Pool) -> None:
    made = await make_customer(pool)
    response = await post(unchecked, "customer_care", {"query": UNREGISTERED, "variables": {"id": str(made.id)}})
    assert response.status_code == 200, response.text
    [event] = await events_of(pool, response)
    assert (event["document_id"], event["document_trust"]) == (None, None)
    # A registered id still resolves to its text.
    by_id = await post(unchecked, "customer_care", {"documentId": document_id(CARE_CUSTOMER), "variables": {"id": str(made.id)}})
    assert by_id.status_code == 200, by_id.text
    assert by_id.json()["data"]["customer"]["id"] == str(made.id)



async def test_the_shipped_registry_runs_the_tour_and_refuses_anything_else(shipped: Gateway) -> None:
    from gateway.graphiql.tour import TOUR  # noqa: PLC0415

    care, directory = TOUR[0], TOUR[1]
    ran = await shipped.query(directory.query, division="dex_directory", purpose="directory_publishing")
    assert ran.status_code == 200, ran.text
    # The directory publisher sending customer care's step: not reviewed for it.
    refused = await shipped.query(care.query, division="dex_directory", purpose="directory_publishing")
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "OPERATION_NOT_REGISTERED"
