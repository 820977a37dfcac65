"""The daily retention sweep runs in one gateway worker per interval in the
scaled profile (a Redis key with an expiry), in every interval in the embedded
one: two real processes on PostgreSQL and the shared Redis, under a throwaway
key prefix."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from bot.db.base import utcnow
from bot.db.migrate import upgrade
from bot.db.models import AuditEntry, Conversation
from bot.db.session import get_engine, session_scope
from bot.privacy.sweep import EveryProcess, OncePerInterval, RetentionSweeper, turn_for
from bot.settings import Settings
from tests.conftest import create_database
from tests.privacy.conftest import _prepare, make_person

pytestmark = pytest.mark.integration

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A migrated PostgreSQL database (the scaled profile's), Rasa's table too."""
    url, drop = create_database("postgresql", tmp_path)
    upgrade(url)
    _prepare(url, tmp_path, monkeypatch)
    yield url
    get_engine(url).dispose()
    drop()


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test's own on the shared Redis, deleted afterwards."""
    name = f"fdtest{secrets.token_hex(6)}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{name}:*"):
        client.delete(key)
    client.close()


def test_two_workers_sweep_once_per_interval(
    pg_url: str, prefix: str, tmp_path: Path
) -> None:
    old = make_person(pg_url, last_active=utcnow() - timedelta(days=200))
    go = tmp_path / "go"
    secrets_file = tmp_path / "secrets.json"
    command = [
        sys.executable,
        "-m",
        "tests.support.sweep_worker",
        "--database-url", pg_url,
        "--redis-url", REDIS_URL,
        "--prefix", prefix,
        "--go", str(go),
        "--secrets-file", str(secrets_file),
        "--every-s", "600",
        "--tries", "20",
    ]  # fmt: skip
    workers = [
        subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    go.touch()
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    # 40 tries between them inside one interval: exactly one sweep
    assert sorted(r["runs"] for r in results) == [0, 1]
    assert sum(a is True for r in results for a in r["answers"]) == 1
    assert all(a is not None for r in results for a in r["answers"])
    with session_scope(pg_url) as s:
        c = s.get(Conversation, old.conversation_id)
        assert c is not None and c.anonymised_at is not None
        swept = select(func.count()).select_from(AuditEntry)
        assert s.scalar(swept.where(AuditEntry.action == "swept")) == 1
    # the turn is held for the interval, under this test's prefix only
    client = redis.Redis.from_url(REDIS_URL)
    try:
        key = f"{prefix}:privacy:retention-sweep"
        assert 0 < client.pttl(key) <= 600_000
        assert client.get(key).decode().startswith(socket.gethostname() + ":")
    finally:
        client.close()


async def test_the_turn_passes_on_when_the_interval_ends(prefix: str) -> None:
    first = OncePerInterval(REDIS_URL, prefix, every_s=0.5)
    second = OncePerInterval(REDIS_URL, prefix, every_s=0.5)
    try:
        assert await first.claim() is True
        assert await second.claim() is False
        assert await first.claim() is False  # once per interval, whoever asks
        deadline = time.monotonic() + 10
        while await second.client.exists(first.key):  # the interval's end
            assert time.monotonic() < deadline, "the turn never expired"
            await asyncio.sleep(0.05)
        assert await second.claim() is True
        assert await first.claim() is False
    finally:
        await first.aclose()
        await second.aclose()


async def test_redis_down_is_no_turn_and_asked_again_soon(prefix: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    turn = OncePerInterval(f"redis://127.0.0.1:{port}/0", prefix, every_s=600)
    try:
        assert await turn.claim() is None
    finally:
        await turn.aclose()


def test_the_profile_chooses_who_sweeps(tmp_path: Path) -> None:
    secrets_file = tmp_path / "secrets.json"
    embedded = Settings(database_url="sqlite:///x.db", secrets_file=secrets_file)
    assert isinstance(turn_for(embedded), EveryProcess)
    # Redis with SQLite is still the embedded profile
    both = Settings(
        database_url="sqlite:///x.db", redis_url=REDIS_URL, secrets_file=secrets_file
    )
    assert isinstance(turn_for(both), EveryProcess)
    scaled = Settings(
        database_url="postgresql+psycopg://127.0.0.1/x",
        redis_url=REDIS_URL,
        redis_key_prefix="fdtestprofile",
        secrets_file=secrets_file,
    )
    assert isinstance(turn_for(scaled), OncePerInterval)


async def test_embedded_sweeper_sweeps_at_every_interval(
    sqlite_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=sqlite_url, secrets_file=tmp_path / "s.json")
    sweeper = RetentionSweeper(settings)
    assert isinstance(turn_for(settings), EveryProcess)
    make_person(sqlite_url, last_active=utcnow() - timedelta(days=200))
    assert await sweeper.run_once() is True
    assert await sweeper.run_once() is True
    assert sweeper.runs == 2
    await sweeper.stop()


async def test_two_scaled_gateways_sweep_through_the_turn(
    pg_url: str, prefix: str, tmp_path: Path
) -> None:
    """Two gateway apps on one PostgreSQL and one Redis prefix, as two workers:
    the old conversation is swept once, by the one holding the interval's turn."""
    from bot.gateway.app import create_app
    from tests.gateway.conftest import make_settings
    from tests.support.fake_rasa import FakeRasa
    from tests.support.servers import serve

    old = make_person(pg_url, last_active=utcnow() - timedelta(days=200))
    rasa = FakeRasa(database_url=pg_url)
    async with serve(rasa.app()) as rasa_url:
        settings = make_settings(
            pg_url,
            rasa_url,
            redis_url=REDIS_URL,
            redis_key_prefix=prefix,
            retention_sweep_every_s=600,
            secrets_file=tmp_path / "secrets.json",
        )
        apps = [create_app(settings), create_app(settings)]
        async with serve(apps[0]), serve(apps[1]):
            sweepers = [app.state.retention for app in apps]
            assert all(isinstance(s.turn, OncePerInterval) for s in sweepers)

            def anonymised() -> bool:
                with session_scope(pg_url) as s:
                    c = s.get(Conversation, old.conversation_id)
                    return c is not None and c.anonymised_at is not None

            deadline = time.monotonic() + 30
            while not (anonymised() and all(s.task for s in sweepers)):
                assert time.monotonic() < deadline, "the gateways never swept"
                await asyncio.sleep(0.05)
            # whoever was second asked and was refused: one sweep between them
            while sum(s.runs for s in sweepers) < 1:
                await asyncio.sleep(0.05)
            assert (await sweepers[0].turn.claim(), await sweepers[1].turn.claim()) == (
                False,
                False,
            )
            assert sorted(s.runs for s in sweepers) == [0, 1]
    with session_scope(pg_url) as s:
        swept = select(func.count()).select_from(AuditEntry)
        assert s.scalar(swept.where(AuditEntry.action == "swept")) == 1
