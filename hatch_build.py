"""Hatch build hook: GraphiQL's pinned assets go into every wheel (editable installs too).

Runs ``gateway/graphiql/assets.py`` (standard library only, loaded by path:
the package's dependencies are not installed in the build environment),
which downloads the pinned npm tarballs once, checks them against their
pinned hashes and writes the files into ``gateway/graphiql/static/``
(ignored by git, shipped as a wheel artifact). Without network the build
still succeeds with a warning, and the page says how to fetch them later;
set ``CPNI_GATEWAY_REQUIRE_ASSETS=1`` (releases, CI) to make that an error.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class GraphiQLAssetsHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "graphiql-assets"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        path = Path(self.root) / "gateway" / "graphiql" / "assets.py"
        spec = importlib.util.spec_from_file_location("_cpni_graphiql_assets", path)
        assert spec is not None and spec.loader is not None
        assets = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = assets  # dataclasses look their module up
        spec.loader.exec_module(assets)
        try:
            assets.fetch()
        except assets.AssetError as exc:
            if os.environ.get("CPNI_GATEWAY_REQUIRE_ASSETS") == "1":
                raise
            print(f"warning: GraphiQL assets not fetched ({exc}); GET /graphql will say how", file=sys.stderr)
