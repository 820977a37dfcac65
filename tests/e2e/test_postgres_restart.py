"""A PostgreSQL restart under load: nothing accepted is lost, no unhandled 500.

The test starts a PostgreSQL of its own (``initdb`` + ``pg_ctl`` on a free port,
in a directory of its own; as root, through ``runuser -u postgres``) and never
touches the machine's server. Rasa, the action server and the gateway run
against it; simulated people keep writing through the widget API while it is
restarted. A message the gateway could not store is refused with a clear 503
and sent again by the person's widget (same client message id), as the widget
does.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from bot.db.migrate import upgrade
from bot.db.models import Message, MessageType
from bot.db.session import get_engine, session_scope
from bot.directory.importer import import_directory
from bot.runner import build_stack, free_port, start
from tests.e2e.conftest import _copy_model

pytestmark = pytest.mark.integration
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PEOPLE = 6


def _pg_tool(name: str) -> str:
    found = shutil.which(name) or str(PG_BIN / name)
    return found


class ThrowawayPostgres:
    """A PostgreSQL cluster of our own: initdb'd, started and stopped by us."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="fd-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            shutil.chown(self.dir, "postgres", "postgres")

    def _run(self, *args: str, timeout: float = 60) -> None:
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=timeout)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        self._run(
            _pg_tool("initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "-E", "UTF8", "--no-sync",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.dir} -c fsync=off"
        )
        self._run(
            _pg_tool("pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"),
            "-w", "-o", options, "start",
        )

    def stop(self) -> None:
        self._run(_pg_tool("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def postgres() -> Iterator[ThrowawayPostgres]:
    pg = ThrowawayPostgres()
    pg.init()
    pg.start()
    try:
        yield pg
    finally:
        get_engine(pg.url).dispose()
        try:
            pg.stop()
        finally:
            pg.remove()


@dataclass
class Outcome:
    codes: list[int] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)  # client message ids
    refused_bodies: list[str] = field(default_factory=list)


async def person(
    http: httpx.AsyncClient, gateway: str, stop: asyncio.Event, out: Outcome
) -> None:
    conv: dict[str, str] | None = None
    n = 0
    while not stop.is_set():
        if conv is None:
            response = await http.post(f"{gateway}/api/widget/conversations", json={})
            out.codes.append(response.status_code)
            if response.status_code != 201:
                out.refused_bodies.append(response.text)
                await asyncio.sleep(0.2)  # the widget's retry pause, not a sync
                continue
            conv = response.json()
        client_id = secrets.token_hex(8)
        text = f"message {n}: how do we find volunteers for our food bank?"
        n += 1
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the widget sends it again
            response = await http.post(
                f"{gateway}/api/widget/conversations/{conv['conversation_id']}/messages",
                json={"token": conv["token"], "client_message_id": client_id,
                      "text": text},
            )
            out.codes.append(response.status_code)
            if response.status_code == 200:
                out.accepted.append(client_id)
                break
            out.refused_bodies.append(response.text)
            await asyncio.sleep(0.2)  # the widget's retry pause, not a sync


async def test_postgres_restart_under_load_loses_nothing(
    postgres: ThrowawayPostgres,
    small_data_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    tmp = tmp_path_factory.mktemp("pg-restart")
    upgrade(postgres.url)
    with session_scope(postgres.url) as session:
        import_directory(session, small_data_dir)
    port = free_port()
    stack = build_stack(
        database_url=postgres.url,
        rasa_token="pg-" + secrets.token_urlsafe(16),
        log_dir=tmp / "logs",
        model=_copy_model(tmp),
        gateway_port=port,
        extra_env={
            "ENVIRONMENT": "development",
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
            "ADVISER_HOURS": "Mon-Sun 00:00-23:59",
            "WIDGET_RATE_LIMIT_PER_MINUTE": "100000",
            "LOG_LEVEL": "INFO",
        },
    )
    await asyncio.to_thread(start, stack, timeout=300)
    out = Outcome()
    try:
        stop = asyncio.Event()
        async with httpx.AsyncClient(timeout=30) as http:
            people = [
                asyncio.create_task(person(http, stack.gateway_url, stop, out))
                for _ in range(PEOPLE)
            ]
            # load before, during and after the restart
            await _until(lambda: len(out.accepted) >= 2 * PEOPLE, 120)
            before = len(out.accepted)
            await asyncio.to_thread(postgres.stop)
            # down until people have been refused (and told): then back
            await _until(lambda: len(out.refused_bodies) >= PEOPLE, 120)
            await asyncio.to_thread(postgres.start)
            await _until(lambda: len(out.accepted) >= before + 2 * PEOPLE, 120)
            stop.set()
            await asyncio.wait_for(asyncio.gather(*people), 120)
        gateway_log = (tmp / "logs" / "gateway.log").read_text(errors="replace")
    finally:
        await asyncio.to_thread(stack.stop)

    assert 500 not in out.codes, gateway_log[-3000:]
    assert set(out.codes) <= {200, 201, 503}, sorted(set(out.codes))
    assert all('"error"' in body for body in out.refused_bodies), out.refused_bodies[:3]
    with session_scope(postgres.url) as session:
        counts = dict(
            session.execute(
                select(Message.source_id, func.count())
                .where(Message.message_type == MessageType.INCOMING)
                .group_by(Message.source_id)
            ).all()
        )
    lost = [c for c in out.accepted if not any(c in str(k) for k in counts)]
    assert not lost, f"{len(lost)} accepted messages not stored"
    assert all(n == 1 for n in counts.values()), "a message stored twice"


async def _until(done: object, timeout: float) -> None:
    assert callable(done)
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError("the load did not get through in time")
        await asyncio.sleep(0.1)  # polling the people's progress, not a sync
