"""Shared fixtures: throwaway databases on SQLite and PostgreSQL, the directory."""

from __future__ import annotations

import csv
import gzip
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.orm import Session

from bot.db.migrate import upgrade
from bot.db.session import get_engine, get_sessionmaker
from bot.directory.importer import import_directory
from bot.settings import DIRECTORY_DATA_DIR

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgresql")


def _pg_url(dbname: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{dbname}".replace("postgresql://", "postgresql+psycopg://", 1)


def create_database(backend: str, tmp_dir: Path) -> tuple[str, callable]:  # type: ignore[valid-type]
    """Create an empty database; return its URL and a function that drops it."""
    if backend == "sqlite":
        path = tmp_dir / f"fd-{secrets.token_hex(4)}.db"
        return f"sqlite:///{path}", lambda: path.unlink(missing_ok=True)
    name = f"fd_test_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # name is ours: hex only
    url = _pg_url(name)

    def drop() -> None:
        get_engine(url).dispose()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (no tables), on each backend."""
    url, drop = create_database(request.param, tmp_path)
    yield url
    drop()


@pytest.fixture(params=BACKENDS)
def migrated_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database with no directory rows, on each backend."""
    url, drop = create_database(request.param, tmp_path)
    upgrade(url)
    yield url
    drop()


@pytest.fixture(scope="session")
def small_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the directory data with fewer postcodes and places (fast imports).

    Every local authority, organisation and resource is kept, so coverage and
    look-ups behave as with the full data.
    """
    out = tmp_path_factory.mktemp("directory")
    for src in DIRECTORY_DATA_DIR.iterdir():
        if src.name not in ("postcodes.csv.gz", "places.csv"):
            shutil.copy(src, out / src.name)
    with (
        gzip.open(DIRECTORY_DATA_DIR / "postcodes.csv.gz", "rt") as fin,
        gzip.open(out / "postcodes.csv.gz", "wt") as fout,
    ):
        for i, line in enumerate(fin):
            if i <= 2000 or line.startswith(("TR1 ", "LS1 ", "SA1 ", "EH1 ")):
                fout.write(line)
    with (
        (DIRECTORY_DATA_DIR / "places.csv").open() as fin,
        (out / "places.csv").open("w", newline="") as fout,
    ):
        reader = csv.reader(fin)
        writer = csv.writer(fout)
        writer.writerow(next(reader))
        for i, row in enumerate(reader):
            if i % 20 == 0 or row[3] in ("City", "Town"):
                writer.writerow(row)
    return out


@pytest.fixture(scope="session", params=BACKENDS)
def directory_db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database with the FULL directory loaded, once per test session."""
    url, drop = create_database(request.param, tmp_path_factory.mktemp("db"))
    upgrade(url)
    with get_sessionmaker(url)() as session, session.begin():
        import_directory(session, DIRECTORY_DATA_DIR)
    yield url
    drop()


@pytest.fixture
def directory_session(directory_db_url: str) -> Iterator[Session]:
    """A session on the loaded directory whose changes are rolled back."""
    session = get_sessionmaker(directory_db_url)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()
