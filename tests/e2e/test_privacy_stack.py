"""Data protection through the real stack (Rasa with its SQL tracker store, the
action server, the gateway) on the embedded SQLite profile, every file it writes
under one var/ directory: a widget conversation carrying a unique marker is
exported, then erased, and no file the stack wrote holds the marker any more;
the gateway's own retention sweep anonymises an old conversation; Rasa takes
its token only in a header and no unauthenticated channel is open."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from bot.db.base import utcnow
from bot.db.migrate import upgrade
from bot.db.models import Conversation
from bot.db.session import get_engine, session_scope
from bot.directory.importer import import_directory
from bot.runner import PROJECT_ROOT, Stack, build_stack, start
from tests.e2e.conftest import E2EStack, _copy_model
from tests.e2e.people import wait_for
from tests.privacy.conftest import rows_mentioning

pytestmark = pytest.mark.e2e

# Where a conversation's random id may outlive it: the audit log, and the
# reports' anonymous facts (no text, no contact, by design: docs/privacy.md).
ID_ONLY = {
    "audit_log.conversation_id",
    "conversation_facts.conversation_id",
    "referral_facts.conversation_id",
}


@dataclass
class SqliteStack:
    services: Stack
    var: Path
    database_url: str
    session_secret: str

    def cli(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")} | {
            "DATABASE_URL": self.database_url,
            "LOG_DIR": str(self.var / "log"),
            "SESSION_SECRET": self.session_secret,
            "SECRETS_FILE": str(self.var / "secrets.json"),
        }
        return subprocess.run(  # noqa: S603
            [sys.executable, "-m", "bot.cli", *args],
            cwd=PROJECT_ROOT,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def files_holding(self, needle: str) -> list[str]:
        """Every file under var/ (database, WAL, logs...) that holds ``needle``."""
        hits = []
        for path in sorted(self.var.rglob("*")):
            if path.is_file() and needle.encode() in path.read_bytes():
                hits.append(path.name)
        return hits


@pytest.fixture(scope="module")
def sqlite_stack(
    small_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SqliteStack]:
    tmp = tmp_path_factory.mktemp("privacy-stack")
    var = tmp / "var"
    var.mkdir()
    database_url = f"sqlite:///{var / 'frontdoor.db'}"
    upgrade(database_url)
    with session_scope(database_url) as session:
        import_directory(session, small_data_dir)
    get_engine(database_url).dispose()
    secret = "e2e-" + secrets.token_urlsafe(24)
    services = build_stack(
        database_url=database_url,
        rasa_token="e2e-" + secrets.token_urlsafe(16),
        log_dir=var / "log",
        model=_copy_model(tmp),
        extra_env={
            "ENVIRONMENT": "development",
            "SESSION_SECRET": secret,
            "SECRETS_FILE": str(var / "secrets.json"),
            "ADVISER_HOURS": "Mon-Sun 00:00-23:59",
            "WIDGET_RATE_LIMIT_PER_MINUTE": "600",
            "LOG_LEVEL": "INFO",
            "RETENTION_SWEEP_EVERY_S": "1",
        },
    )
    start(services, timeout=300)
    try:
        yield SqliteStack(services, var, database_url, secret)
    finally:
        services.stop()


def _talk(url: str, texts: list[str]) -> str:
    with httpx.Client(base_url=url, timeout=30) as client:
        started = client.post("/api/widget/conversations", json={}).json()
        cid, token = started["conversation_id"], started["token"]
        for text in texts:
            r = client.post(
                f"/api/widget/conversations/{cid}/messages",
                json={
                    "token": token,
                    "client_message_id": secrets.token_hex(8),
                    "text": text,
                },
            )
            assert r.status_code == 200, r.text
            assert r.json()["replies"], text
    return str(cid)


def test_export_then_erase_leaves_no_file_holding_the_marker(
    sqlite_stack: SqliteStack,
) -> None:
    marker = "MARK" + secrets.token_hex(8)
    cid = _talk(
        sqlite_stack.services.gateway_url,
        [f"How do we apply for a grant for the {marker} hall?", "Truro"],
    )
    # the test can fail: the marker is on disk (our table and Rasa's events)
    assert sqlite_stack.files_holding(marker)

    exported = sqlite_stack.cli("privacy", "export", "--conversation", cid)
    assert exported.returncode == 0, exported.stderr
    [c] = json.loads(exported.stdout)["conversations"]
    assert any(marker in m["text"] for m in c["messages"] if m["from"] == "person")
    assert c["assistant_state"]["events"] > 0  # Rasa's tracker store, read
    assert any(marker in m["text"] for m in c["assistant_state"]["messages"])

    refused = sqlite_stack.cli("privacy", "erase", "--conversation", cid, stdin="n\n")
    assert refused.returncode == 1
    erased = sqlite_stack.cli("privacy", "erase", "--conversation", cid, "--yes")
    assert erased.returncode == 0, erased.stderr
    assert "erased 1 conversation(s)" in erased.stdout

    assert sqlite_stack.files_holding(marker) == []
    # the conversation's random id stays only in the audit log (who exported
    # which conversation, and when) and the reports' anonymous facts (which
    # link to nothing now); no log line names it any more
    assert set(rows_mentioning(sqlite_stack.database_url, cid)) <= ID_ONLY
    assert [f for f in sqlite_stack.files_holding(cid) if f.endswith(".log")] == []
    # the stack carries on after the erasure
    assert _talk(sqlite_stack.services.gateway_url, ["How do we apply for a grant?"])


def test_the_running_gateway_sweeps_old_conversations(
    sqlite_stack: SqliteStack,
) -> None:
    old = utcnow() - timedelta(days=200)
    cid = "old-" + secrets.token_hex(8)
    with session_scope(sqlite_stack.database_url) as s:
        s.add(
            Conversation(
                id=cid,
                channel="web",
                contact_email="someone@example.org",
                topic="funding",
                created_at=old,
                updated_at=old,
            )
        )

    def anonymised() -> bool:
        with session_scope(sqlite_stack.database_url) as s:
            c = s.get(Conversation, cid)
            return c is not None and c.anonymised_at is not None

    wait_for("the gateway's retention sweep", anonymised, timeout=30)
    with session_scope(sqlite_stack.database_url) as s:
        c = s.get(Conversation, cid)
        assert c is not None and c.contact_email is None and c.topic == "funding"


def test_rasa_takes_its_token_only_in_a_header(sqlite_stack: SqliteStack) -> None:
    services = sqlite_stack.services
    token = services.rasa_token
    with httpx.Client(base_url=services.rasa_url, timeout=10) as rasa:
        assert rasa.get("/status", params={"token": token}).status_code == 401
        ok = rasa.get("/status", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200
        # Rasa's own REST channel is not there; ours wants the token
        body = {"sender": "made-up", "message": "hello"}
        assert rasa.post("/webhooks/rest/webhook", json=body).status_code == 404
        assert rasa.post("/webhooks/frontdoor/webhook", json=body).status_code == 401
        # with the header it answers, as the gateway (and the benchmark) call it
        auth = {"Authorization": f"Bearer {token}"}
        answered = rasa.post(
            "/webhooks/frontdoor/webhook",
            json={"sender": "bench-" + secrets.token_hex(4), "message": "hello"},
            headers=auth,
            timeout=30,
        )
        assert answered.status_code == 200 and answered.json()["messages"]
    [proc] = [s.proc for s in services.services if s.name == "rasa"]
    assert proc is not None
    cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
    assert token.encode() not in cmdline
    environ = Path(f"/proc/{proc.pid}/environ").read_bytes().split(b"\0")
    names = {e.split(b"=", 1)[0].decode() for e in environ if b"=" in e}
    assert "RASA_TOKEN" in names
    assert not names & {"SESSION_SECRET", "DATABASE_URL", "TELEGRAM_BOT_TOKEN"}
    [actions] = [s.proc for s in services.services if s.name == "actions"]
    assert actions is not None
    environ = Path(f"/proc/{actions.pid}/environ").read_bytes()
    assert b"SESSION_SECRET=" not in environ and b"RASA_TOKEN=" not in environ


def test_the_person_deletes_their_widget_conversation(
    sqlite_stack: SqliteStack,
) -> None:
    """In a real browser: the notice says how long (RETENTION_DAYS), "Delete this
    conversation" asks first, "No" keeps it, "Yes" erases it everywhere and the
    widget starts afresh; no accessibility violations with the confirmation open."""
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import expect, sync_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

    marker = "MARK" + secrets.token_hex(8)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 820})
            page.goto(sqlite_stack.services.gateway_url + "/")
            page.locator(".fd-launcher").click()
            # folded away until there is a conversation: the greeting's layout
            # is untouched
            expect(page.locator(".fd-privacy-tools")).to_be_hidden()
            page.locator("#fd-input").fill(f"How do we apply for a grant, {marker}?")
            page.keyboard.press("Enter")
            expect(page.locator(".fd-log")).to_contain_text(marker, timeout=20_000)
            cid = page.evaluate(
                "Object.entries(localStorage).map(e => JSON.parse(e[1]))"
                ".find(v => v && v.conversationId).conversationId"
            )
            page.locator(".fd-privacy-summary").click()
            notice = page.locator(".fd-privacy-notice")
            expect(notice).to_contain_text("180 days")
            # it names the conversation, for a request for a copy
            expect(notice).to_contain_text(cid)
            delete = page.get_by_role("button", name="Delete this conversation")
            delete.click()
            expect(page.locator(".fd-delete-confirm")).to_be_visible()
            results = Axe().run(page)
            assert results.violations_count == 0, results.generate_report()
            page.get_by_role("button", name="No, keep it").click()
            expect(delete).to_be_focused()
            with session_scope(sqlite_stack.database_url) as s:
                assert s.get(Conversation, cid) is not None
            delete.click()
            page.get_by_role("button", name="Yes, delete it").click()
            expect(page.locator(".fd-notice")).to_contain_text("has been deleted")
            expect(page.locator(".fd-log")).not_to_contain_text(marker)
            with session_scope(sqlite_stack.database_url) as s:
                assert s.get(Conversation, cid) is None
            assert sqlite_stack.files_holding(marker) == []
            # a new message starts a new conversation
            page.locator("#fd-input").fill("How do we apply for a grant?")
            page.keyboard.press("Enter")
            # (the greeting is already in the log: wait for the new conversation)
            page.wait_for_function(
                "() => Object.values(localStorage).some(v => {"
                " try { return Boolean(JSON.parse(v).conversationId); }"
                " catch (e) { return false; } })",
                timeout=20_000,
            )
            fresh = page.evaluate(
                "Object.values(localStorage).map(v => {"
                " try { return JSON.parse(v); } catch (e) { return null; } })"
                ".find(v => v && v.conversationId).conversationId"
            )
            assert fresh and fresh != cid
        finally:
            browser.close()


def test_erasure_on_postgresql_reaches_rasas_events_and_the_logs(
    stack: E2EStack,
) -> None:
    """The shared PostgreSQL stack: after an erasure no row of any table, Rasa's
    events table included, and no log file holds the marker (docs/privacy.md on
    what VACUUM does with the dead rows)."""
    marker = "MARK" + secrets.token_hex(8)
    cid = _talk(stack.gateway_url, [f"Can we get a grant for the {marker} hut?"])
    assert "events.data" in rows_mentioning(stack.database_url, marker)
    assert "messages.content" in rows_mentioning(stack.database_url, marker)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")} | {
        "DATABASE_URL": stack.database_url,
        "LOG_DIR": str(stack.log_dir),
        "SESSION_SECRET": stack.session_secret,
    }
    erased = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-m",
            "bot.cli",
            "privacy",
            "erase",
            "--conversation",
            cid,
            "--yes",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert erased.returncode == 0, erased.stderr
    assert rows_mentioning(stack.database_url, marker) == []
    assert set(rows_mentioning(stack.database_url, cid)) <= ID_ONLY
    for path in stack.log_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert marker.encode() not in data and cid.encode() not in data, path
