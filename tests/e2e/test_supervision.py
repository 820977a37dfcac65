"""`frontdoor run` heals itself: kill -9 of the gateway, the action server or
Rasa while ten people talk on the widget and Telegram; each comes back by itself, every
accepted message is stored once and answered or queued, and Rasa's dialogue state
(an open form, a hand-over's pause) survives its restart (SQL tracker store).

The stack is `frontdoor run` itself, as `make run` starts it, on the embedded
SQLite profile with free ports; its services are found as its child processes.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from bot.db.migrate import upgrade
from bot.db.models import Conversation, Handoff, Message, MessageType
from bot.db.repositories.conversations import WITH_ADVISERS
from bot.db.session import session_scope
from bot.directory.importer import import_directory
from bot.gateway.channels.telegram import SECRET_HEADER, WEBHOOK_PATH
from bot.runner import APP_PYTHON, MODEL, PROJECT_ROOT, free_port, group_alive
from tests.e2e.conftest import E2EStack, _copy_model
from tests.e2e.people import wait_for
from tests.support.databases import throwaway_database
from tests.support.fake_bot_api import FakeBotApi
from tests.support.servers import serve_in_thread

pytestmark = pytest.mark.e2e

START_S = 300.0  # the first start: Rasa loads its model on a busy machine
BACK_S = 240.0  # a restart, Rasa's included
GRANT = "How can we find a grant for our community garden?"
ASK_PLACE = "Where is your group based"
PLACE, PLACE_LIO = "Truro", "Cornwall Voluntary Sector Forum"
CHATTER = [
    "How do we recruit new trustees?",
    "How do we apply for a grant?",
    "Leeds",
    "thanks",
    "Do we need a safeguarding policy?",
    "hello",
]
# Which child of `frontdoor run` is which, by its command line.
MARKS: dict[str, Callable[[list[bytes]], bool]] = {
    # `python -m rasa_addons.run run ...` (the token kept off the command line)
    "rasa": lambda argv: b"rasa_addons.run" in argv[:3],
    "actions": lambda argv: b"rasa_sdk" in argv,
    "gateway": lambda argv: b"uvicorn" in argv,
}


@dataclass
class Supervised:
    """`frontdoor run` running, and what a test needs to reach it."""

    proc: subprocess.Popen[bytes]
    gateway_url: str
    rasa_url: str
    rasa_token: str
    database_url: str
    log_dir: Path
    bot_api: FakeBotApi
    telegram_secret: str

    def child(self, name: str) -> int | None:
        """Return the pid of the service ``name`` (a child of frontdoor run)."""
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if int(stat[1]) != self.proc.pid or stat[0] in "ZX":
                continue
            if MARKS[name](argv):
                return int(entry.name)
        return None

    def health(self) -> dict[str, Any]:
        try:
            response = httpx.get(self.gateway_url + "/healthz", timeout=5)
        except httpx.HTTPError:
            return {}
        return response.json() if response.status_code == 200 else {}  # type: ignore[no-any-return]

    def all_up(self) -> bool:
        return self.health().get("status") == "ok"

    def log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def kill(self, name: str) -> int:
        """kill -9 the service ``name``; return its pid."""
        pid = self.child(name)
        assert pid is not None, f"no {name} under frontdoor run"
        os.kill(pid, signal.SIGKILL)
        return pid

    def wait_back(self, name: str, old_pid: int) -> int:
        """Wait until ``name`` runs again under a new pid and the stack is up."""
        assert self.proc.poll() is None, self.log("supervisor")

        def back() -> int | None:
            pid = self.child(name)
            return pid if pid not in (None, old_pid) and self.all_up() else None

        try:
            return wait_for(f"{name} back", back, timeout=BACK_S)
        except AssertionError:
            raise AssertionError(self.log("supervisor") + self.log(name)) from None

    def tracker(self, conversation_id: str) -> dict[str, Any]:
        response = httpx.get(
            f"{self.rasa_url}/conversations/{conversation_id}/tracker",
            headers={"Authorization": f"Bearer {self.rasa_token}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def supervised(
    small_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Supervised]:
    """`frontdoor run` on a throwaway SQLite database, with a fake Bot API."""
    if not MODEL.exists():
        pytest.fail("no trained Rasa model (models/frontdoor.tar.gz): run `make model`")
    tmp = tmp_path_factory.mktemp("supervised")
    bot_api = FakeBotApi()
    with (
        throwaway_database("sqlite", tmp) as database_url,
        serve_in_thread(bot_api.app()) as bot_api_url,
    ):
        upgrade(database_url)
        with session_scope(database_url) as session:
            import_directory(session, small_data_dir)
        ports = {name: free_port() for name in ("rasa", "actions", "gateway")}
        token = "e2e-" + secrets.token_urlsafe(16)
        gateway_url = f"http://127.0.0.1:{ports['gateway']}"
        env = dict(
            os.environ,
            DATABASE_URL=database_url,
            RASA_URL=f"http://127.0.0.1:{ports['rasa']}",
            RASA_TOKEN=token,
            ACTION_SERVER_URL=f"http://127.0.0.1:{ports['actions']}/webhook",
            GATEWAY_PORT=str(ports["gateway"]),
            PUBLIC_URL=gateway_url,
            ENVIRONMENT="development",
            SESSION_SECRET="e2e-" + secrets.token_urlsafe(24),
            ADVISER_HOURS="Mon-Sun 00:00-23:59",
            WIDGET_RATE_LIMIT_PER_MINUTE="6000",
            WIDGET_ALLOWED_ORIGINS=json.dumps([]),
            TELEGRAM_BOT_TOKEN=bot_api.token,
            TELEGRAM_WEBHOOK_SECRET="e2e-" + secrets.token_hex(8),
            TELEGRAM_BASE_URL=f"{bot_api_url}/bot",
            TELEGRAM_MODE="webhook",
            LOG_LEVEL="INFO",
        )
        log_dir = tmp / "logs"
        model = _copy_model(tmp)
        with (tmp / "frontdoor-run.out").open("wb") as out:
            proc = subprocess.Popen(  # noqa: S603 (our own command)
                [str(APP_PYTHON), "-m", "bot.cli", "run", "--model", str(model)]
                + ["--log-dir", str(log_dir)],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        made = Supervised(
            proc,
            gateway_url,
            env["RASA_URL"],
            token,
            database_url,
            log_dir,
            bot_api,
            env["TELEGRAM_WEBHOOK_SECRET"],
        )
        try:
            wait_for(
                "frontdoor run ready",
                lambda: proc.poll() is not None or made.all_up(),
                START_S,
            )
            assert proc.poll() is None, (tmp / "frontdoor-run.out").read_text()
            yield made
        finally:
            children = {n: made.child(n) for n in MARKS}
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            finally:
                for pid in children.values():
                    if pid is not None and group_alive(pid):
                        os.killpg(pid, signal.SIGKILL)
            assert proc.returncode == 0, (tmp / "frontdoor-run.out").read_text()
            assert not any(group_alive(p) for p in children.values() if p)


# ------------------------------------------------------------------ the people


@dataclass
class Sent:
    """One accepted message: its channel's own id (``source_id``) and text."""

    channel: str
    source_id: str
    text: str
    status: str = "bot"
    replies: list[str] = field(default_factory=list)


