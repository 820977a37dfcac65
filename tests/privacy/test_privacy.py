"""Export, erasure and the retention sweep across every store, on SQLite and
PostgreSQL: the app's tables, Rasa's tracker store, the outbox and the logs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from bot.cli import app
from bot.db.models import (
    AuditEntry,
    Conversation,
    Handoff,
    Message,
    Outbox,
    TelegramProfile,
)
from bot.db.session import get_engine, session_scope
from bot.privacy import erase_conversation, stores
from bot.privacy.sweep import sweep
from bot.settings import get_settings
from tests.privacy.conftest import log_line, make_person, rows_mentioning

pytestmark = pytest.mark.integration

runner = CliRunner()


def _events(db_url: str, cid: str) -> int:
    with session_scope(db_url) as s:
        return int(
            s.scalar(
                text("SELECT count(*) FROM events WHERE sender_id = :s"), {"s": cid}
            )
        )


def _audit(db_url: str) -> list[AuditEntry]:
    with session_scope(db_url) as s:
        rows = list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        s.expunge_all()
        return rows


def test_export_holds_everything_and_is_audited(db_url: str) -> None:
    person = make_person(db_url)
    make_person(db_url)  # someone else, never in the export
    result = runner.invoke(app, ["privacy", "export", "--email", person.email.upper()])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    [c] = data["conversations"]
    assert c["conversation_id"] == person.conversation_id
    assert c["contact_email"] == person.email
    assert [m["from"] for m in c["messages"]] == ["person", "bot", "adviser"]
    assert c["messages"][2]["adviser"] == "Jo Adviser"
    assert c["messages"][1]["delivery"] == "failed"
    assert person.marker in c["notes_by_advisers"][0]["text"]
    assert person.marker in c["handovers"][0]["summary"]
    assert c["assistant_state"]["slots"] == {"contact_email": person.email}
    assert c["assistant_state"]["intents"] == ["ask_funding"]
    assert c["council_area"] == {"code": "E07000001", "name": "Northdale"}
    [entry] = _audit(db_url)
    assert (entry.action, entry.conversation_id) == ("exported", person.conversation_id)
    assert entry.actor.startswith("cli:")
    # --html: a readable page, everything escaped
    page = runner.invoke(
        app, ["privacy", "export", "--conversation", person.conversation_id, "--html"]
    )
    assert page.exit_code == 0
    assert page.stdout.startswith("<!doctype html>")
    assert "Jo Adviser" in page.stdout and person.marker in page.stdout
    # nothing held: an empty export, said so
    none = runner.invoke(app, ["privacy", "export", "--telegram-user", "424242"])
    assert none.exit_code == 0 and json.loads(none.stdout)["conversations"] == []
    both = runner.invoke(
        app, ["privacy", "export", "--email", person.email, "--conversation", "x"]
    )
    assert both.exit_code == 2


def test_export_to_a_file_is_private(db_url: str, tmp_path: Path) -> None:
    person = make_person(db_url)
    out = tmp_path / "sar.json"
    result = runner.invoke(
        app,
        [
            "privacy",
            "export",
            "--conversation",
            person.conversation_id,
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert out.stat().st_mode & 0o777 == 0o600
    assert person.marker in out.read_text()


def test_erase_removes_the_person_from_every_store(db_url: str) -> None:
    person = make_person(db_url, channel="telegram", telegram_user="987654321")
    with session_scope(db_url) as s:  # the Telegram channel's profile of them
        s.add(
            TelegramProfile(
                conversation_id=person.conversation_id,
                display_name=f"{person.marker} Jones",
                username=person.marker.lower(),
            )
        )
    exported = runner.invoke(app, ["privacy", "export", "--telegram-user", "987654321"])
    [record] = json.loads(exported.stdout)["conversations"]
    [profile] = record["other_records"]["telegram_profiles"]
    assert profile["display_name"] == f"{person.marker} Jones"
    other = make_person(db_url)
    kept_line = log_line(db_url, "turn done", conversation_id=other.conversation_id)
    log_line(db_url, "turn done", conversation_id=person.conversation_id)
    log_line(db_url, "telegram update", chat_id=person.telegram_user or "")
    assert set(rows_mentioning(db_url, person.marker)) >= {
        "telegram_profiles.display_name",
        "messages.content",
        "handoffs.summary",
        "conversations.contact_email",
        "outbox.last_error",
        "events.data",
    }
    # asks first; "no" erases nothing
    refused = runner.invoke(
        app, ["privacy", "erase", "--telegram-user", "987654321"], input="n\n"
    )
    assert refused.exit_code == 1
    assert _events(db_url, person.conversation_id) == 3
    result = runner.invoke(
        app, ["privacy", "erase", "--telegram-user", "987654321"], input="y\n"
    )
    assert result.exit_code == 0, result.output
    assert "erased 1 conversation(s)" in result.stdout
    assert rows_mentioning(db_url, person.marker) == []
    # the id stays only where the export above was audited
    assert rows_mentioning(db_url, person.conversation_id) == [
        "audit_log.conversation_id"
    ]
    assert rows_mentioning(db_url, "987654321") == []
    assert _events(db_url, person.conversation_id) == 0
    log = (get_settings().log_dir / "gateway.log").read_text()
    assert person.conversation_id not in log and "987654321" not in log
    assert log == kept_line + "\n"  # the other person's line stays
    # the other person is untouched
    assert person.marker not in "".join(rows_mentioning(db_url, other.marker))
    assert "messages.content" in rows_mentioning(db_url, other.marker)
    assert _events(db_url, other.conversation_id) == 3
    # recorded: when, by whom, how many, never which or what
    [entry] = [e for e in _audit(db_url) if e.action == "erased"]
    assert (entry.action, entry.conversations, entry.conversation_id) == (
        "erased",
        1,
        None,
    )
    assert entry.detail == "by Telegram user id"
    again = runner.invoke(app, ["privacy", "erase", "--email", person.email, "--yes"])
    assert again.exit_code == 0 and "nothing erased" in again.stdout


def test_erase_conversation_for_the_channels(db_url: str) -> None:
    """The function the widget and Telegram's /delete call: in the caller's
    transaction (done at its commit) or on its own."""
    first = make_person(db_url)
    second = make_person(db_url)
    with session_scope(db_url) as s:
        assert erase_conversation(s, first.conversation_id)
        assert s.get(Conversation, first.conversation_id) is None
    assert erase_conversation(db_url, second.conversation_id)
    assert not erase_conversation(db_url, second.conversation_id)
    for p in (first, second):
        assert rows_mentioning(db_url, p.marker) == []
    assert [(e.actor, e.detail) for e in _audit(db_url)] == [
        ("person", "by the person"),
        ("person", "by the person"),
    ]


def test_sqlite_file_keeps_no_copy_of_erased_text(sqlite_url: str) -> None:
    """PostgreSQL: docs/privacy.md on VACUUM and when the space is reused."""
    db_url = sqlite_url
    person = make_person(db_url)
    path = Path(db_url.split("///", 1)[1])
    files = [path, Path(f"{path}-wal")]

    def bytes_on_disk() -> bytes:
        return b"".join(f.read_bytes() for f in files if f.exists())

    assert person.marker.encode() in bytes_on_disk()  # the test can fail
    assert erase_conversation(db_url, person.conversation_id)
    assert person.marker.encode() not in bytes_on_disk()
    assert person.conversation_id.encode() not in bytes_on_disk()
    with get_engine(db_url).connect() as conn:
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1


NOW = datetime(2027, 7, 1, 12, 0, tzinfo=UTC)


def test_frozen_clock_sweep_keeps_only_anonymous_facts(db_url: str) -> None:
    old = make_person(db_url, last_active=NOW - timedelta(days=181))
    recent = make_person(db_url, last_active=NOW - timedelta(days=179))
    log_line(db_url, "turn done", conversation_id=old.conversation_id)
    # what a sweep at NOW would do, without doing it
    dry = runner.invoke(
        app, ["privacy", "sweep", "--now", NOW.isoformat(), "--dry-run"]
    )
    assert dry.exit_code == 0 and "would anonymise 1 conversation" in dry.stdout
    assert "messages.content" in rows_mentioning(db_url, old.marker)
    # today nothing is that old
    assert sweep() == []
    result = runner.invoke(app, ["privacy", "sweep", "--now", "2027-07-01T12:00Z"])
    assert result.exit_code == 0, result.output
    assert "anonymised 1 conversation" in result.stdout
    assert rows_mentioning(db_url, old.marker) == []
    assert _events(db_url, old.conversation_id) == 0
    assert (
        old.conversation_id not in (get_settings().log_dir / "gateway.log").read_text()
    )
    with session_scope(db_url) as s:
        c = s.get(Conversation, old.conversation_id)
        assert c is not None
        assert (c.channel, c.topic, c.subtopic, c.lad_code, c.outcome) == (
            "web",
            "funding",
            "grants",
            "E07000001",
            "answered",
        )
        assert c.created_at == NOW - timedelta(days=181, hours=1)
        assert c.anonymised_at == NOW
        assert (c.contact_email, c.place_name, c.channel_user_id) == (None, None, None)
        messages = select(func.count()).select_from(Message)
        assert s.scalar(messages.where(Message.conversation_id == c.id)) == 0
        assert (
            s.scalar(
                select(func.count())
                .select_from(Outbox)
                .where(Outbox.conversation_id == c.id)
            )
            == 0
        )
        [h] = s.scalars(select(Handoff).where(Handoff.conversation_id == c.id))
        assert (h.reason, h.outcome, h.summary, h.last_messages) == (
            "asked_for_person",
            "answered",
            "",
            [],
        )
    # the recent one is whole; a second sweep finds nothing more
    assert "messages.content" in rows_mentioning(db_url, recent.marker)
    assert sweep(now=NOW) == []
    # a day later the recent one is 180 days idle: still kept (more than 180)
    assert sweep(now=NOW + timedelta(days=1)) == []
    assert sweep(now=NOW + timedelta(days=1, minutes=1)) == [recent.conversation_id]
    assert [e.action for e in _audit(db_url)] == ["swept", "swept"]
    bad = runner.invoke(app, ["privacy", "sweep", "--now", "next tuesday"])
    assert bad.exit_code == 2


def test_retention_days_setting(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_settings().retention_days == 180
    person = make_person(db_url, last_active=NOW - timedelta(days=31))
    monkeypatch.setenv("RETENTION_DAYS", "30")
    get_settings.cache_clear()
    assert sweep(now=NOW) == [person.conversation_id]


def test_every_table_referring_to_conversations_is_covered() -> None:
    """A table added later with a foreign key to conversations is removed with
    them (erasure) or by the sweep unless its anonymous columns are listed."""
    from bot.privacy.erasure import KEPT_ON_SWEEP

    tables = stores.tables_referring_to_conversations()
    assert {"messages", "handoffs", "outbox"} <= set(tables)
    assert set(KEPT_ON_SWEEP) <= set(tables)
