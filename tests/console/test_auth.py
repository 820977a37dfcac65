"""Signing in and out: argon2, session rotation, logout, rate limit, cookie flags."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette

from bot.console import auth
from bot.db.models import Adviser as AdviserRow
from bot.db.models import AdviserSession
from bot.db.session import session_scope
from bot.settings import get_settings
from tests.console.conftest import (
    BASE,
    PASSWORD,
    Adviser,
    login_form,
    make_adviser,
    post_login,
    sign_in,
)

pytestmark = pytest.mark.integration


def test_hash_is_argon2id_and_short_passwords_are_refused() -> None:
    hashed = auth.hash_password("twelve chars")
    assert hashed.startswith("$argon2id$")
    assert auth.verify_password(hashed, "twelve chars")
    assert not auth.verify_password(hashed, "twelve charz")
    assert not auth.verify_password("not a hash", "twelve chars")
    with pytest.raises(auth.PasswordTooShort):
        auth.hash_password("eleven char")


async def test_login_page_is_public_and_sets_a_visitor_cookie(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/console/login")
    assert page.status_code == 200
    assert 'name="csrf_token"' in page.text
    assert auth.COOKIE_NAME in page.cookies


async def test_session_id_rotates_at_login_and_the_old_one_is_dead(
    client: httpx.AsyncClient, db_url: str
) -> None:
    make_adviser(db_url)
    token = await login_form(client)
    before = client.cookies[auth.COOKIE_NAME]
    response = await post_login(client, token)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/"
    after = client.cookies[auth.COOKIE_NAME]
    assert before != after
    # the pre-login session no longer exists on the server
    with session_scope(db_url) as s:
        assert s.get(AdviserSession, auth.token_hash(before)) is None
        assert s.get(AdviserSession, auth.token_hash(after)) is not None
    # ... so a client holding the old cookie is not signed in
    old = httpx.AsyncClient(
        transport=client._transport, base_url=BASE, cookies={auth.COOKIE_NAME: before}
    )
    async with old:
        assert (await old.get("/console/")).status_code == 401
    assert (await client.get("/console/")).status_code == 200


async def test_cookie_is_httponly_lax_and_scoped_to_the_console(
    client: httpx.AsyncClient, db_url: str
) -> None:
    make_adviser(db_url)
    response = await post_login(client, await login_form(client))
    cookie = response.headers["set-cookie"]
    parts = [p.strip().lower() for p in cookie.split(";")]
    assert "httponly" in parts
    assert "samesite=lax" in parts
    assert "path=/console" in parts
    assert "secure" not in parts  # public URL is http in this test


async def test_cookie_is_secure_when_the_public_url_is_https(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUBLIC_URL", "https://frontdoor.example.org")
    get_settings.cache_clear()
    page = await client.get("/console/login")
    parts = [p.strip().lower() for p in page.headers["set-cookie"].split(";")]
    assert "secure" in parts and "httponly" in parts and "samesite=lax" in parts


async def test_wrong_password_and_unknown_user_get_the_same_answer(
    client: httpx.AsyncClient, db_url: str
) -> None:
    make_adviser(db_url)
    token = await login_form(client)
    answers = []
    for username, password in (("alex", "wrong password!!"), ("nobody", PASSWORD)):
        r = await post_login(client, token, username, password)
        answers.append((r.status_code, "username or password is not right" in r.text))
    assert answers == [(400, True), (400, True)]
    assert (await client.get("/console/")).status_code == 401


async def test_inactive_adviser_cannot_sign_in(
    client: httpx.AsyncClient, db_url: str
) -> None:
    adviser_id = make_adviser(db_url)
    with session_scope(db_url) as s:
        s.get(AdviserRow, adviser_id).active = False  # type: ignore[union-attr]
    r = await post_login(client, await login_form(client))
    assert r.status_code == 400


async def test_five_failures_lock_that_username_and_address_for_15_minutes(
    client: httpx.AsyncClient, app: Starlette, db_url: str
) -> None:
    make_adviser(db_url)
    token = await login_form(client)
    for _ in range(auth.MAX_FAILURES):
        wrong = await post_login(client, token, password="not the password")
        assert wrong.status_code == 400
    locked = await post_login(client, token)  # even the right password is refused now
    assert locked.status_code == 429
    assert locked.headers["retry-after"] == "900"
    assert (await client.get("/console/")).status_code == 401
    # another username from the same address is not locked by alex's failures
    make_adviser(db_url, "sam", name="Sam")
    other = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
    async with other:
        await sign_in(other, "sam")


async def test_failures_expire_after_the_window(
    client: httpx.AsyncClient, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from bot.db.base import utcnow

    make_adviser(db_url)
    token = await login_form(client)
    for _ in range(auth.MAX_FAILURES):
        await post_login(client, token, password="nope nope nope")
    later = utcnow() + auth.FAILURE_WINDOW + timedelta(seconds=5)
    monkeypatch.setattr(auth, "utcnow", lambda: later)
    r = await post_login(client, token)
    assert r.status_code == 303


async def test_logout_kills_the_session_on_the_server(
    adviser: Adviser, db_url: str
) -> None:
    token = adviser.client.cookies[auth.COOKIE_NAME]
    r = await adviser.post("/console/logout")
    assert r.status_code == 303
    assert r.headers["location"].startswith("/console/login")
    with session_scope(db_url) as s:
        assert s.get(AdviserSession, auth.token_hash(token)) is None
    # replaying the old cookie does not work
    adviser.client.cookies.set(auth.COOKIE_NAME, token, domain="testserver")
    assert (await adviser.client.get("/console/")).status_code == 401


async def test_sessions_are_stored_hashed(adviser: Adviser, db_url: str) -> None:
    token = adviser.client.cookies[auth.COOKIE_NAME]
    with session_scope(db_url) as s:
        ids = list(s.scalars(select(AdviserSession.id)))
    assert token not in ids
    assert auth.token_hash(token) in ids


async def test_expired_session_is_refused_and_deleted(
    adviser: Adviser, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.db.base import utcnow

    later = utcnow() + auth.IDLE_TTL + auth.IDLE_TTL
    monkeypatch.setattr(auth, "utcnow", lambda: later)
    assert (await adviser.client.get("/console/")).status_code == 401
    with session_scope(db_url) as s:
        n = s.scalar(
            select(func.count())
            .select_from(AdviserSession)
            .where(AdviserSession.adviser_id == adviser.id)
        )
    assert n == 0


async def test_next_parameter_is_only_followed_inside_the_console(
    client: httpx.AsyncClient, db_url: str
) -> None:
    make_adviser(db_url)
    for target, expected in (
        ("/console/conversations/abc", "/console/conversations/abc"),
        ("https://evil.example/", "/console/"),
        ("//evil.example/", "/console/"),
        ("/elsewhere", "/console/"),
        ("/console/../x", "/console/"),
    ):
        client.cookies.clear()
        r = await post_login(client, await login_form(client), next=target)
        assert r.headers["location"] == expected, target


async def test_browser_navigation_is_redirected_to_login_with_next(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/console/conversations/abc", headers={"Accept": "text/html"})
    assert r.status_code == 303
    assert r.headers["location"] == "/console/login?next=/console/conversations/abc"


async def test_many_failures_from_one_address_lock_every_username(
    client: httpx.AsyncClient, db_url: str
) -> None:
    make_adviser(db_url)
    token = await login_form(client)
    for i in range(auth.MAX_FAILURES_PER_ADDRESS):
        r = await post_login(client, token, f"guess{i}", "x" * 12)
        assert r.status_code == 400
    r = await post_login(client, token)
    assert r.status_code == 429


async def test_signing_in_again_replaces_the_session(
    adviser: Adviser, db_url: str
) -> None:
    first = adviser.client.cookies[auth.COOKIE_NAME]
    # the login page sends a signed-in adviser to the queue ...
    assert (await adviser.client.get("/console/login")).status_code == 303
    # ... and a repeated sign-in rotates the session all the same
    r = await adviser.post("/console/login", {"username": "alex", "password": PASSWORD})
    assert r.status_code == 303
    second = adviser.client.cookies[auth.COOKIE_NAME]
    assert first != second
    with session_scope(db_url) as s:
        assert s.get(AdviserSession, auth.token_hash(first)) is None
