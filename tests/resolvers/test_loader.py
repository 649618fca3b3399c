"""The per-request DataLoader: keys asked for together load in one batch."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from gateway.resolvers.loader import DataLoader


def recording() -> tuple[list[list[int]], DataLoader[int, int]]:
    calls: list[list[int]] = []

    async def batch(keys: Sequence[int]) -> list[int]:
        calls.append(list(keys))
        return [k * 10 for k in keys]

    return calls, DataLoader(batch)


async def test_keys_of_one_tick_load_in_one_batch() -> None:
    calls, loader = recording()
    assert await asyncio.gather(loader.load(1), loader.load(2), loader.load(3)) == [10, 20, 30]
    assert calls == [[1, 2, 3]]


async def test_keys_reached_after_different_numbers_of_awaits_still_batch() -> None:
    calls, loader = recording()

    async def after(awaits: int, key: int) -> int:
        for _ in range(awaits):
            await asyncio.sleep(0)
        return await loader.load(key)

    assert await asyncio.gather(after(0, 1), after(2, 2), after(5, 3)) == [10, 20, 30]
    assert calls == [[1, 2, 3]]


async def test_a_key_is_loaded_once_per_loader() -> None:
    calls, loader = recording()
    await asyncio.gather(loader.load(7), loader.load(7))
    await loader.load(7)
    assert calls == [[7]]


async def test_a_failed_batch_fails_its_keys_and_can_be_retried() -> None:
    attempts: list[list[int]] = []

    async def flaky(keys: Sequence[int]) -> list[int]:
        attempts.append(list(keys))
        if len(attempts) == 1:
            raise ConnectionError("database went away")
        return list(keys)

    loader: DataLoader[int, int] = DataLoader(flaky)
    with pytest.raises(ConnectionError):
        await loader.load(1)
    assert await loader.load(1) == 1
    assert attempts == [[1], [1]]
