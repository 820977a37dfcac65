"""Sign-in boundaries found by probing a running stack: the failure count is
checked and recorded atomically, and the login page writes no row per visit."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette

from bot.console import auth
from bot.db.models import AdviserSession, LoginFailure
from bot.db.session import session_scope
from tests.console.conftest import BASE, login_form, make_adviser, post_login, sign_in

pytestmark = pytest.mark.integration


def _count(db_url: str, model: type[object]) -> int:
    with session_scope(db_url) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


async def test_thirty_concurrent_wrong_passwords_check_only_the_limit(
    app: Starlette, db_url: str
) -> None:
    make_adviser(db_url)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE
    ) as c:
        token = await login_form(c)

        async def wrong(i: int) -> int:
            r = await post_login(c, token, password=f"wrong password number {i}")
            return r.status_code

        codes = await asyncio.gather(*(wrong(i) for i in range(30)))
    # 400: the password was checked and wrong; 429: refused before checking
    assert 1 <= codes.count(400) <= auth.MAX_FAILURES, codes
    assert codes.count(400) + codes.count(429) == 30
    assert _count(db_url, LoginFailure) == codes.count(400)
    # the right password now: refused once the limit's failures are recorded
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE
    ) as c:
        r = await post_login(c, await login_form(c))
        full = codes.count(400) == auth.MAX_FAILURES
        assert r.status_code == (429 if full else 303), codes


async def test_login_page_visits_write_no_rows(
    app: Starlette, client: httpx.AsyncClient, db_url: str
) -> None:
    make_adviser(db_url)
    for _ in range(50):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE
        ) as fresh:
            assert (await fresh.get("/console/login")).status_code == 200
    assert _count(db_url, AdviserSession) == 0
    # the visitor's form still works, and only signing in makes a row
    await sign_in(client)
    assert _count(db_url, AdviserSession) == 1
    # a made-up or stale visitor cookie gives no usable CSRF token
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE
    ) as forged:
        forged.cookies.set(auth.COOKIE_NAME, "v.1.abc", domain="testserver")
        r = await post_login(forged, "x")
        assert r.status_code == 403