@dataclass
class Person:
    """Someone on the widget who resends a message (same id) until it is accepted."""

    gateway_url: str
    conversation_id: str = ""
    token: str = ""
    sent: list[Sent] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def _post(
        self, path: str, body: dict[str, Any], deadline_s: float
    ) -> dict[str, Any]:
        def attempt() -> dict[str, Any] | None:
            try:
                response = httpx.post(self.gateway_url + path, json=body, timeout=30)
            except httpx.HTTPError:
                return None  # the gateway is down: try again
            if response.status_code != 200 and response.status_code != 201:
                self.refused.append(f"{response.status_code} {response.text[:200]}")
                return None
            return response.json()  # type: ignore[no-any-return]

        return wait_for(f"POST {path} accepted", attempt, timeout=deadline_s)

    def new_conversation(self, deadline_s: float = BACK_S) -> None:
        started = self._post("/api/widget/conversations", {}, deadline_s)
        self.conversation_id, self.token = started["conversation_id"], started["token"]

    def say(self, text: str, deadline_s: float = BACK_S) -> Sent:
        if not self.conversation_id:
            self.new_conversation(deadline_s)
        client_id = secrets.token_hex(8)
        body = {"token": self.token, "client_message_id": client_id, "text": text}
        path = f"/api/widget/conversations/{self.conversation_id}/messages"
        answer = self._post(path, body, deadline_s)
        sent = Sent(
            "web",
            f"{self.conversation_id}:{client_id}",
            text,
            answer["status"],
            [r["text"] for r in answer["replies"]],
        )
        self.sent.append(sent)
        return sent


