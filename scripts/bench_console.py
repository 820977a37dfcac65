"""Server time of the adviser console's busiest pages with 10,000 conversations.

For SQLite and PostgreSQL (PostgreSQL when reachable): a throwaway database is
migrated and seeded in bulk (scripts.console_seed: 360 districts, 250
organisations, 10,000 conversations, most resolved), an adviser signs in, and
each page (the queue, its live refresh, a filtered queue, searches, one
conversation) is requested in-process; a middleware times each request from the
first byte in to the last byte out. Prints JSON: p50 / p95 / max per page.

    .venv/bin/python -m scripts.bench_console [--count 10000] [--requests 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.console import auth
from bot.console.routes import console_routes
from bot.db.migrate import upgrade
from bot.db.models import Conversation, ConversationStatus
from bot.db.repositories import advisers
from bot.db.session import get_engine, session_scope
from bot.settings import get_settings
from scripts.console_seed import seed_conversations, seed_directory

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://127.0.0.1:5432/test")
PASSWORD = "bench-console-password-long"  # noqa: S105 (a throwaway database)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TARGET_P95_MS = 300.0


class Timing:
    """Record each request's server time (ms) under its label."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.label = ""
        self.samples: dict[str, list[float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                elapsed = (time.perf_counter() - started) * 1000
                self.samples.setdefault(self.label, []).append(elapsed)

        await self.app(scope, receive, timed)


def _pg_database() -> tuple[str, Callable[[], None]] | None:
    name = f"fd_bench_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # our own hex name
    except psycopg.Error:
        return None
    url = (
        PG_ADMIN_URL.rsplit("/", 1)[0].replace(
            "postgresql://", "postgresql+psycopg://", 1
        )
        + f"/{name}"
    )

    def drop() -> None:
        get_engine(url).dispose()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


async def _measure(url: str, count: int, requests: int) -> dict[str, Any]:
    started = time.perf_counter()
    upgrade(url)
    with session_scope(url) as s:
        seed_directory(s)
    with session_scope(url) as s:
        seeded = seed_conversations(s, count=count)
        advisers.create_adviser(
            s,
            username="bench",
            display_name="Bench Adviser",
            password_hash=auth.hash_password(PASSWORD),
        )
    with session_scope(url) as s:
        queued = s.scalar(
            Conversation.__table__.select()
            .with_only_columns(Conversation.id)
            .where(Conversation.status == ConversationStatus.QUEUED)
            .limit(1)
        )
    if url.startswith("postgresql"):
        # A real database of 10,000 conversations has planner statistics
        # (autovacuum analyzes a table after 10% of it changes); a bulk seed a
        # second old has none yet, and the planner would guess from nothing.
        with get_engine(url).connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "ANALYZE"
            )
    seed_s = time.perf_counter() - started
    os.environ["DATABASE_URL"] = url
    os.environ["PUBLIC_URL"] = "http://bench"
    get_settings.cache_clear()
    timing = Timing(Starlette(routes=[Mount("/console", routes=console_routes())]))
    org = seeded.organisation_ids[1]
    pages = {
        "queue": "/console/",
        "queue_items": "/console/queue/items",
        "queue_one_organisation": f"/console/?organisation={org}",
        "search_text": "/console/search?q=minibus",
        "search_text_common": "/console/search?q=grant",
        "search_place_status": "/console/search?place=District+010&status=resolved",
        "search_organisation_dates": (
            f"/console/search?organisation={org}&from=2000-01-01&to=2100-01-01"
        ),
        "search_text_page_3": "/console/search?q=hall&page=3",
        "conversation": f"/console/conversations/{queued}",
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=timing), base_url="http://bench"
    ) as client:
        login = await client.get("/console/login")
        token = CSRF.search(login.text)
        assert token, "no CSRF token on the login page"
        signed_in = await client.post(
            "/console/login",
            data={"username": "bench", "password": PASSWORD, "csrf_token": token[1]},
            headers={"Origin": "http://bench"},
        )
        assert signed_in.status_code == 303, signed_in.status_code
        for label, path in pages.items():
            timing.label = f"warm:{label}"
            for _ in range(3):
                response = await client.get(path)
                assert response.status_code == 200, (label, response.status_code)
            timing.label = label
            for _ in range(requests):
                await client.get(path)
    results = {}
    for label in pages:
        values = timing.samples[label]
        results[label] = {
            "p50_ms": round(statistics.median(values), 1),
            "p95_ms": round(_percentile(values, 0.95), 1),
            "max_ms": round(max(values), 1),
            "requests": len(values),
        }
    worst = max(r["p95_ms"] for r in results.values())
    return {
        "conversations": seeded.conversations,
        "messages": seeded.messages,
        "seed_s": round(seed_s, 1),
        "pages": results,
        "worst_p95_ms": worst,
        "within_target": worst <= TARGET_P95_MS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument(
        "--backend", choices=["sqlite", "postgresql", "both"], default="both"
    )
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"target_p95_ms": TARGET_P95_MS, "backends": {}}
    with tempfile.TemporaryDirectory(prefix="fd-bench-console-") as tmp:
        if args.backend in ("sqlite", "both"):
            url = f"sqlite:///{Path(tmp) / 'console.db'}"
            report["backends"]["sqlite"] = asyncio.run(
                _measure(url, args.count, args.requests)
            )
            get_engine(url).dispose()
        if args.backend in ("postgresql", "both"):
            found = _pg_database()
            if found is None:
                report["backends"]["postgresql"] = {
                    "skipped": "PostgreSQL not reachable"
                }
            else:
                url, drop = found
                try:
                    report["backends"]["postgresql"] = asyncio.run(
                        _measure(url, args.count, args.requests)
                    )
                finally:
                    drop()
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
