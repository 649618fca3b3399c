"""The per-request DataLoader: keys asked for together load in one batch, on asyncio and on uvloop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

import pytest
import uvloop

from gateway.resolvers.loader import WAVE_ITERATIONS, DataLoader

# `serve` runs uvloop; tests and `uvicorn --loop asyncio` run asyncio's own loop.
LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}

Run = Callable[[Callable[[], Awaitable[Any]]], Any]


@pytest.fixture(params=sorted(LOOPS))
def run(request: pytest.FixtureRequest) -> Iterator[Run]:
    """Runs a scenario on a fresh event loop of each kind."""
    with asyncio.Runner(loop_factory=LOOPS[request.param]) as runner:
        yield lambda scenario: runner.run(scenario())


def recording() -> tuple[list[list[int]], DataLoader[int, int]]:
    calls: list[list[int]] = []

    async def batch(keys: Sequence[int]) -> list[int]:
        calls.append(list(keys))
        return [k * 10 for k in keys]

    return calls, DataLoader(batch)


async def after(awaits: int, loader: DataLoader[int, int], key: int) -> int:
    for _ in range(awaits):
        await asyncio.sleep(0)
    return await loader.load(key)


def test_keys_of_one_tick_load_in_one_batch(run: Run) -> None:
    calls, loader = recording()

    async def scenario() -> list[int]:
        return await asyncio.gather(loader.load(1), loader.load(2), loader.load(3))

    assert run(scenario) == [10, 20, 30]
    assert calls == [[1, 2, 3]]


def test_keys_reached_after_different_numbers_of_awaits_still_batch(run: Run) -> None:
    calls, loader = recording()

    async def scenario() -> list[int]:
        return await asyncio.gather(after(0, loader, 1), after(2, loader, 2), after(5, loader, 3))

    assert run(scenario) == [10, 20, 30]
    assert calls == [[1, 2, 3]]


def test_a_key_asked_for_after_the_wave_loads_in_the_next_batch(run: Run) -> None:
    calls, loader = recording()

    async def scenario() -> list[int]:
        return await asyncio.gather(after(0, loader, 1), after(2 * WAVE_ITERATIONS, loader, 2))

    assert run(scenario) == [10, 20]
    assert calls == [[1], [2]]


def test_a_key_is_loaded_once_per_loader(run: Run) -> None:
    calls, loader = recording()

    async def scenario() -> None:
        await asyncio.gather(loader.load(7), loader.load(7))
        await loader.load(7)

    run(scenario)
    assert calls == [[7]]


def test_a_failed_batch_fails_its_keys_and_can_be_retried(run: Run) -> None:
    attempts: list[list[int]] = []

    async def flaky(keys: Sequence[int]) -> list[int]:
        attempts.append(list(keys))
        if len(attempts) == 1:
            raise ConnectionError("database went away")
        return list(keys)

    loader: DataLoader[int, int] = DataLoader(flaky)

    async def scenario() -> int:
        with pytest.raises(ConnectionError):
            await loader.load(1)
        return await loader.load(1)

    assert run(scenario) == 1
    assert attempts == [[1], [1]]
