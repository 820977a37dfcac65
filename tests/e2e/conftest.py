"""The whole stack for end-to-end tests, started once per test session.

Real Rasa (the trained model), the real action server and the gateway run as
child processes (bot.runner, as `frontdoor run` starts them) on free loopback
ports, against a throwaway PostgreSQL database with the directory loaded. A
fake Telegram Bot API runs in a thread so the Telegram channel can be driven
too. Use the ``stack`` fixture: ``stack.gateway_url``, ``stack.database_url``,
``stack.create_adviser(...)``, ``stack.bot_api``. The browser tests share the
``browser`` (Debian's Chromium, one per module) and ``page`` fixtures and ``send``.
"""

from __future__ import annotations

import fcntl
import json
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import select

from bot.db.migrate import upgrade
from bot.db.models import Adviser, Conversation, Message
from bot.db.session import session_scope
from bot.directory.importer import import_directory
from bot.runner import MODEL, Stack, build_stack, free_port, start
from tests.support.databases import throwaway_database
from tests.support.fake_bot_api import FakeBotApi
from tests.support.servers import serve_in_thread

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TELEGRAM_SECRET = "e2e-telegram-secret-" + secrets.token_hex(8)
ADVISER_PASSWORD = "correct horse battery staple"
REPLY_TIMEOUT_MS = 20_000
# Collects the page's Content-Security-Policy violations in window.__csp.
CSP_WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@dataclass
class E2EStack:
    """The running services, their database and helpers for tests."""

    services: Stack
    bot_api: FakeBotApi
    session_secret: str
    log_dir: Path

    @property
    def gateway_url(self) -> str:
        return self.services.gateway_url

    @property
    def console_url(self) -> str:
        return self.services.gateway_url + "/console"

    @property
    def database_url(self) -> str:
        return self.services.database_url

    @property
    def rasa_url(self) -> str:
        return self.services.rasa_url

    @property
    def rasa_token(self) -> str:
        return self.services.rasa_token

    @property
    def telegram_secret(self) -> str:
        return TELEGRAM_SECRET

    def create_adviser(
        self,
        username: str | None = None,
        *,
        password: str = ADVISER_PASSWORD,
        display_name: str = "Jo Adviser",
        organisation_id: str | None = None,
    ) -> Adviser:
        """Add an adviser who can sign in to the console with ``password``."""
        from bot.console.auth import hash_password

        with session_scope(self.database_url) as session:
            adviser = Adviser(
                username=username or f"adviser-{secrets.token_hex(4)}",
                display_name=display_name,
                password_hash=hash_password(password),
                organisation_id=organisation_id,
                active=True,
            )
            session.add(adviser)
            session.flush()
            # what the console lets them see (issue 13): their organisation's
            # conversations, or every area without one
            from bot.db.models import AdviserRole
            from bot.db.repositories.access import add_membership

            add_membership(
                session,
                adviser_id=adviser.id,
                organisation_id=organisation_id,
                role=AdviserRole.ADVISER if organisation_id else AdviserRole.NATIONAL,
            )
            session.expunge(adviser)
            return adviser

    def conversation(self, conversation_id: str) -> Conversation | None:
        """Return the stored conversation (detached)."""
        with session_scope(self.database_url) as session:
            conversation = session.get(Conversation, conversation_id)
            if conversation is not None:
                session.expunge(conversation)
            return conversation

    def messages(self, conversation_id: str) -> list[Message]:
        """Return the conversation's stored messages, oldest first (detached)."""
        with session_scope(self.database_url) as session:
            rows = list(
                session.scalars(
                    select(Message)
                    .where(Message.conversation_id == conversation_id)
                    .order_by(Message.id)
                )
            )
            session.expunge_all()
            return rows

    def log(self, name: str) -> str:
        """Return the tail of a service's log (for assertion messages)."""
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


def _copy_model(to_dir: Path) -> Path:
    """Copy the trained model, waiting out a training in progress (its flock)."""
    lock_path = MODEL.parent / ".train.lock"
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            copy = to_dir / MODEL.name
            shutil.copyfile(MODEL, copy)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return copy


def _warm_up(gateway_url: str) -> None:
    """Run one triage through the stack so the first test isn't the slow one."""
    with httpx.Client(base_url=gateway_url, timeout=30) as client:
        conv = client.post("/api/widget/conversations", json={}).json()
        for text in ("How do we apply for a grant?", "Truro"):
            client.post(
                f"/api/widget/conversations/{conv['conversation_id']}/messages",
                json={
                    "token": conv["token"],
                    "client_message_id": secrets.token_hex(8),
                    "text": text,
                },
            )


@pytest.fixture(scope="session")
def stack(
    small_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[E2EStack]:
    """Rasa + action server + gateway (+ fake Bot API), once per session."""
    if not MODEL.exists():
        pytest.fail("no trained Rasa model (models/frontdoor.tar.gz): run `make model`")
    tmp = tmp_path_factory.mktemp("stack")
    log_dir = tmp / "logs"
    bot_api = FakeBotApi()
    session_secret = "e2e-" + secrets.token_urlsafe(24)
    with (
        throwaway_database("postgresql", tmp) as database_url,
        serve_in_thread(bot_api.app()) as bot_api_url,
    ):
        upgrade(database_url)
        with session_scope(database_url) as session:
            import_directory(session, small_data_dir)
        gateway_port = free_port()
        gateway_env: dict[str, str] = {
            "PUBLIC_URL": f"http://127.0.0.1:{gateway_port}",
            "ENVIRONMENT": "development",
            "SESSION_SECRET": session_secret,
            # Always open, so the hand-over replies don't depend on the clock.
            "ADVISER_HOURS": "Mon-Sun 00:00-23:59",
            "WIDGET_RATE_LIMIT_PER_MINUTE": "600",
            "WIDGET_ALLOWED_ORIGINS": json.dumps([]),
            "TELEGRAM_BOT_TOKEN": bot_api.token,
            "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
            "TELEGRAM_BASE_URL": f"{bot_api_url}/bot",
            "TELEGRAM_MODE": "webhook",
            # the person's exchanges compare replies exactly; the notice ahead of
            # a first reply is tested in tests/gateway/test_telegram_commands.py
            "TELEGRAM_PRIVACY_NOTICE": "false",
            "LOG_LEVEL": "INFO",
        }
        services = build_stack(
            database_url=database_url,
            rasa_token="e2e-" + secrets.token_urlsafe(16),
            log_dir=log_dir,
            model=_copy_model(tmp),
            gateway_port=gateway_port,
            extra_env=gateway_env,
        )
        start(services, timeout=300)
        try:
            _warm_up(services.gateway_url)
            yield E2EStack(services, bot_api, session_secret, log_dir)
        finally:
            services.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, one per test module."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A desktop page (1100x820) of its own that collects CSP violations."""
    context = browser.new_context(viewport={"width": 1100, "height": 820})
    page = context.new_page()
    page.add_init_script(CSP_WATCH)
    yield page
    context.close()


def send(page: Page, text: str) -> None:
    """Type TEXT into the open widget and send it with Enter."""
    page.locator("#fd-input").fill(text)
    page.keyboard.press("Enter")
