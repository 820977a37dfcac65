"""Runtime configuration: the one place that reads the environment."""

from __future__ import annotations

import json
import os
import secrets
import stat
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"
DIRECTORY_DATA_DIR = PROJECT_ROOT / "data" / "directory"

PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret", "password"}
# The secrets made on first start when none is set (issue 13): kept here, 0600.
SECRETS_FILE = VAR_DIR / "secrets.json"
GENERATED = ("rasa_token", "session_secret")
Environment = Literal["development", "test", "staging", "production"]


class SecretsFileError(ValueError):
    """The generated-secrets file is unsafe or unreadable."""


def generated_secrets(path: Path) -> dict[str, str]:
    """Return the secrets kept in ``path``, making it (mode 0600) if missing.

    Made once and reused, so every process of the stack (the gateway's
    workers, the runner that gives Rasa its token) reads the same ones; two
    processes starting together agree (the file appears whole, by a link).
    A file that others can read or write is refused, never used.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        values = {name: secrets.token_urlsafe(32) for name in GENERATED}
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(values, f)
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process made it first: use theirs
        finally:
            tmp.unlink(missing_ok=True)
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretsFileError(
            f"{path} can be read by other users (mode {stat.filemode(mode)}): "
            f"run `chmod 600 {path}` and start again"
        )
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise SecretsFileError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not all(
        isinstance(data.get(n), str) and len(data[n]) >= 32 for n in GENERATED
    ):
        raise SecretsFileError(f"{path} does not hold the secrets: delete it")
    return {n: data[n] for n in GENERATED}


class Settings(BaseSettings):
    """Settings read from the environment (and `.env`), prefixed nothing."""

    model_config = SettingsConfigDict(
        env_file=PROJECT_ROOT / ".env", env_file_encoding="utf-8", extra="ignore"
    )

    # development (a laptop), test (a throwaway test run), staging, production
    environment: Environment = "development"
    database_url: str = Field(
        default=f"sqlite:///{VAR_DIR / 'frontdoor.db'}",
        description="SQLAlchemy URL; PostgreSQL as postgresql+psycopg://...",
    )
    directory_data_dir: Path = DIRECTORY_DATA_DIR

    # Rasa and the action server listen on loopback only.
    rasa_url: str = "http://127.0.0.1:5005"
    # unset: generated into SECRETS_FILE on first start and reused
    rasa_token: SecretStr = SecretStr("")
    rasa_timeout_s: float = 8.0
    # The risk check asks Rasa's NLU about messages the bot does not answer
    # (queued, with an adviser): a short wait, then the phrase floor alone.
    rasa_parse_timeout_s: float = 2.0
    action_server_url: str = "http://127.0.0.1:5055/webhook"

    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000
    public_url: str = "http://127.0.0.1:8000"
    # signs console sessions' CSRF and the widget's conversation tokens;
    # unset: generated into SECRETS_FILE on first start and reused
    session_secret: SecretStr = SecretStr("")
    secrets_file: Path = SECRETS_FILE
    widget_allowed_origins: list[str] = Field(default_factory=list)
    widget_rate_limit_per_minute: int = 30
    # issue 13: the reverse proxies whose X-Forwarded-For / -Proto the gateway
    # believes (addresses or networks); none: the TCP peer is the client
    trusted_proxies: list[str] = Field(default_factory=list)
    # the most any request may send (bytes); larger is refused with 413 as
    # soon as it is seen, before the body is read whole
    max_request_body_bytes: int = Field(default=1024 * 1024, ge=1024)

    telegram_bot_token: SecretStr | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_mode: str = "webhook"  # or "polling"
    # Telegram asks for no more than about one message a second to one chat.
    telegram_chat_interval_s: float = 1.0
    # at most how long an idle chat's first update waits for the webhook
    # requests received with it (none: no wait; with Redis, other workers':
    # the whole window)
    telegram_reorder_window_s: float = 0.2
    # The short privacy notice sent before a Telegram conversation's first reply.
    telegram_privacy_notice: bool = True
    # A message the delivery worker took is due again after this if the worker
    # died while sending it (another worker then sends what is left of it).
    outbox_send_lease_s: float = Field(default=60.0, gt=0)

    adviser_hours: str = "Mon-Fri 09:00-17:00"
    adviser_timezone: str = "Europe/London"

    log_level: str = "INFO"
    # where the services log (bot/runner.py sets it for its children); the
    # privacy sweep and erasures remove the lines naming a conversation there
    log_dir: Path = VAR_DIR / "log"

    # issue 13: how long a conversation is kept after its last activity, in
    # days; then only anonymous facts stay (docs/privacy.md)
    retention_days: int = Field(default=180, ge=1)
    # how often the running gateway sweeps (seconds; 0: never, only by hand)
    retention_sweep_every_s: float = Field(default=24 * 3600.0, ge=0)
    # where people ask for a copy or deletion (an email address or a web page
    # of the organisation running Front Door), named in the privacy notice
    privacy_contact: str = ""

    # --- the scaled profile (docs/deploy.md): PostgreSQL + Redis, N workers ---
    # Redis carries live-update notices (ids only), the shared rate limits and
    # stream caps, and Rasa's lock store; nothing else lives there.
    redis_url: str | None = None
    redis_key_prefix: str = "frontdoor"
    gateway_workers: int = Field(default=1, ge=1)
    rasa_workers: int = Field(default=1, ge=1)

    # issue 10 (console): waiting-time targets for the queue's colour bands
    console_wait_amber_minutes: int = 15
    console_wait_red_minutes: int = 60
    # issue 10 (console): replies by email to a person who left an address
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str | None = None
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout_s: float = 10.0

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_scaled(self) -> bool:
        """PostgreSQL and Redis: state shared between processes and hosts."""
        return bool(self.redis_url) and not self.is_sqlite

    def profile_problem(self) -> str | None:
        """Why this mix of workers and stores is unsafe, in one line; else None."""
        if self.gateway_workers > 1 and not self.redis_url:
            return (
                f"GATEWAY_WORKERS={self.gateway_workers} needs REDIS_URL: live "
                "updates and rate limits must be shared between the workers"
            )
        if self.gateway_workers > 1 and self.is_sqlite:
            return (
                f"GATEWAY_WORKERS={self.gateway_workers} needs PostgreSQL "
                "(DATABASE_URL): one message at a time per conversation across "
                "processes is a PostgreSQL advisory lock"
            )
        if self.rasa_workers > 1 and not self.redis_url:
            return (
                f"RASA_WORKERS={self.rasa_workers} needs REDIS_URL: Rasa's lock "
                "store must be Redis, not in memory, with more than one worker"
            )
        return None

    @model_validator(mode="after")
    def _secrets_fail_closed(self) -> Settings:
        """Fill unset secrets from the generated file; refuse placeholders.

        There is no usable default: a secret that is not set comes from
        ``secrets_file`` (made on first start), and outside development a
        placeholder ("change-me", "dev-...") stops start-up.
        """
        missing = [n for n in GENERATED if not getattr(self, n).get_secret_value()]
        if missing:
            made = generated_secrets(self.secrets_file)
            for name in missing:
                setattr(self, name, SecretStr(made[name]))
        if self.environment != "development":
            for name in GENERATED:
                value: SecretStr = getattr(self, name)
                secret = value.get_secret_value()
                if secret.lower() in PLACEHOLDER_SECRETS or secret.startswith("dev-"):
                    raise ValueError(
                        f"{name.upper()} is a placeholder: set a real secret, or "
                        f"unset it to use the one generated in {self.secrets_file}"
                    )
        return self


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (read once)."""
    return Settings()
