"""One worker of many polls Telegram: a PostgreSQL advisory lock on the real server."""

from __future__ import annotations

import secrets

import pytest

from bot.gateway.leader import Leadership
from tests.support.databases import PG_ADMIN_URL

pytestmark = pytest.mark.integration


async def test_one_holder_and_a_successor_when_it_goes() -> None:
    name = f"test-{secrets.token_hex(6)}"  # this run's own lock
    first, second = Leadership(PG_ADMIN_URL, name), Leadership(PG_ADMIN_URL, name)
    try:
        assert await first.try_take()
        assert await first.try_take()  # already held: still ours
        assert not await second.try_take()
        assert first.held and not second.held
        await first.give_up()  # or the worker died: its connection closed
        assert await second.try_take() and second.held
        assert not await first.try_take()
    finally:
        await first.give_up()
        await second.give_up()


async def test_another_name_is_another_lock() -> None:
    one = Leadership(PG_ADMIN_URL, f"test-{secrets.token_hex(6)}")
    two = Leadership(PG_ADMIN_URL, f"test-{secrets.token_hex(6)}")
    try:
        assert await one.try_take() and await two.try_take()
    finally:
        await one.give_up()
        await two.give_up()


async def test_without_a_database_it_waits_instead_of_failing() -> None:
    nowhere = Leadership("postgresql+psycopg://127.0.0.1:1/none", "x")
    assert not await nowhere.try_take()
