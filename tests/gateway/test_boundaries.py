"""Boundaries found by probing a running stack (issue 13): body sizes, the
widget's content type and origin, forwarded addresses, SQL values in logs."""

from __future__ import annotations

import logging

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot.db.session import session_scope
from bot.runner import proxy_args
from tests.gateway.conftest import ALLOWED_ORIGIN, Harness, HarnessFactory

pytestmark = pytest.mark.integration


async def test_oversized_bodies_are_413_on_every_route_before_reading(
    start_gateway: HarnessFactory,
) -> None:
    async with start_gateway(max_request_body_bytes=4096) as gw:
        conv = await gw.start()
        big = b'{"x": "' + b"a" * 100_000 + b'"}'  # over the console's 64 KiB too
        for path in (
            "/api/widget/conversations",
            f"/api/widget/conversations/{conv['conversation_id']}/messages",
            "/telegram/webhook",
            "/console/login",
            "/no/such/route",
        ):
            r = await gw.http.post(
                path, content=big, headers={"Content-Type": "application/json"}
            )
            assert r.status_code == 413, path

        # a chunked body (no Content-Length) is cut off as it arrives
        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(100):
                yield b"a" * 1024

        r = await gw.http.post(
            "/api/widget/conversations",
            content=chunks(),
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 413


async def test_widget_posts_must_be_json_from_an_allowed_origin(gw: Harness) -> None:
    url = "/api/widget/conversations"
    plain = await gw.http.post(
        url,
        content=b"{}",
        headers={"Content-Type": "text/plain", "Origin": ALLOWED_ORIGIN},
    )
    assert plain.status_code == 415
    form = await gw.http.post(url, data={"a": "b"})
    assert form.status_code == 415
    foreign = await gw.http.post(
        url, json={}, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    for origin in (ALLOWED_ORIGIN, gw.url):  # a charity's site, and our demo page
        ok = await gw.http.post(url, json={}, headers={"Origin": origin})
        assert ok.status_code == 201, origin
    conv = ok.json()
    send = await gw.http.post(
        f"{url}/{conv['conversation_id']}/messages",
        content=b'{"token": "x"}',
        headers={"Content-Type": "text/plain"},
    )
    assert send.status_code == 415


def test_forwarded_headers_are_believed_only_from_configured_proxies() -> None:
    assert proxy_args([]) == ["--no-proxy-headers"]
    assert proxy_args(["10.0.0.5", "10.0.1.0/24"]) == [
        "--proxy-headers",
        "--forwarded-allow-ips",
        "10.0.0.5,10.0.1.0/24",
    ]


async def test_a_spoofed_forwarded_for_does_not_move_the_rate_limit(
    start_gateway: HarnessFactory,
) -> None:
    """Through real uvicorn with the runner's flags: X-Forwarded-For from an
    untrusted peer is ignored, so rotating it gets no fresh budget."""
    import asyncio
    import socket

    import uvicorn

    from bot.gateway.app import create_app
    from tests.gateway.conftest import make_settings

    async with start_gateway() as gw:
        settings = make_settings(
            gw.settings.database_url,
            gw.settings.rasa_url,
            widget_rate_limit_per_minute=3,
        )
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        # what `--no-proxy-headers` sets (proxy_args([])), uvicorn's default
        # being to trust X-Forwarded-For from 127.0.0.1
        config = uvicorn.Config(
            create_app(settings), proxy_headers=False, log_level="warning"
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started:
                await asyncio.sleep(0.05)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
                codes = [
                    (
                        await c.post(
                            "/api/widget/conversations",
                            json={},
                            headers={"X-Forwarded-For": f"203.0.113.{i}"},
                        )
                    ).status_code
                    for i in range(5)
                ]
        finally:
            server.should_exit = True
            await task
    assert codes[:3] == [201, 201, 201] and codes[3:] == [429, 429]


def test_sql_errors_carry_no_parameter_values(
    migrated_db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    marker = "MARKsecret-words-of-a-person"
    with pytest.raises(SQLAlchemyError) as failed:
        with session_scope(migrated_db_url) as s:
            s.execute(
                text("INSERT INTO no_such_table (content) VALUES (:c)"), {"c": marker}
            )
    logging.getLogger("bot.test").exception("a 500", exc_info=failed.value)
    assert marker not in str(failed.value)
    assert marker not in caplog.text
