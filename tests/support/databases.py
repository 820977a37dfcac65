"""Throwaway databases for tests that run outside one function's fixtures."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from bot.db.session import get_engine

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://127.0.0.1:5432/test")


@contextmanager
def throwaway_database(backend: str, tmp_dir: Path) -> Iterator[str]:
    """Create an empty database with a random name; drop it afterwards."""
    if backend == "sqlite":
        path = tmp_dir / f"fd-{secrets.token_hex(4)}.db"
        url = f"sqlite:///{path}"
        try:
            yield url
        finally:
            get_engine(url).dispose()
            path.unlink(missing_ok=True)
        return
    name = f"fd_e2e_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # our own hex name
    url = PG_ADMIN_URL.rsplit("/", 1)[0].replace(
        "postgresql://", "postgresql+psycopg://", 1
    ) + f"/{name}"
    try:
        yield url
    finally:
        get_engine(url).dispose()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