@dataclass
class TelegramPerson:
    """Someone on Telegram: an update is redelivered (same id) until acknowledged,
    as Telegram does."""

    gateway_url: str
    bot_api: FakeBotApi
    secret: str
    chat: int = field(default_factory=lambda: 8_000_000 + secrets.randbelow(10**6))
    conversation_id: str = ""  # not used: one chat is one conversation
    sent: list[Sent] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def say(self, text: str, deadline_s: float = BACK_S) -> Sent:
        update = self.bot_api.text_update(self.chat, text)

        def attempt() -> bool:
            try:
                response = httpx.post(
                    self.gateway_url + WEBHOOK_PATH,
                    json=update,
                    headers={SECRET_HEADER: self.secret},
                    timeout=30,
                )
            except httpx.HTTPError:
                return False  # the gateway is down: Telegram tries again
            if response.status_code != 200:
                self.refused.append(f"{response.status_code} {response.text[:200]}")
                return False
            return True

        wait_for(f"update {update['update_id']} acknowledged", attempt, deadline_s)
        sent = Sent("telegram", f"update:{update['update_id']}", text)
        self.sent.append(sent)
        return sent


class Crowd:
    """Ten people talking in threads until stopped, six on the widget and four on
    Telegram; a queued widget person starts afresh."""

    # People read and type: a message each this often at most, not a tight loop.
    THINK_S = 0.3

    def __init__(self, supervised: Supervised) -> None:
        url = supervised.gateway_url
        self.people: list[Person | TelegramPerson] = [Person(url) for _ in range(6)]
        self.people += [
            TelegramPerson(url, supervised.bot_api, supervised.telegram_secret)
            for _ in range(4)
        ]
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.threads = [
            threading.Thread(target=self._talk, args=(p, i), daemon=True)
            for i, p in enumerate(self.people)
        ]

    def _talk(self, person: Person | TelegramPerson, offset: int) -> None:
        turn = offset
        try:
            while not self.stop.is_set():
                sent = person.say(CHATTER[turn % len(CHATTER)])
                turn += 1
                if sent.status != "bot":
                    person.conversation_id = ""  # with the advisers: a new person
                self.stop.wait(self.THINK_S)
        except BaseException as exc:  # noqa: BLE001 (reported by the test)
            self.errors.append(exc)

    def __enter__(self) -> Crowd:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(BACK_S + 30)

    def accepted(self) -> int:
        return sum(len(p.sent) for p in self.people)

    def wait_accepted(self, more: int) -> None:
        """Wait until ``more`` further messages were accepted (load is running)."""
        target = self.accepted() + more
        wait_for(
            f"{more} more messages accepted",
            lambda: self.accepted() >= target or bool(self.errors),
            timeout=BACK_S,
        )

    def check(self, database_url: str) -> int:
        """Every accepted message stored once, answered or queued; return the count."""
        assert not self.errors, self.errors
        refused = [r for p in self.people for r in p.refused]
        assert not refused, refused  # no 500 (nor any other error)
        sent = [s for p in self.people for s in p.sent]
        assert_stored_once_and_answered(database_url, sent)
        return len(sent)


def turns_finished(database_url: str, sent: list[Sent]) -> bool:
    """Whether every accepted message is stored and its turn has finished."""
    with session_scope(database_url) as session:
        found = session.execute(
            select(Message.channel, Message.source_id, Message.answered_at).where(
                Message.source_id.in_([s.source_id for s in sent])
            )
        ).all()
    done = {(c, source) for c, source, answered in found if answered is not None}
    return all((s.channel, s.source_id) in done for s in sent)


