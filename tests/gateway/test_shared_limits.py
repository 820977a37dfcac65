"""Rate limits and stream caps shared through the real Redis (127.0.0.1:6379),
each test under a key prefix of its own, as two gateway workers would share them."""

from __future__ import annotations

import os

import pytest

from bot.gateway.ratelimit import RateLimiter, storage_for
from bot.gateway.streamcaps import RedisStreamCaps, StreamCaps

pytestmark = pytest.mark.integration
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def test_a_hit_on_one_worker_counts_on_the_other(prefix: str) -> None:
    one = RateLimiter(3, 60, storage=storage_for(REDIS_URL, prefix))
    two = RateLimiter(3, 60, storage=storage_for(REDIS_URL, prefix))
    assert await one.hit("visitor:1.2.3.4") is None
    assert await two.hit("visitor:1.2.3.4") is None
    assert await one.hit("visitor:1.2.3.4") is None
    refused = await two.hit("visitor:1.2.3.4")
    assert refused is not None and 0 < refused <= 60
    assert await one.hit("visitor:5.6.7.8") is None  # another visitor's budget


async def test_rate_limit_without_redis_lets_people_through(prefix: str) -> None:
    # nothing listens there: a Redis outage must not turn everyone away
    dead = RateLimiter(1, 60, storage=storage_for("redis://127.0.0.1:1/0", prefix))
    assert await dead.hit("visitor:a") is None
    assert await dead.hit("visitor:a") is None


async def test_stream_caps_are_shared_and_places_come_back(prefix: str) -> None:
    one = RedisStreamCaps(3, REDIS_URL, prefix)
    two = RedisStreamCaps(3, REDIS_URL, prefix)
    places = [await one.take("conv"), await two.take("conv"), await one.take("conv")]
    assert all(places)
    assert await two.take("conv") is None and await one.take("conv") is None
    assert await two.take("other") is not None  # per conversation
    await one.give_back(places[1])  # taken on two, given back anywhere
    again = await two.take("conv")
    assert again is not None
    await two.renew(again)
    assert await one.take("conv") is None


async def test_a_dead_workers_places_lapse(prefix: str) -> None:
    dead = RedisStreamCaps(2, REDIS_URL, prefix, ttl_s=-1)  # already lapsed
    assert await dead.take("conv") and await dead.take("conv")
    alive = RedisStreamCaps(2, REDIS_URL, prefix)
    assert await alive.take("conv") is not None
    assert await alive.take("conv") is not None
    assert await alive.take("conv") is None


async def test_in_process_caps() -> None:
    caps = StreamCaps(2)
    a, b = await caps.take("c"), await caps.take("c")
    assert a and b and await caps.take("c") is None
    await caps.give_back(a)
    assert await caps.take("c") is not None
