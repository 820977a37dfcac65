"""The scaled profile for real: PostgreSQL, Redis, two gateways, two Rasa workers.

One Rasa (``RASA_WORKERS=2``, Rasa's Redis lock store), one action server and
two gateway processes on different ports — as two replicas behind a load
balancer would be — share a throwaway PostgreSQL database and a throwaway
``redis-server`` this module starts on a free port (so the test may stop and
restart it; the shared Redis is never touched).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.db.migrate import upgrade
from bot.db.models import Message, MessageType
from bot.db.session import session_scope
from bot.directory.importer import import_directory
from bot.runner import Stack, build_stack, free_port, group_alive, start
from tests.e2e.conftest import E2EStack, _copy_model
from tests.e2e.people import Console, wait_for
from tests.support.databases import throwaway_database
from tests.support.fake_bot_api import FakeBotApi

pytestmark = pytest.mark.integration
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
RATE_LIMIT = 150  # per visitor a minute: every request of this module is one visitor


class ThrowawayRedis:
    """A redis-server of our own on a free loopback port, without persistence."""

    def __init__(self, port: int, data_dir: Path) -> None:
        self.port, self.data_dir = port, data_dir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.data_dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for("redis-server to answer", self.ping, timeout=20)

    def ping(self) -> bool:
        try:
            out = subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"],
                capture_output=True, text=True, timeout=5,
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
        return out.stdout.strip() == "PONG"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


@dataclass
class Scaled:
    a: E2EStack  # Rasa, actions and gateway A
    b: E2EStack  # gateway B: two more worker processes on another port
    redis: ThrowawayRedis
    rasa: Stack


@pytest.fixture(scope="module")
def scaled(
    small_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scaled]:
    tmp = tmp_path_factory.mktemp("scaled")
    redis = ThrowawayRedis(free_port(), tmp)
    redis.start()
    prefix = f"fdtest{secrets.token_hex(4)}"
    secret = "scaled-" + secrets.token_urlsafe(24)
    token = "scaled-" + secrets.token_urlsafe(16)
    try:
        with throwaway_database("postgresql", tmp) as database_url:
            upgrade(database_url)
            with session_scope(database_url) as session:
                import_directory(session, small_data_dir)
            env = {
                "ENVIRONMENT": "development",
                "SESSION_SECRET": secret,
                "ADVISER_HOURS": "Mon-Sun 00:00-23:59",
                "WIDGET_RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT),
                "WIDGET_ALLOWED_ORIGINS": json.dumps([]),
                "LOG_LEVEL": "INFO",
            }
            common: dict[str, Any] = {
                "database_url": database_url,
                "rasa_token": token,
                "redis_url": redis.url,
                "redis_key_prefix": prefix,
            }
            a_port = free_port()
            a = build_stack(
                **common,
                log_dir=tmp / "a",
                model=_copy_model(tmp),
                gateway_port=a_port,
                rasa_workers=2,
                extra_env={**env, "PUBLIC_URL": f"http://127.0.0.1:{a_port}"},
            )
            b_port = free_port()
            b = build_stack(
                **common,
                log_dir=tmp / "b",
                rasa_port=a.rasa_port,
                action_port=a.action_port,
                gateway_port=b_port,
                gateway_workers=2,  # GATEWAY_WORKERS=2: uvicorn's workers on one port
                with_rasa=False,
                with_actions=False,
                extra_env={**env, "PUBLIC_URL": f"http://127.0.0.1:{b_port}"},
            )
            start(a, timeout=300)
            try:
                start(b, timeout=120)
                try:
                    api = FakeBotApi()
                    yield Scaled(
                        E2EStack(a, api, secret, tmp / "a"),
                        E2EStack(b, api, secret, tmp / "b"),
                        redis,
                        a,
                    )
                finally:
                    b.stop()
            finally:
                a.stop()
    finally:
        redis.stop()


# ------------------------------------------------------------------ helpers


async def start_conversation(http: httpx.AsyncClient, gateway: str) -> dict[str, Any]:
    response = await http.post(f"{gateway}/api/widget/conversations", json={})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def send(
    http: httpx.AsyncClient, gateway: str, conv: dict[str, Any], text: str
) -> httpx.Response:
    return await http.post(
        f"{gateway}/api/widget/conversations/{conv['conversation_id']}/messages",
        json={
            "token": conv["token"],
            "client_message_id": secrets.token_hex(8),
            "text": text,
        },
    )


@asynccontextmanager
async def stream(
    http: httpx.AsyncClient, gateway: str, conv: dict[str, Any]
) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
    """The widget's event stream on ``gateway``: its message events, queued."""
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    opened = asyncio.Event()

    async def read() -> None:
        url = f"{gateway}/api/widget/conversations/{conv['conversation_id']}/events"
        async with http.stream(
            "GET", url, params={"token": conv["token"], "after": "0"}, timeout=None
        ) as response:
            assert response.status_code == 200
            kind = ""
            async for line in response.aiter_lines():
                opened.set()
                if line.startswith("event:"):
                    kind = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and kind == "message":
                    await events.put(json.loads(line.split(":", 1)[1]))

    task = asyncio.create_task(read())
    await asyncio.wait_for(opened.wait(), 30)
    try:
        yield events
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def next_text(
    events: asyncio.Queue[dict[str, Any]], wanted: str, timeout: float = 30
) -> list[dict[str, Any]]:
    """Read events until one whose text contains ``wanted``; return all read."""
    seen: list[dict[str, Any]] = []

    async def until() -> None:
        while True:
            event = await events.get()
            seen.append(event)
            if wanted in (event.get("text") or ""):
                return

    try:
        await asyncio.wait_for(until(), timeout)
    except TimeoutError:
        raise AssertionError(f"{wanted!r} never came; saw {seen}") from None
    return seen


