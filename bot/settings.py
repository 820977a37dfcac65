"""Runtime configuration: the one place that reads the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"
DIRECTORY_DATA_DIR = PROJECT_ROOT / "data" / "directory"

PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret", "password"}


class Settings(BaseSettings):
    """Settings read from the environment (and `.env`), prefixed nothing."""

    model_config = SettingsConfigDict(
        env_file=PROJECT_ROOT / ".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: str = Field(default="development")
    database_url: str = Field(
        default=f"sqlite:///{VAR_DIR / 'frontdoor.db'}",
        description="SQLAlchemy URL; PostgreSQL as postgresql+psycopg://...",
    )
    directory_data_dir: Path = DIRECTORY_DATA_DIR

    # Rasa and the action server listen on loopback only.
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: SecretStr = SecretStr("dev-rasa-token")
    rasa_timeout_s: float = 8.0
    # The risk check asks Rasa's NLU about messages the bot does not answer
    # (queued, with an adviser): a short wait, then the phrase floor alone.
    rasa_parse_timeout_s: float = 2.0
    action_server_url: str = "http://127.0.0.1:5055/webhook"

    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000
    public_url: str = "http://127.0.0.1:8000"
    session_secret: SecretStr = SecretStr("dev-session-secret-not-for-production")
    widget_allowed_origins: list[str] = Field(default_factory=list)
    widget_rate_limit_per_minute: int = 30

    telegram_bot_token: SecretStr | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_mode: str = "webhook"  # or "polling"
    # Telegram asks for no more than about one message a second to one chat.
    telegram_chat_interval_s: float = 1.0
    # how long an idle chat's first update waits for one Telegram sent with it
    telegram_reorder_window_s: float = 0.2
    # The short privacy notice sent before a Telegram conversation's first reply.
    telegram_privacy_notice: bool = True

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

    # --- the scaled profile (docs/deploy.md): PostgreSQL + Redis, N workers ---
    # Redis carries live-update notices (ids only), the shared rate limits and
    # stream caps, and Rasa's lock store; nothing else lives there.
    redis_url: str | None = None
    redis_key_prefix: str = "frontdoor"
    gateway_workers: int = Field(default=1, ge=1)
    rasa_workers: int = Field(default=1, ge=1)

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
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.environment != "development":
            for name in ("rasa_token", "session_secret"):
                value: SecretStr = getattr(self, name)
                secret = value.get_secret_value()
                if secret.lower() in PLACEHOLDER_SECRETS or secret.startswith("dev-"):
                    raise ValueError(f"{name.upper()} must be set to a real secret")
        return self


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (read once)."""
    return Settings()
