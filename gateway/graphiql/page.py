"""``GET /graphql`` in a browser and ``GET /graphiql/<file>``: the explorer, every byte from here.

The page loads React, ReactDOM and GraphiQL from the gateway (pinned and
checked by ``assets.py``, each ``<script>`` with its integrity hash), then
``explorer.js``, which mounts GraphiQL with the tour's tabs and, under
``--demo``, the caller picker. Its Content-Security-Policy allows nothing
but this origin, so a missing asset can never fall back to a CDN.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from html import escape
from pathlib import Path
from typing import Any

from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

from gateway.graphiql.assets import DEFAULT_DEST, MANIFEST, missing
from gateway.graphiql.demo import Demo
from gateway.graphiql.tour import TOUR
from gateway.schema.categories import POLICY_ROW

HERE = Path(__file__).resolve().parent
OWN = {"explorer.js": "text/javascript", "explorer.css": "text/css"}
THIRD_PARTY = {
    "react.production.min.js": "text/javascript",
    "react-dom.production.min.js": "text/javascript",
    "graphiql.min.js": "text/javascript",
    "graphiql.min.css": "text/css",
}
SCRIPTS = ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js", "explorer.js")
STYLES = ("graphiql.min.css", "explorer.css")

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
NO_ASSETS = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CPNI Gateway: GraphiQL unavailable</title></head>
<body style="font-family: sans-serif; max-width: 44rem; margin: 3rem auto">
<h1>GraphiQL's assets are not installed</h1>
<p>This installation has no GraphiQL bundle: it is fetched (pinned, checked) when the wheel is built,
and this copy was built without network or from a development checkout made before the assets existed.</p>
<p>Fetch them once, in the checkout: <code>python -m gateway.graphiql.assets</code>
(or reinstall: <code>pip install -e '.[test]'</code>), then reload this page.</p>
<p>The API works meanwhile: <code>POST /graphql</code>; the policy matrix is at <a href="/policy">/policy</a>.</p>
</body></html>
"""


def _integrity() -> dict[str, str]:
    """File name -> SRI hash: the manifest's pins, and ours computed from the files."""
    return _hashes(DEFAULT_DEST)


@cache
def _hashes(dest: Path) -> dict[str, str]:
    manifest = json.loads((dest / MANIFEST).read_text())
    hashes = {name: entry["integrity"] for name, entry in manifest.items()}
    for name in OWN:
        hashes[name] = sri_of((HERE / name).read_bytes())
    return hashes


def sri_of(data: bytes) -> str:
    """The ``integrity`` attribute of a file: ``sha384-<base64>``."""
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def page(demo: Demo | None, *, graphql_url: str = "/graphql") -> Response:
    """The explorer; the fallback page (503) when the assets are missing."""
    if missing(DEFAULT_DEST):
        return HTMLResponse(NO_ASSETS, status_code=503, headers={"Cache-Control": "no-store"})
    integrity = _integrity()
    tags = [f'<link rel="stylesheet" href="{_url(n, integrity)}" integrity="{integrity[n]}">' for n in STYLES]
    tags += [f'<script src="{_url(n, integrity)}" integrity="{integrity[n]}" defer></script>' for n in SCRIPTS]
    config = _config(demo, graphql_url)
    # JSON inside <script type="application/json">: "<" escaped so no text can close the tag.
    data = json.dumps(config).replace("<", "\\u003c")
    html = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>CPNI Gateway: GraphiQL</title>
<link rel="icon" href="data:,">
{chr(10).join(tags)}
</head>
<body>
<div id="graphiql"><noscript>GraphiQL needs JavaScript.</noscript></div>
<script type="application/json" id="cpni-explorer-config">{data}</script>
</body>
</html>
"""
    headers = {"Content-Security-Policy": CSP, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    return HTMLResponse(html, headers=headers)


def asset(name: str) -> Response:
    """One of the explorer's files; 404 for anything else (no path is ever joined from the URL)."""
    if name in OWN:
        path, media_type = HERE / name, OWN[name]
    elif name in THIRD_PARTY:
        path, media_type = DEFAULT_DEST / name, THIRD_PARTY[name]
    else:
        return PlainTextResponse("not found\n", status_code=404)
    if not path.is_file():
        return PlainTextResponse("not installed: see GET /graphql\n", status_code=404)
    # URLs carry the file's hash (?v=), so a cached copy is never stale.
    headers = {"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"}
    return FileResponse(path, media_type=media_type, headers=headers)


def _url(name: str, integrity: dict[str, str]) -> str:
    version = hashlib.sha256(integrity[name].encode()).hexdigest()[:12]
    return f"/graphiql/{escape(name)}?v={version}"


def _config(demo: Demo | None, graphql_url: str) -> dict[str, Any]:
    tabs = [
        {
            "title": step.title,
            "query": f"# Tour {step.title}: as {step.division}, purpose {step.purpose}\n{step.query}",
            "division": step.division,
            "purpose": step.purpose,
            "campaign": step.campaign,
            "strict": step.strict,
        }
        for step in TOUR
    ]
    config: dict[str, Any] = {"url": graphql_url, "policyRow": POLICY_ROW, "tour": tabs, "demo": None}
    if demo is not None:
        config["demo"] = {
            "callers": [{"division": c.division, "purposes": list(c.purposes), "token": c.token} for c in demo.callers],
            "campaigns": [{"id": c.id, "division": c.division, "purpose": c.purpose} for c in demo.campaigns],
        }
    return config
