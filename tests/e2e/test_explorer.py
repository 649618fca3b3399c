"""GraphiQL's page, its files, the schema file and the root redirect, over HTTP (SPEC 4)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from gateway.app import create_app
from gateway.config import Settings
from gateway.db import gateway_login_url
from gateway.graphiql import page as graphiql_page
from gateway.graphiql.assets import fetch, missing
from gateway.graphiql.demo import Demo, DemoCaller, DemoCampaign
from gateway.graphiql.tour import TOUR
from gateway.schema.sdl import schema_sdl
from tests.e2e.conftest import Gateway

BROWSER = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture(scope="module", autouse=True)
def assets() -> None:
    if missing():
        fetch()  # a checkout installed before the build hook fetched them


def _config(html: str) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="cpni-explorer-config">(.*?)</script>', html, re.S)
    assert found is not None
    config: dict[str, object] = json.loads(found.group(1))
    return config


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def demo_client(settings: Settings, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    demo = Demo(
        (DemoCaller("wireless", ("marketing_same_category", "provisioning"), "eyJ.demo-token.wireless"),),
        (DemoCampaign("demo-wireless-upgrade", "wireless", "marketing_same_category"),),
    )
    app = create_app(settings, database_url=await gateway_login_url(database_url), demo=demo)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield client


async def test_outside_demo_the_page_has_the_tour_and_no_token(gateway: Gateway) -> None:
    page = await gateway.client.get("/graphql", headers=BROWSER)
    assert page.status_code == 200
    config = _config(page.text)
    assert config["demo"] is None
    assert "eyJ" not in page.text
    assert [tab["title"] for tab in config["tour"]] == [step.title for step in TOUR]  # type: ignore[attr-defined]


async def test_under_demo_the_page_offers_each_division_its_token_and_campaigns(
    demo_client: httpx.AsyncClient,
) -> None:
    config = _config((await demo_client.get("/graphql", headers=BROWSER)).text)
    assert config["demo"] == {
        "callers": [{"division": "wireless", "purposes": ["marketing_same_category", "provisioning"],
                     "token": "eyJ.demo-token.wireless"}],
        "campaigns": [{"id": "demo-wireless-upgrade", "division": "wireless", "purpose": "marketing_same_category"}],
    }


async def test_every_asset_is_served_by_the_gateway_with_its_pinned_hash(gateway: Gateway) -> None:
    page = (await gateway.client.get("/graphql", headers=BROWSER)).text
    tags = re.findall(r'(?:src|href)="(/graphiql/[^"?]+)\?v=[0-9a-f]+" integrity="(sha384-[^"]+)"', page)
    assert len(tags) == 6
    for url, integrity in tags:
        answer = await gateway.client.get(url)
        assert answer.status_code == 200, url
        assert "immutable" in answer.headers["cache-control"]
        assert graphiql_page.sri_of(answer.content) == integrity, url


async def test_only_the_explorers_own_files_are_served(gateway: Gateway) -> None:
    for name in ("manifest.json", "..%2Fpage.py", "assets.py", "graphiql.LICENSE.js"):
        assert (await gateway.client.get(f"/graphiql/{name}")).status_code == 404


async def test_without_its_assets_the_page_says_how_to_fetch_them(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(graphiql_page, "DEFAULT_DEST", tmp_path)
    page = await gateway.client.get("/graphql", headers=BROWSER)
    assert page.status_code == 503
    assert "python -m gateway.graphiql.assets" in page.text
    assert str(tmp_path) not in page.text  # no file path in a response


async def test_the_schema_file_is_the_sdl_with_categories_for_authenticated_callers(gateway: Gateway) -> None:
    anonymous = await gateway.client.get("/graphql/schema.graphql")
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    bad = await gateway.client.get("/graphql/schema.graphql", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    token = gateway.token("customer_care")
    sdl = await gateway.client.get("/graphql/schema.graphql", headers={"Authorization": f"Bearer {token}"})
    assert sdl.status_code == 200
    assert sdl.headers["content-type"].startswith("application/graphql")
    assert sdl.text == schema_sdl()
    assert "cellSite: String @category(name: LOCATION" in sdl.text


async def test_the_root_redirects_to_the_explorer(gateway: Gateway) -> None:
    root = await gateway.client.get("/")
    assert root.status_code in (302, 307)
    assert root.headers["location"] == "/graphql"


async def test_graphiql_can_be_switched_off(settings: Settings, database_url: str) -> None:
    app = create_app(replace(settings, graphiql=False), database_url=await gateway_login_url(database_url))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            assert (await client.get("/graphql", headers=BROWSER)).status_code == 400
            assert (await client.get("/graphiql/graphiql.min.js")).status_code == 404