def stored(database_url: str, conversation_id: str) -> list[Message]:
    with session_scope(database_url) as session:
        rows = list(
            session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation_id)
                .order_by(Message.id)
            )
        )
        session.expunge_all()
        return rows


# -------------------------------------------------------------------- tests


def test_rasa_runs_two_workers(scaled: Scaled) -> None:
    rasa = scaled.rasa.service("rasa")
    assert rasa.proc is not None and group_alive(rasa.proc.pid)
    group = [
        pid
        for pid in Path("/proc").iterdir()
        if pid.name.isdigit() and _pgid(pid) == rasa.proc.pid
    ]
    # Sanic's main process and its two workers (with Rasa's Redis lock store)
    assert len(group) >= 3, group


def _pgid(proc_dir: Path) -> int | None:
    try:
        fields = (proc_dir / "stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return None
    return int(fields[2]) if fields[0] not in "ZX" else None


async def test_stream_on_one_gateway_gets_replies_sent_through_the_other(
    scaled: Scaled,
) -> None:
    a, b = scaled.a.gateway_url, scaled.b.gateway_url
    async with httpx.AsyncClient(timeout=60) as http:
        conv = await start_conversation(http, a)
        async with stream(http, b, conv) as events:
            sent = await send(http, a, conv, "How do we apply for a grant?")
            assert sent.status_code == 200, sent.text
            replies = [r["text"] for r in sent.json()["replies"]]
            assert replies, sent.json()
            # the bot's reply, given on A, reaches the stream on B
            await next_text(events, replies[-1][:40])
            # hand over, then an adviser signed in on B answers: the stream on
            # B gets it, and so does one opened on A
            handed = await send(http, a, conv, "can I talk to a real person please")
            assert handed.status_code == 200
            async with stream(http, a, conv) as on_a:
                console = Console(scaled.b)
                try:
                    await asyncio.to_thread(console.claim, conv["conversation_id"])
                    text = f"Hello from an adviser {secrets.token_hex(3)}"
                    await asyncio.to_thread(
                        console._form, conv["conversation_id"], "reply", text=text
                    )
                finally:
                    console.close()
                await next_text(events, text)
                await next_text(on_a, text)


async def test_twenty_messages_through_both_gateways_are_answered_in_order(
    scaled: Scaled,
) -> None:
    a, b = scaled.a.gateway_url, scaled.b.gateway_url
    async with httpx.AsyncClient(timeout=120) as http:
        conv = await start_conversation(http, a)
        texts = [f"question {i}: where can we find volunteers?" for i in range(20)]
        results = await asyncio.gather(
            *(send(http, (a, b)[i % 2], conv, t) for i, t in enumerate(texts))
        )
    assert [r.status_code for r in results] == [200] * 20, [r.text for r in results]
    rows = stored(scaled.a.database_url, conv["conversation_id"])
    incoming = [m for m in rows if m.message_type is MessageType.INCOMING]
    assert sorted(m.content for m in incoming) == sorted(texts)
    assert all(m.answered_at is not None for m in incoming)
    # one at a time, in order: each message was answered no earlier than the
    # one stored before it (stored and answered under the conversation's lock)
    answered = [m.answered_at for m in incoming]
    assert answered == sorted(answered)


async def test_redis_restart_streams_resubscribe_and_catch_up(scaled: Scaled) -> None:
    a, b = scaled.a.gateway_url, scaled.b.gateway_url
    async with httpx.AsyncClient(timeout=60) as http:
        conv = await start_conversation(http, a)
        async with stream(http, b, conv) as events:
            scaled.redis.stop()
            # Redis is down: the message is still stored and answered on A (Rasa
            # cannot take its lock without Redis, so the person is told and the
            # conversation goes to the advisers) ...
            sent = await send(http, a, conv, "how do we register as a charity?")
            assert sent.status_code == 200, sent.text
            reply = sent.json()["replies"][-1]["text"]
            scaled.redis.start()
            # ... and once B's bridge is back the stream on B catches up
            await next_text(events, reply[:40], timeout=60)
        # and live updates flow again between the gateways afterwards
        async with stream(http, a, conv) as on_a:
            text = f"are you there? {secrets.token_hex(3)}"
            again = await send(http, b, conv, text)
            assert again.status_code == 200
            await next_text(on_a, text)


# ------------------------------------------------- behind a real reverse proxy

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
HAPROXY_CONFIG = """\
global
  maxconn 512
defaults
  mode http
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  timeout tunnel 1h
frontend front_door
  bind 127.0.0.1:{port}
  default_backend gateways
backend gateways
  balance roundrobin
  option httpchk GET /healthz
  http-response set-header X-Served-By %s
  server a 127.0.0.1:{a} check inter 1s
  server b 127.0.0.1:{b} check inter 1s
"""


@pytest.fixture(scope="module")
def proxy(scaled: Scaled, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """HAProxy (Debian's package) round-robin over gateway A and gateway B."""
    port = free_port()
    config = tmp_path_factory.mktemp("haproxy") / "haproxy.cfg"
    config.write_text(
        HAPROXY_CONFIG.format(
            port=port,
            a=scaled.a.services.gateway_port,
            b=scaled.b.services.gateway_port,
        )
    )
    proc = subprocess.Popen(
        [HAPROXY, "-db", "-f", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"

    def both_up() -> bool:
        try:
            served = {
                httpx.get(f"{url}/healthz", timeout=5).headers.get("x-served-by")
                for _ in range(4)
            }
        except httpx.HTTPError:
            return False
        return served == {"a", "b"}

    try:
        wait_for("HAProxy with both gateways up", both_up, timeout=30)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


async def test_behind_a_reverse_proxy_any_request_on_any_gateway(
    scaled: Scaled, proxy: str
) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        conv = await start_conversation(http, proxy)
        async with stream(http, proxy, conv) as events:
            served: set[str] = set()
            for text in ("How do we apply for a grant?", "Truro", "thanks"):
                sent = await send(http, proxy, conv, text)
                assert sent.status_code == 200, sent.text
                served.add(sent.headers["x-served-by"])
                for reply in sent.json()["replies"]:
                    await next_text(events, reply["text"][:40])
            assert served == {"a", "b"}  # round robin: both gateways answered
    # the console: signed in through the proxy, each page and form on
    # whichever gateway HAProxy picks (sessions and CSRF are shared)
    through_proxy = E2EStack(
        Stack(
            database_url=scaled.a.database_url,
            rasa_port=scaled.rasa.rasa_port,
            action_port=scaled.rasa.action_port,
            gateway_port=int(proxy.rsplit(":", 1)[1]),
            rasa_token=scaled.rasa.rasa_token,
        ),
        scaled.a.bot_api,
        scaled.a.session_secret,
        scaled.a.log_dir,
    )
    handed = httpx.post(
        f"{proxy}/api/widget/conversations/{conv['conversation_id']}/messages",
        json={
            "token": conv["token"],
            "client_message_id": secrets.token_hex(8),
            "text": "can I speak to a person please",
        },
        timeout=60,
    )
    assert handed.status_code == 200
    console = Console(through_proxy)
    try:
        # signing in, then each page and form, round-robin over both gateways
        console.claim(conv["conversation_id"])
        text = f"Adviser here {secrets.token_hex(3)}"
        console._form(conv["conversation_id"], "reply", text=text)
    finally:
        console.close()

    def delivered() -> bool:
        return any(
            m.content == text and m.delivered_at is not None
            for m in stored(scaled.a.database_url, conv["conversation_id"])
        )

    wait_for("the adviser's reply delivered", delivered)


async def test_console_queue_on_one_gateway_hears_a_hand_over_on_the_other(
    scaled: Scaled,
) -> None:
    console = Console(scaled.b)  # signed in on gateway B
    try:
        cookies = dict(console.http.cookies)
        async with httpx.AsyncClient(
            base_url=scaled.b.console_url, cookies=cookies, timeout=60
        ) as on_b:
            updates: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            opened = asyncio.Event()

            async def read() -> None:
                async with on_b.stream("GET", "/events/queue", timeout=None) as r:
                    assert r.status_code == 200
                    async for line in r.aiter_lines():
                        opened.set()
                        if line.startswith("data:"):
                            await updates.put(json.loads(line.split(":", 1)[1]))

            task = asyncio.create_task(read())
            await asyncio.wait_for(opened.wait(), 30)
            async with httpx.AsyncClient(timeout=60) as http:
                conv = await start_conversation(http, scaled.a.gateway_url)
                handed = await send(
                    http, scaled.a.gateway_url, conv, "I want to talk to a person"
                )
                assert handed.status_code == 200
            cid = conv["conversation_id"]

            async def hand_over_heard() -> None:
                while True:
                    update = await updates.get()
                    if update.get("conversation_id") == cid:
                        return

            await asyncio.wait_for(hand_over_heard(), 30)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    finally:
        console.close()


async def test_rate_limit_hit_on_one_gateway_counts_on_the_other(
    scaled: Scaled,
) -> None:
    # Last in the module: it spends this visitor's whole budget.
    a, b = scaled.a.gateway_url, scaled.b.gateway_url
    async with httpx.AsyncClient(timeout=60) as http:
        codes: list[int] = []
        for _ in range(RATE_LIMIT + 1):
            response = await http.post(f"{a}/api/widget/conversations", json={})
            codes.append(response.status_code)
            if response.status_code == 429:
                break
        assert codes[-1] == 429 and codes.count(201) < RATE_LIMIT, codes[-3:]
        on_b = await http.post(f"{b}/api/widget/conversations", json={})
        assert on_b.status_code == 429
        assert on_b.headers["retry-after"].isdigit()
