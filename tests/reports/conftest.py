"""Report fixtures: a scripted set of conversations, driven through the bot's own
functions with a frozen clock, on SQLite and PostgreSQL (seeded once a module)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

from bot.conversations import service
from bot.db.migrate import upgrade
from bot.db.models import (
    Adviser,
    Conversation,
    LocalAuthority,
    MessageType,
    Nation,
    Organisation,
    OrganisationArea,
)
from bot.db.repositories import conversations as repo
from bot.db.repositories.handoffs import update_triage
from bot.db.session import session_scope
from bot.domain.handoff import Transition
from bot.reports import facts, ratings
from bot.settings import get_settings
from tests.conftest import BACKENDS, create_database
from tests.console.conftest import (  # noqa: F401 - shared fixtures
    adviser,
    app,
    db_url,
    directory,
)
from tests.gateway.conftest import gw, start_gateway  # noqa: F401 - shared fixtures

# Every module that reads the time on the paths the script drives.
CLOCKED = (
    "bot.conversations.service",
    "bot.db.repositories.conversations",
    "bot.db.repositories.handoffs",
    "bot.reports.facts",
)


class Clock:
    """A frozen clock the script moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def at(self, when: datetime) -> None:
        self.now = when


@dataclass
class Script:
    """The seeded database and the ids of its conversations by name."""

    url: str
    ids: dict[str, str] = field(default_factory=dict)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in November 2026 (GMT: UK time is UTC)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def seed_directory(s: Session) -> None:
    """Fictional districts and organisations; one district has no local one."""
    s.add_all(
        [
            LocalAuthority(
                code=code, name=name, la_type="Non-metropolitan district", nation=nation
            )
            for code, name, nation in (
                ("E07000001", "Northdale", Nation.ENGLAND),
                ("E07000002", "Southdale", Nation.ENGLAND),
                ("E07000003", "Westdale", Nation.ENGLAND),
                ("W06000001", "Isle of Anglesey", Nation.WALES),
            )
        ]
    )
    s.flush()
    s.add_all(
        [
            Organisation(
                id="lio900", name="Testshire CVS", kind="CVS",
                nation=Nation.ENGLAND, confidence="high",
            ),
            Organisation(
                id="lio901", name="Testshire Cymru CVC", kind="CVC",
                nation=Nation.WALES, confidence="high",
            ),
            Organisation(
                id="lio990", name="Testland national body", kind="national body",
                nation=Nation.ENGLAND, confidence="high", is_national=True,
            ),
        ]
    )
    s.flush()
    s.add_all(
        [
            OrganisationArea(organisation_id="lio900", lad_code="E07000001"),
            OrganisationArea(organisation_id="lio900", lad_code="E07000002"),
            OrganisationArea(organisation_id="lio901", lad_code="W06000001"),
            OrganisationArea(organisation_id="lio990", lad_code="E07000003"),
        ]
    )


class Driver:
    """Drives one conversation through the bot's functions on the frozen clock."""

    def __init__(self, url: str, clock: Clock, adviser_id: int) -> None:
        self.url, self.clock, self.adviser_id = url, clock, adviser_id

    def run(self, when: datetime, work: Callable[[Session], object]) -> object:
        self.clock.at(when)
        with session_scope(self.url) as s:
            return work(s)

    def start(
        self,
        when: datetime,
        *,
        channel: str = "web",
        topic: str | None = None,
        subtopic: str | None = None,
        lad: str | None = None,
        org: str | None = None,
        confidence: tuple[str, float] | None = None,
    ) -> str:
        def work(s: Session) -> str:
            c = repo.create_conversation(s, channel=channel, channel_user_id=None)
            m = repo.add_message(
                s, conversation_id=c.id, channel=channel,
                message_type=MessageType.INCOMING, sender="person", text="question",
            )
            if confidence:
                repo.record_nlu(
                    s, message_id=m.id, intent=confidence[0], confidence=confidence[1]
                )
            update_triage(
                s, conversation_id=c.id, channel=channel, topic=topic,
                subtopic=subtopic, lad_code=lad, organisation_id=org,
            )
            return c.id

        return str(self.run(when, work))

    def hand_over(self, when: datetime, cid: str, reason: str) -> None:
        def work(s: Session) -> None:
            c = repo.get_conversation(s, conversation_id=cid)
            assert c is not None
            service.hand_over_conversation(s, conversation=c, reason=reason)

        self.run(when, work)

    def reply(self, when: datetime, cid: str) -> None:
        def work(s: Session) -> None:
            who = s.get(Adviser, self.adviser_id)
            assert who is not None
            c = repo.get_conversation(s, conversation_id=cid)
            assert c is not None
            if c.status.value == "queued":
                service.claim(s, conversation_id=cid, adviser=who)
            service.send(
                s, conversation=c, sender="adviser", text="reply", adviser_id=who.id
            )

        self.run(when, work)

    def refer(self, when: datetime, cid: str, source: str, target: str) -> None:
        """A transfer to another organisation's queue (a referral)."""
        self.run(
            when,
            lambda s: facts.referred(
                s, cid, from_organisation_id=source, to_organisation_id=target
            ),
        )

    def resolve(self, when: datetime, cid: str, outcome: str = "answered") -> None:
        def work(s: Session) -> None:
            who = s.get(Adviser, self.adviser_id)
            service.transition(
                s, conversation_id=cid, move=Transition.RESOLVE, adviser=who,
                outcome=outcome,
            )

        self.run(when, work)

    def accept_answer(self, when: datetime, cid: str) -> None:
        """The person says no to a person after the assistant's answer."""

        def work(s: Session) -> None:
            c = repo.get_conversation(s, conversation_id=cid)
            assert c is not None
            offer = service.send(
                s, conversation=c, sender="bot", text=ratings.OFFER_TEXT
            )
            assert ratings.accepted(s, c, intent="deny", last_said=offer)

        self.run(when, work)

    def rate(self, when: datetime, cid: str, score: int) -> None:
        def work(s: Session) -> None:
            m = repo.add_message(
                s, conversation_id=cid, channel="web",
                message_type=MessageType.INCOMING, sender="person", text=str(score),
            )
            said = ratings.handle(
                s, conversation_id=cid, message_id=m.id,
                answer=ratings.Answer("score", score),
            )
            assert said, "the rating was not taken"

        self.run(when, work)


