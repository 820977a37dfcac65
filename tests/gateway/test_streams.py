"""The widget's event streams: at most three per conversation, and a stream whose
client goes away (even before the stream starts) gives its place back."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest
from starlette.requests import ClientDisconnect

from bot.gateway import hub
from bot.gateway.channels.web import MAX_STREAMS_PER_CONVERSATION
from tests.gateway.conftest import Harness, until

pytestmark = pytest.mark.integration


def _path(conv: dict[str, str]) -> str:
    return (
        f"/api/widget/conversations/{conv['conversation_id']}/events"
        f"?token={conv['token']}"
    )


async def _abandon(h: Harness, path: str, *, read_headers: bool) -> None:
    """Ask for the stream on a raw connection, then hang up."""
    where = urlsplit(h.url)
    reader, writer = await asyncio.open_connection(where.hostname, where.port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {where.netloc}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    if read_headers:
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    writer.close()  # the client goes, early
    await writer.wait_closed()


async def _open(h: Harness, path: str) -> int:
    async with h.http.stream("GET", path) as response:
        return response.status_code


@pytest.mark.parametrize("read_headers", [False, True])
async def test_clients_that_go_early_never_lock_the_conversation_out(
    gw: Harness, read_headers: bool
) -> None:
    conv = await gw.start()
    topic = hub.conversation_topic(conv["conversation_id"])
    for _ in range(3 * MAX_STREAMS_PER_CONVERSATION):
        await _abandon(gw, _path(conv), read_headers=read_headers)
    await until(
        lambda: hub.get_hub().subscriber_count(topic) == 0,
        what="every abandoned stream released",
    )
    # three real streams fit; a fourth is refused; closing one frees a place
    async with (
        gw.http.stream("GET", _path(conv)) as a,
        gw.http.stream("GET", _path(conv)) as b,
        gw.http.stream("GET", _path(conv)) as c,
    ):
        assert [a.status_code, b.status_code, c.status_code] == [200, 200, 200]
        refused = await gw.http.get(_path(conv))
        assert refused.status_code == 429
    await until(
        lambda: hub.get_hub().subscriber_count(topic) == 0,
        what="the three streams released",
    )
    assert await _open(gw, _path(conv)) == 200


async def _gone_before_the_first_byte(h: Harness, path: str) -> None:
    """Call the app as the server would, for a client that is already gone:
    sending the response's first bytes fails, so the stream never starts."""
    target, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": target,
        "raw_path": target.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"accept", b"text/event-stream")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }

    async def receive() -> dict[str, str]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        raise OSError("the client closed the connection")

    try:
        await h.app(scope, receive, send)
    except (OSError, ClientDisconnect):
        pass  # the server's own business; what matters is what was left behind


async def test_a_stream_that_never_starts_gives_its_place_back(gw: Harness) -> None:
    conv = await gw.start()
    topic = hub.conversation_topic(conv["conversation_id"])
    for _ in range(2 * MAX_STREAMS_PER_CONVERSATION):
        await _gone_before_the_first_byte(gw, _path(conv))
    assert hub.get_hub().subscriber_count(topic) == 0
    assert await _open(gw, _path(conv)) == 200  # not locked out (429)