def assert_stored_once_and_answered(database_url: str, sent: list[Sent]) -> None:
    # A turn the kill cut off is finished by the gateway's sweeper (after 30 s).
    wait_for(
        "every turn finished",
        lambda: turns_finished(database_url, sent),
        timeout=BACK_S,
    )
    with session_scope(database_url) as session:
        by_conversation: dict[str, list[Sent]] = {}
        for item in sent:
            stored = list(
                session.scalars(
                    select(Message).where(
                        Message.channel == item.channel,
                        Message.source_id == item.source_id,
                    )
                )
            )
            assert len(stored) == 1, (item, len(stored))  # stored exactly once
            assert stored[0].content == item.text
            by_conversation.setdefault(stored[0].conversation_id, []).append(item)
        for cid in by_conversation:
            conversation = session.get(Conversation, cid)
            assert conversation is not None
            rows = list(
                session.scalars(
                    select(Message)
                    .where(Message.conversation_id == cid)
                    .order_by(Message.id)
                )
            )
            handed_over = session.scalar(
                select(Handoff.id).where(Handoff.conversation_id == cid).limit(1)
            )
            with_advisers = (
                handed_over is not None and conversation.status in WITH_ADVISERS
            )
            # A turn cut by a kill is finished after the restart (by the redelivery
            # or the sweeper), so its answer may come after later ones.
            for here in rows:
                if here.message_type is not MessageType.INCOMING:
                    continue
                answered = here.answered_at is not None and any(
                    r.message_type is MessageType.OUTGOING and r.id > here.id
                    for r in rows
                )
                assert answered or with_advisers, "\n".join(
                    [f"{here.content!r} in {cid} neither answered nor queued:"]
                    + [f"{r.id} {r.message_type.value}: {r.content[:60]}" for r in rows]
                )


# ------------------------------------------------------------------ the tests


def test_gateway_killed_comes_back_and_nothing_is_lost(supervised: Supervised) -> None:
    with Crowd(supervised) as crowd:
        crowd.wait_accepted(6)
        old = supervised.kill("gateway")
        supervised.wait_back("gateway", old)
        crowd.wait_accepted(6)
    assert crowd.check(supervised.database_url) >= 12
    assert f"gateway (pid {old}) exited with signal SIGKILL" in supervised.log(
        "supervisor"
    )


def test_action_server_killed_comes_back_with_its_workers_gone(
    supervised: Supervised,
) -> None:
    with Crowd(supervised) as crowd:
        crowd.wait_accepted(6)
        old = supervised.kill("actions")
        supervised.wait_back("actions", old)
        # Its whole process group was stopped: no worker kept the port.
        assert not group_alive(old)
        crowd.wait_accepted(6)
    crowd.check(supervised.database_url)
    # The bot answers in full again: the place is found by the action server.
    person = Person(supervised.gateway_url)
    assert any(ASK_PLACE in t for t in person.say(GRANT).replies)
    assert any(PLACE_LIO in t for t in person.say(PLACE).replies)


def test_rasa_killed_comes_back_and_every_conversation_is_where_it_was(
    supervised: Supervised,
) -> None:
    # One person in the middle of the place form, one handed over (paused).
    in_form = Person(supervised.gateway_url)
    asked = in_form.say(GRANT)
    assert any(ASK_PLACE in t for t in asked.replies), asked
    waiting = Person(supervised.gateway_url)
    queued = waiting.say("I'd like to talk to a person")
    assert queued.status == "queued", queued
    assert supervised.tracker(waiting.conversation_id)["paused"]

    with Crowd(supervised) as crowd:
        crowd.wait_accepted(6)
        old = supervised.kill("rasa")
        # Meanwhile people are answered with the apology and queued.
        crowd.wait_accepted(6)
        supervised.wait_back("rasa", old)
        crowd.wait_accepted(3)
    crowd.check(supervised.database_url)

    # The form resumes where it was: the next message completes it.
    done = in_form.say(PLACE)
    assert done.status == "bot", done
    assert any(PLACE_LIO in t for t in done.replies), done
    tracker = supervised.tracker(in_form.conversation_id)
    assert tracker["slots"].get("location_status") == "resolved", tracker["slots"]
    # The hand-over's pause survived too.
    assert supervised.tracker(waiting.conversation_id)["paused"]
    log = supervised.log("supervisor")
    assert f"rasa (pid {old}) exited with signal SIGKILL" in log
    assert "rasa ready again" in log


def test_dialogue_state_is_kept_in_the_apps_postgresql_database(
    stack: E2EStack,
) -> None:
    # The shared stack runs on PostgreSQL: Rasa's tracker store writes there too
    # (psycopg2 in the Rasa environment), in its own table.
    person = Person(stack.gateway_url)
    assert any(ASK_PLACE in t for t in person.say(GRANT).replies)
    with session_scope(stack.database_url) as session:
        kinds = session.execute(
            text("SELECT type_name FROM events WHERE sender_id = :cid ORDER BY id"),
            {"cid": person.conversation_id},
        ).scalars()
        stored = list(kinds)
    assert "user" in stored and "active_loop" in stored, stored