def script(url: str, clock: Clock) -> dict[str, str]:
    """The scripted conversations (see test_figures for what they add up to)."""
    with session_scope(url) as s:
        seed_directory(s)
        adviser = Adviser(
            username="alex", display_name="Alex Adviser", password_hash="x",
            organisation_id="lio900",
        )
        s.add(adviser)
        s.flush()
        adviser_id = adviser.id
    d = Driver(url, clock, adviser_id)
    ids: dict[str, str] = {}
    # c1: funding question, asks for a person in hours; reply 10 min, resolved 40
    ids["c1"] = c1 = d.start(
        at(2, 10), topic="funding", subtopic="grants", lad="E07000001", org="lio900"
    )
    d.hand_over(at(2, 10, 5), c1, "asked_for_person")
    d.reply(at(2, 10, 15), c1)
    d.resolve(at(2, 10, 45), c1)
    d.rate(at(2, 10, 46), c1, 5)
    # c2: Telegram, governance; took the offer of an adviser after the answer
    ids["c2"] = c2 = d.start(
        at(2, 11), channel="telegram", topic="governance", subtopic="trustees",
        lad="E07000002", org="lio900",
    )
    d.hand_over(at(2, 11), c2, "accepted_offer")
    d.refer(at(2, 11, 20), c2, "lio900", "lio901")
    d.reply(at(2, 11, 30), c2)
    d.resolve(at(2, 12), c2, "referred_to_lio")
    d.rate(at(2, 12, 1), c2, 3)
    # c3: an evening enquiry outside our topics; answered next morning, not rated
    ids["c3"] = c3 = d.start(
        at(3, 20), lad="E07000001", org="lio900", confidence=("nlu_fallback", 0.31)
    )
    d.hand_over(at(3, 20, 2), c3, "accepted_offer")
    d.reply(at(4, 9, 2), c3)
    d.resolve(at(4, 9, 32), c3)
    # c4: Wales, volunteering, answered by the assistant and rated 4
    ids["c4"] = c4 = d.start(
        at(4, 14), topic="volunteering", subtopic="dbs_checks", lad="W06000001",
        org="lio901",
    )
    d.accept_answer(at(4, 14, 3), c4)
    d.rate(at(4, 14, 4), c4, 4)
    # c5: a district with no local organisation (the national body named)
    ids["c5"] = d.start(
        at(5, 15), topic="funding", lad="E07000003", org="lio990",
        confidence=("funding", 0.42),
    )
    # c6: someone at risk: urgent hand-over, reply 2 min, resolved 20; no rating
    ids["c6"] = c6 = d.start(
        at(5, 16), topic="funding", subtopic="grants", lad="E07000001", org="lio900"
    )
    d.hand_over(at(5, 16), c6, "urgent")
    d.reply(at(5, 16, 2), c6)
    d.resolve(at(5, 16, 20), c6)
    # c7: the assistant was down; no area known; still waiting
    ids["c7"] = d.start(at(6, 9, 30))
    d.hand_over(at(6, 9, 31), ids["c7"], "bot_unavailable")
    # outside the period (December): never counted in November
    d.start(at(2, 10) + timedelta(days=30), topic="funding", lad="E07000001")
    # c1's content erased (the conversation row and everything with it): its
    # figures must stay
    with session_scope(url) as s:
        s.execute(delete(Conversation).where(Conversation.id == c1))
    return ids


@contextmanager
def seeded(backend: str, tmp: Path) -> Iterator[Script]:
    """The scripted conversations in a fresh database of ``backend``."""
    url, drop = create_database(backend, tmp)
    upgrade(url)
    clock = Clock(at(1, 0))
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("DATABASE_URL", url)
            get_settings.cache_clear()
            for module in CLOCKED:
                mp.setattr(f"{module}.utcnow", clock)
            ids = script(url, clock)
            yield Script(url, ids)
    finally:
        get_settings.cache_clear()
        drop()


@pytest.fixture(scope="module", params=BACKENDS)
def scripted(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Script]:
    """The scripted conversations, once a module per backend."""
    with seeded(request.param, Path(tmp_path_factory.mktemp("rep"))) as found:
        yield found


__all__ = ["Clock", "Driver", "Script", "at", "facts", "seed_directory"]
