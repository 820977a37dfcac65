"""The two profiles: which mixes of workers and stores start, and which refuse."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.runner import endpoints_file, redis_lock_store
from bot.settings import Settings

PG = "postgresql+psycopg://127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({}, None),
        ({"database_url": PG, "redis_url": REDIS, "gateway_workers": 4,
          "rasa_workers": 2}, None),
        ({"gateway_workers": 2}, "GATEWAY_WORKERS=2 needs REDIS_URL"),
        (
            {"gateway_workers": 2, "redis_url": REDIS},
            "GATEWAY_WORKERS=2 needs PostgreSQL",
        ),
        ({"rasa_workers": 2}, "RASA_WORKERS=2 needs REDIS_URL"),
        ({"database_url": PG, "rasa_workers": 3}, "RASA_WORKERS=3 needs REDIS_URL"),
    ],
)
def test_unsafe_mixes_are_refused_with_one_line(
    env: dict[str, object], problem: str | None
) -> None:
    found = Settings(**env).profile_problem()  # type: ignore[arg-type]
    if problem is None:
        assert found is None
    else:
        assert found is not None and found.startswith(problem) and "\n" not in found


def test_scaled_means_postgresql_and_redis() -> None:
    assert Settings(database_url=PG, redis_url=REDIS).is_scaled
    assert not Settings(redis_url=REDIS).is_scaled  # SQLite: embedded
    assert not Settings(database_url=PG).is_scaled


def test_frontdoor_run_refuses_before_starting_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_WORKERS", "2")
    monkeypatch.delenv("REDIS_URL", raising=False)
    from bot.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["run"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "refusing to start: GATEWAY_WORKERS=2 needs REDIS_URL" in result.output


def test_rasa_gets_its_redis_lock_store() -> None:
    section = redis_lock_store("redis://:s3cret@10.0.0.5:6380/2", "fd_run-1")
    assert "type: redis" in section
    assert "url: 10.0.0.5" in section and "port: 6380" in section
    assert "db: 2" in section and "password: s3cret" in section
    assert "key_prefix: fdrun1rasa" in section  # Rasa takes alphanumerics only


def test_embedded_rasa_keeps_the_endpoints_file(tmp_path: Path) -> None:
    out = tmp_path
    assert endpoints_file(None, "fd", out).name == "endpoints.yml"
    scaled = endpoints_file(REDIS, "fd", out)
    assert scaled.parent == out and "lock_store:" in scaled.read_text()
    assert "tracker_store:" in scaled.read_text()
    assert oct(scaled.stat().st_mode & 0o777) == "0o600"
