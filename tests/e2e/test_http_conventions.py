"""Headers and media types that say what to do (SPEC 4, GraphQL over HTTP)."""

from __future__ import annotations

from gateway.authz.model import Purpose
from tests.e2e.conftest import Gateway

ME = "{ me { division purpose } }"


def _error(response_json: dict[str, object]) -> dict[str, object]:
    errors = response_json["errors"]
    assert isinstance(errors, list)
    first: dict[str, object] = errors[0]
    return first


async def test_an_unknown_purpose_is_bad_input_listing_the_valid_values(gateway: Gateway) -> None:
    response = await gateway.query(ME, division="customer_care", purpose="custmer_care")
    assert response.status_code == 400
    error = _error(response.json())
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert error["message"] == "X-Purpose is not a purpose; valid values: " + ", ".join(p.value for p in Purpose)
    assert "data" not in response.json()


async def test_a_real_purpose_the_token_lacks_is_still_not_allowed(gateway: Gateway) -> None:
    response = await gateway.query(ME, division="customer_care", purpose="marketing_cross_category")
    assert response.status_code == 403
    assert _error(response.json())["extensions"] == {"code": "PURPOSE_NOT_ALLOWED"}


async def test_an_unknown_authz_mode_is_refused_not_silently_the_default(gateway: Gateway) -> None:
    for mode in ("strct", "lenient", "strict, partial"):
        response = await gateway.query(ME, division="customer_care", headers={"X-Authz-Mode": mode})
        assert response.status_code == 400, mode
        error = _error(response.json())
        assert error["extensions"] == {"code": "BAD_USER_INPUT"}
        assert "`strict`" in str(error["message"]) and "`partial`" in str(error["message"])
    for mode in ("strict", "STRICT", "partial", ""):
        response = await gateway.query(ME, division="customer_care", headers={"X-Authz-Mode": mode})
        assert response.status_code == 200, mode


async def test_a_syntax_error_carries_its_line_and_column(gateway: Gateway) -> None:
    response = await gateway.query("{\n  me {\n    division\n  ", division="customer_care")
    assert response.status_code == 400
    error = _error(response.json())
    assert error["extensions"] == {"code": "GRAPHQL_PARSE_FAILED"}
    assert error["locations"] == [{"line": 4, "column": 3}]
    assert str(error["message"]).startswith("Syntax Error: ")


async def test_a_validation_error_points_at_the_field(gateway: Gateway) -> None:
    response = await gateway.query("{\n  me { divisoin }\n}", division="customer_care")
    assert response.status_code == 400
    error = _error(response.json())
    assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert error["locations"] == [{"line": 2, "column": 8}]


async def _content_type(gateway: Gateway, accept: str | None, query: str = ME) -> str:
    headers = {"Authorization": f"Bearer {gateway.token('customer_care')}"}
    if accept is not None:
        headers["Accept"] = accept
    response = await gateway.client.post("/graphql", json={"query": query}, headers=headers)
    assert response.headers["vary"] == "Accept"
    return response.headers["content-type"]


async def test_the_answer_is_in_the_media_type_the_client_asks_for(gateway: Gateway) -> None:
    graphql_response = "application/graphql-response+json; charset=utf-8"
    json_ = "application/json; charset=utf-8"
    assert await _content_type(gateway, "application/graphql-response+json") == graphql_response
    assert await _content_type(gateway, "application/graphql-response+json, application/json") == graphql_response
    assert await _content_type(gateway, "application/json;q=0.9, application/graphql-response+json") == graphql_response
    assert await _content_type(gateway, "application/graphql-response+json;q=0.5, application/json") == json_
    assert await _content_type(gateway, None) == json_
    assert await _content_type(gateway, "*/*") == json_
    assert await _content_type(gateway, "text/plain") == json_
    # Refusals too: a parse failure under graphql-response+json is 400 with that type, no data.
    assert await _content_type(gateway, "application/graphql-response+json", "{") == graphql_response


async def test_extensions_must_be_an_object(gateway: Gateway) -> None:
    headers = {"Authorization": f"Bearer {gateway.token('customer_care')}"}
    for bad in ("x", 1, [1]):
        response = await gateway.client.post("/graphql", json={"query": ME, "extensions": bad}, headers=headers)
        assert response.status_code == 400
    ok = await gateway.client.post("/graphql", json={"query": ME, "extensions": {"a": 1}}, headers=headers)
    assert ok.status_code == 200
