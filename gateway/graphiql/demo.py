"""The callers GraphiQL's picker offers under ``serve --demo``: one token per division.

Outside ``--demo`` there are none, and the page carries no token. The
server issues the tokens once (the same ones its banner prints) and hands
them to its worker processes in :data:`ENV`; the app never signs a token
itself, so no setting can make a production gateway hand tokens out.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass

ENV = "CPNI_GATEWAY_DEMO_CALLERS"  # set by `serve --demo` for its own workers only


@dataclass(frozen=True)
class DemoCaller:
    division: str
    purposes: tuple[str, ...]
    token: str


@dataclass(frozen=True)
class DemoCampaign:
    id: str
    division: str
    purpose: str


@dataclass(frozen=True)
class Demo:
    callers: tuple[DemoCaller, ...]
    campaigns: tuple[DemoCampaign, ...] = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Demo:
        raw = json.loads(text)
        return cls(
            tuple(DemoCaller(c["division"], tuple(c["purposes"]), c["token"]) for c in raw["callers"]),
            tuple(DemoCampaign(c["id"], c["division"], c["purpose"]) for c in raw["campaigns"]),
        )


def demo_from_env(env: Mapping[str, str] | None = None) -> Demo | None:
    text = (os.environ if env is None else env).get(ENV)
    return Demo.from_json(text) if text else None
