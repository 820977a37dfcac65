"""Secrets that fail closed: generated on first start (0600) and reused,
ENVIRONMENT from a fixed set, placeholders refused outside development."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import Settings, generated_secrets


@pytest.fixture(autouse=True)
def no_secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SESSION_SECRET", "RASA_TOKEN", "ENVIRONMENT", "SECRETS_FILE"):
        monkeypatch.delenv(name, raising=False)


def _settings(path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, secrets_file=path, **values)  # type: ignore[call-arg]


def test_secrets_are_generated_once_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "var" / "secrets.json"
    first = _settings(path, environment="production")
    assert path.stat().st_mode & 0o777 == 0o600
    session = first.session_secret.get_secret_value()
    token = first.rasa_token.get_secret_value()
    assert len(session) >= 32 and len(token) >= 32 and session != token
    again = _settings(path, environment="production")
    assert again.session_secret.get_secret_value() == session
    assert again.rasa_token.get_secret_value() == token
    # one set explicitly wins; the other still comes from the file
    mixed = _settings(path, session_secret="a" * 40)
    assert mixed.session_secret.get_secret_value() == "a" * 40
    assert mixed.rasa_token.get_secret_value() == token


def test_processes_starting_together_agree(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda _: generated_secrets(path), range(16)))
    assert all(m == made[0] for m in made)
    assert [p.name for p in tmp_path.iterdir()] == ["secrets.json"]


def test_a_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    generated_secrets(path)
    os.chmod(path, 0o644)
    with pytest.raises(ValidationError, match="chmod 600"):
        _settings(path)
    os.chmod(path, 0o600)
    path.write_text('{"session_secret": "short"}')
    with pytest.raises(ValidationError, match="does not hold the secrets"):
        _settings(path)


def test_environment_is_one_of_a_fixed_set(tmp_path: Path) -> None:
    for name in ("development", "test", "staging", "production"):
        assert _settings(tmp_path / "s.json", environment=name).environment == name
    for wrong in ("prod", "Production", "dev", ""):
        with pytest.raises(ValidationError):
            _settings(tmp_path / "s.json", environment=wrong)


@pytest.mark.parametrize("placeholder", ["change-me", "secret", "dev-session-x"])
def test_placeholders_are_refused_outside_development(
    tmp_path: Path, placeholder: str
) -> None:
    for environment in ("test", "staging", "production"):
        with pytest.raises(ValidationError, match="SESSION_SECRET is a placeholder"):
            _settings(
                tmp_path / "s.json",
                environment=environment,
                session_secret=placeholder,
            )
    dev = _settings(tmp_path / "s.json", session_secret=placeholder)
    assert dev.session_secret.get_secret_value() == placeholder
