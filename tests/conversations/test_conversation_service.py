"""The conversation service on a real database (SQLite and PostgreSQL): every
transition, its activity line and its event, the outbox rows, and lost races."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from bot.conversations import events as tx_events
from bot.conversations import service
from bot.db.base import utcnow
from bot.db.models import (
    Adviser,
    Conversation,
    Handoff,
    Message,
    MessageType,
    Outbox,
    OutboxState,
)
from bot.db.repositories import conversations as repo
from bot.db.session import get_engine, session_scope
from bot.domain.handoff import IllegalTransition, Status, Transition
from bot.domain.safety import URGENT_ACTIVITY_TEXT, URGENT_REASON
from bot.gateway import hub
from bot.i18n import text

pytestmark = pytest.mark.integration


@pytest.fixture
def url(migrated_db_url: str) -> str:
    return migrated_db_url


def _adviser(url: str, username: str, name: str) -> Adviser:
    with session_scope(url) as s:
        adviser = Adviser(username=username, display_name=name, password_hash="-")
        s.add(adviser)
        s.flush()
        return adviser


@pytest.fixture
def alex(url: str) -> Adviser:
    return _adviser(url, "alex", "Alex")


@pytest.fixture
def sam(url: str) -> Adviser:
    return _adviser(url, "sam", "Sam")


def _conversation(url: str, *, channel: str = "web", queued: bool = False) -> str:
    with session_scope(url) as s:
        conversation = repo.create_conversation(s, channel=channel)
        repo.add_message(
            s,
            conversation_id=conversation.id,
            channel=channel,
            message_type=MessageType.INCOMING,
            sender="person",
            text="We need a grant for a minibus",
        )
        cid = conversation.id
    if queued:
        with session_scope(url) as s:
            service.hand_over(s, conversation_id=cid, channel=channel, reason="asked")
    return cid


def _get(url: str, cid: str) -> Conversation:
    with session_scope(url) as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        return conversation


def _activity(url: str, cid: str) -> list[str]:
    with session_scope(url) as s:
        return list(
            s.scalars(
                select(Message.content)
                .where(
                    Message.conversation_id == cid,
                    Message.message_type == MessageType.ACTIVITY,
                )
                .order_by(Message.id)
            )
        )


async def _events(sub: hub.Subscription) -> list[dict[str, Any]]:
    found = []
    while (got := await sub.get(timeout=0.05)) is not None:
        found.append(got)
    return found


@pytest.fixture
async def watch(url: str) -> Iterator[Any]:
    subs: list[hub.Subscription] = []

    def subscribe(topic: str) -> hub.Subscription:
        subs.append(hub.subscribe(topic))
        return subs[-1]

    yield subscribe
    for sub in subs:
        sub.close()


# ------------------------------------------------------------------ hand-overs


async def test_hand_over_queues_it_with_summary_activity_and_pause(
    url: str, watch: Any
) -> None:
    cid = _conversation(url)
    sub = watch(hub.conversation_topic(cid))
    with session_scope(url) as s:
        done = service.hand_over(
            s,
            conversation_id=cid,
            channel="web",
            reason="asked_for_person",
            topic="funding",
            place_name="Truro",
            lad_code="E06000052",
            organisation_names=["Cornwall Voluntary Sector Forum"],
        )
        assert (done.moved, done.raised) == (True, False)
        assert await _events(sub) == []  # nothing is announced before COMMIT
    conversation = _get(url, cid)
    assert conversation.status is Status.QUEUED
    assert conversation.waiting_since is not None and conversation.bot_paused
    assert (conversation.topic, conversation.place_name) == ("funding", "Truro")
    assert _activity(url, cid) == ["Conversation handed over to the adviser queue"]
    with session_scope(url) as s:
        handoff = s.scalars(select(Handoff).where(Handoff.conversation_id == cid)).one()
        assert "Place: Truro (E06000052)" in handoff.summary
        assert handoff.last_messages == [
            {"sender": "person", "text": "We need a grant for a minibus"}
        ]
    got = await _events(sub)
    assert [e["message"]["message_type"] for e in got] == ["activity"]


async def test_a_rolled_back_move_announces_nothing(url: str, watch: Any) -> None:
    cid = _conversation(url)
    sub = watch(hub.conversation_topic(cid))
    with pytest.raises(RuntimeError), session_scope(url) as s:
        service.hand_over(s, conversation_id=cid, channel="web", reason="asked")
        raise RuntimeError("the turn failed after the hand-over")
    assert _get(url, cid).status is Status.BOT
    assert _activity(url, cid) == []
    assert await _events(sub) == []


def test_a_second_request_while_queued_is_recorded_without_a_move(url: str) -> None:
    cid = _conversation(url, queued=True)
    with session_scope(url) as s:
        again = service.hand_over(s, conversation_id=cid, channel="web", reason="risk")
    assert (again.moved, again.raised) == (False, False)
    assert _activity(url, cid) == ["Conversation handed over to the adviser queue"]
    with session_scope(url) as s:
        reasons = s.scalars(
            select(Handoff.reason).where(Handoff.conversation_id == cid)
        )
        assert list(reasons) == ["asked", "risk"]


def test_an_urgent_hand_over_raises_it_once(url: str) -> None:
    cid = _conversation(url)
    with session_scope(url) as s:
        first = service.hand_over(
            s, conversation_id=cid, channel="web", reason=URGENT_REASON
        )
    with session_scope(url) as s:
        second = service.hand_over(
            s, conversation_id=cid, channel="web", reason=URGENT_REASON
        )
    assert (first.moved, first.raised, second.moved, second.raised) == (
        True,
        True,
        False,
        False,
    )
    conversation = _get(url, cid)
    assert conversation.urgent and conversation.urgent_since is not None
    assert _activity(url, cid).count(URGENT_ACTIVITY_TEXT) == 1


def test_the_action_server_may_hand_over_a_conversation_it_never_saw(
    url: str,
) -> None:
    with session_scope(url) as s:
        service.hand_over(s, conversation_id="shell-1", channel="rasa", reason="asked")
    assert _get(url, "shell-1").status is Status.QUEUED


# ------------------------------------------------------------- adviser moves


async def test_claim_release_resolve_each_one_update_line_and_event(
    url: str, alex: Adviser, watch: Any
) -> None:
    cid = _conversation(url, queued=True)
    waiting = _get(url, cid).waiting_since
    queue = watch(hub.QUEUE_TOPIC)
    with session_scope(url) as s:
        moved = service.claim(s, conversation_id=cid, adviser=alex)
    assert (moved.before, moved.status) == (Status.QUEUED, Status.ASSIGNED)
    assert _get(url, cid).assignee_id == alex.id
    with session_scope(url) as s:
        service.transition(
            s, conversation_id=cid, move=Transition.RELEASE, adviser=alex
        )
    released = _get(url, cid)
    assert (released.status, released.assignee_id) == (Status.QUEUED, None)
    assert released.waiting_since == waiting  # keeps its place in the queue
    with session_scope(url) as s:
        service.transition(
            s,
            conversation_id=cid,
            move=Transition.RESOLVE,
            adviser=alex,
            outcome="referred_to_lio",
        )
    resolved = _get(url, cid)
    assert (resolved.status, resolved.outcome, resolved.assignee_id) == (
        Status.RESOLVED,
        "referred_to_lio",
        alex.id,
    )
    with session_scope(url) as s:
        handoff = s.scalars(select(Handoff).where(Handoff.conversation_id == cid)).one()
        assert handoff.resolved_at is not None
        assert handoff.outcome == "referred_to_lio"
    assert _activity(url, cid)[1:] == [
        "Adviser Alex picked up the conversation",
        "Adviser Alex returned the conversation to the queue",
        "Adviser Alex resolved the conversation (referred to lio)",
    ]
    assert [e["status"] for e in await _events(queue)] == [
        "assigned",
        "queued",
        "resolved",
    ]


@pytest.mark.parametrize("channel", ["web", "telegram"])
async def test_the_person_is_told_of_each_adviser_move_on_their_channel(
    url: str, alex: Adviser, watch: Any, channel: str
) -> None:
    cid = _conversation(url, channel=channel, queued=True)
    person = watch(hub.conversation_topic(cid))
    for move in (
        Transition.CLAIM,
        Transition.RELEASE,
        Transition.CLAIM,
        Transition.HAND_BACK,
    ):
        with session_scope(url) as s:
            service.transition(s, conversation_id=cid, move=move, adviser=alex)
    with session_scope(url) as s:
        service.hand_over(s, conversation_id=cid, channel=channel, reason="asked")
    with session_scope(url) as s:
        service.transition(
            s,
            conversation_id=cid,
            move=Transition.RESOLVE,
            adviser=alex,
            outcome="answered",
        )
        rows = s.execute(
            select(Message.sender, Message.content, Outbox.state)
            .join(Outbox, Outbox.message_id == Message.id)
            .where(Message.conversation_id == cid, Message.sender == "system")
            .order_by(Message.id)
        ).all()
    told = [
        text("widget.status.claimed"),
        text("widget.status.released"),
        text("widget.status.claimed"),
        text("widget.status.handed_back"),
        text("widget.status.resolved"),
    ]
    assert [(sender, content) for sender, content, _ in rows] == [
        ("system", t) for t in told
    ]
    # The widget pulls (delivered on commit); Telegram is sent by the worker.
    expected = OutboxState.DELIVERED if channel == "web" else OutboxState.PENDING
    assert {state for _, _, state in rows} == {expected}
    shown = [
        e["message"]["text"]
        for e in await _events(person)
        if e["type"] == "message"
        and e["message"]["message_type"] == "outgoing"
        and e["message"]["sender"] == "system"
    ]
    assert shown == told
    assert text("widget.status.resolved", "cy") != told[-1]  # Welsh is there too


def test_the_person_is_told_in_the_conversations_language(
    url: str, alex: Adviser
) -> None:
    cid = _conversation(url, queued=True)
    with session_scope(url) as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        conversation.language = "cy"
    with session_scope(url) as s:
        service.claim(s, conversation_id=cid, adviser=alex)
    with session_scope(url) as s:
        told = s.scalars(
            select(Message.content).where(
                Message.conversation_id == cid,
                Message.message_type == MessageType.OUTGOING,
            )
        ).all()
    assert told == [text("widget.status.claimed", "cy")]
    assert told != [text("widget.status.claimed", "en")]


def test_hand_back_gives_it_to_the_bot_and_ends_the_urgency(
    url: str, alex: Adviser
) -> None:
    cid = _conversation(url)
    with session_scope(url) as s:
        service.hand_over(s, conversation_id=cid, channel="web", reason=URGENT_REASON)
    with session_scope(url) as s:
        service.claim(s, conversation_id=cid, adviser=alex)
    with session_scope(url) as s:
        service.transition(
            s, conversation_id=cid, move=Transition.HAND_BACK, adviser=alex
        )
    back = _get(url, cid)
    assert (back.status, back.assignee_id, back.waiting_since) == (
        Status.BOT,
        None,
        None,
    )
    assert not back.urgent and back.urgent_since is None
    assert back.bot_paused  # Rasa is told separately (bot_resumed clears it)
    with session_scope(url) as s:
        service.bot_resumed(s, conversation_id=cid)
    assert not _get(url, cid).bot_paused


def test_reopen_only_from_resolved(url: str, alex: Adviser) -> None:
    cid = _conversation(url, queued=True)
    with session_scope(url) as s:
        assert service.reopen(s, conversation_id=cid) is None  # queued: no move
    with session_scope(url) as s:
        service.transition(
            s,
            conversation_id=cid,
            move=Transition.RESOLVE,
            adviser=alex,
            outcome="answered",
        )
    with session_scope(url) as s:
        moved = service.reopen(s, conversation_id=cid)
        assert moved is not None and moved.status is Status.BOT
    assert _activity(url, cid)[-1] == (
        "The person wrote again; the conversation is back with the bot"
    )


def test_refusals_write_nothing(url: str, alex: Adviser, sam: Adviser) -> None:
    cid = _conversation(url)
    with pytest.raises(IllegalTransition), session_scope(url) as s:
        service.transition(  # still with the bot: nothing to release
            s, conversation_id=cid, move=Transition.RELEASE, adviser=alex
        )
    with pytest.raises(service.Conflict), session_scope(url) as s:
        service.claim(s, conversation_id=cid, adviser=alex)  # not waiting
    with session_scope(url) as s:
        service.hand_over(s, conversation_id=cid, channel="web", reason="asked")
    with session_scope(url) as s:
        service.claim(s, conversation_id=cid, adviser=alex)
    with pytest.raises(service.Conflict), session_scope(url) as s:
        service.transition(s, conversation_id=cid, move=Transition.RELEASE, adviser=sam)
    with pytest.raises(ValueError), session_scope(url) as s:
        service.transition(
            s,
            conversation_id=cid,
            move=Transition.RESOLVE,
            adviser=alex,
            outcome="made up",
        )
    with pytest.raises(LookupError), session_scope(url) as s:
        service.claim(s, conversation_id="nope", adviser=alex)
    conversation = _get(url, cid)
    assert (conversation.status, conversation.assignee_id) == (
        Status.ASSIGNED,
        alex.id,
    )
    assert len(_activity(url, cid)) == 2


# ------------------------------------------------------------------ lost races


def _interleave(url: str, competitor: Any) -> Iterator[None]:
    """Run ``competitor`` (its own transaction, committed) just before the first
    UPDATE of conversations' status: the read the move is based on is stale."""
    engine = get_engine(url)
    fired: list[bool] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if fired or not statement.lstrip().startswith("UPDATE conversations SET"):
            return
        if "status" not in statement.split("WHERE")[0]:
            return
        fired.append(True)
        with session_scope(url) as other:
            competitor(other)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", before)
    assert fired, "the competing move never ran"


def test_a_claim_that_loses_the_race_raises_and_writes_nothing(
    url: str, alex: Adviser, sam: Adviser
) -> None:
    cid = _conversation(url, queued=True)

    def sam_claims(s: Session) -> None:
        service.claim(s, conversation_id=cid, adviser=sam)

    race = _interleave(url, sam_claims)
    next(race)
    try:
        with pytest.raises(service.Conflict), session_scope(url) as s:
            service.claim(s, conversation_id=cid, adviser=alex)
    finally:
        next(race, None)
    conversation = _get(url, cid)
    assert (conversation.status, conversation.assignee_id) == (
        Status.ASSIGNED,
        sam.id,
    )
    assert _activity(url, cid)[1:] == ["Adviser Sam picked up the conversation"]


def test_a_move_on_a_stale_read_loses_to_the_committed_one(
    url: str, alex: Adviser
) -> None:
    """Alex resolves what he saw queued; meanwhile it was handed back."""
    cid = _conversation(url, queued=True)

    def handed_back(s: Session) -> None:
        service.transition(
            s, conversation_id=cid, move=Transition.HAND_BACK, adviser=alex
        )

    race = _interleave(url, handed_back)
    next(race)
    try:
        with pytest.raises(service.Conflict), session_scope(url) as s:
            service.transition(
                s,
                conversation_id=cid,
                move=Transition.RESOLVE,
                adviser=alex,
                outcome="answered",
            )
    finally:
        next(race, None)
    assert _get(url, cid).status is Status.BOT


def test_a_hand_over_that_loses_a_race_looks_again_and_queues(
    url: str, alex: Adviser
) -> None:
    """Resolved when the request was read, reopened before its UPDATE: the
    hand-over re-reads (now with the bot) and still queues it, once."""
    cid = _conversation(url, queued=True)
    with session_scope(url) as s:
        service.transition(
            s,
            conversation_id=cid,
            move=Transition.RESOLVE,
            adviser=alex,
            outcome="answered",
        )

    def reopened(s: Session) -> None:
        service.reopen(s, conversation_id=cid)

    race = _interleave(url, reopened)
    next(race)
    try:
        with session_scope(url) as s:
            done = service.hand_over(
                s, conversation_id=cid, channel="web", reason="asked"
            )
    finally:
        next(race, None)
    assert done.moved
    assert _get(url, cid).status is Status.QUEUED
    assert _activity(url, cid)[-2:] == [
        "The person wrote again; the conversation is back with the bot",
        "Conversation handed over to the adviser queue",
    ]


# ------------------------------------------------------------------ outbox


async def test_outgoing_messages_get_an_outbox_row_in_their_transaction(
    url: str, watch: Any
) -> None:
    web = _conversation(url)
    telegram = _conversation(url, channel="telegram")
    woken: list[str] = []
    tx_events.add_waker(woken.append)
    sub = watch(hub.conversation_topic(telegram))
    try:
        with session_scope(url) as s:
            for cid in (web, telegram):
                conversation = s.get(Conversation, cid)
                assert conversation is not None
                service.send(s, conversation=conversation, sender="bot", text="Hi")
            assert woken == []  # not before COMMIT
        assert woken == [telegram]  # only channels the worker sends to
        with pytest.raises(RuntimeError), session_scope(url) as s:
            conversation = s.get(Conversation, telegram)
            assert conversation is not None
            service.send(s, conversation=conversation, sender="bot", text="lost")
            raise RuntimeError("rolled back")
        assert woken == [telegram]
    finally:
        tx_events.remove_waker(woken.append)
    with session_scope(url) as s:
        rows = {
            o.conversation_id: (o.state, o.delivered_at is not None)
            for o in s.scalars(select(Outbox))
        }
        texts = list(s.scalars(select(Message.content).where(Message.sender == "bot")))
    # the widget pulls: stored and published is delivered
    assert rows == {
        web: (OutboxState.DELIVERED, True),
        telegram: (OutboxState.PENDING, False),
    }
    assert texts == ["Hi", "Hi"]  # the rolled-back one is gone with its row
    got = await _events(sub)
    assert [(e["type"], e["message"]["text"]) for e in got] == [("message", "Hi")]


def test_adviser_reply_sets_first_reply_and_notices_are_sent_once(
    url: str, alex: Adviser
) -> None:
    cid = _conversation(url, channel="telegram", queued=True)
    with session_scope(url) as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        service.send(
            s,
            conversation=conversation,
            sender="adviser",
            text="Hello",
            adviser_id=alex.id,
        )
        first = service.send_once(
            s, conversation=conversation, text="Back Monday", source_id="notice:1"
        )
        again = service.send_once(
            s, conversation=conversation, text="Back Monday", source_id="notice:1"
        )
        assert first is not None and again is None
    assert _get(url, cid).first_reply_at is not None
    with session_scope(url) as s:
        assert len(s.scalars(select(Outbox)).all()) == 2


def test_only_a_failed_delivery_can_be_retried(url: str) -> None:
    cid = _conversation(url, channel="telegram")
    with session_scope(url) as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        mid = service.send(s, conversation=conversation, sender="bot", text="Hi").id
    with session_scope(url) as s:
        assert not service.retry_delivery(s, conversation_id=cid, message_id=mid)
        row = s.scalars(select(Outbox)).one()
        row.state, row.attempts = OutboxState.FAILED, 10
    with session_scope(url) as s:
        assert not service.retry_delivery(s, conversation_id="other", message_id=mid)
        assert service.retry_delivery(s, conversation_id=cid, message_id=mid)
        assert service.delivery_states(s, message_ids=[mid]) == {mid: "pending"}
    with session_scope(url) as s:
        row = s.scalars(select(Outbox)).one()
        assert (row.state, row.attempts) == (OutboxState.PENDING, 0)


# ---------------------------------------------------------- incoming messages


def test_unanswered_messages_are_found_until_marked_answered(url: str) -> None:
    cid = _conversation(url)
    later = utcnow() + timedelta(seconds=1)
    with session_scope(url) as s:
        found = service.unanswered(s, older_than=later)
        assert [c for _, c in found] == [cid]
        assert service.unanswered(s, older_than=later - timedelta(hours=1)) == []
        service.mark_answered(s, message_id=found[0][0])
    with session_scope(url) as s:
        assert service.unanswered(s, older_than=later) == []


def test_a_pending_row_is_claimed_by_one_delivery_worker_only(url: str) -> None:
    """Two gateway processes on one database read the same due row: one sends."""
    from datetime import timedelta

    from bot.gateway.delivery import claim

    telegram = _conversation(url, channel="telegram")
    with session_scope(url) as s:
        conversation = s.get(Conversation, telegram)
        assert conversation is not None
        service.send(s, conversation=conversation, sender="bot", text="Hi")
    with session_scope(url) as s:
        row = s.scalars(select(Outbox)).one()
        row_id, seen_at = row.id, row.next_attempt_at
    later = utcnow() + timedelta(seconds=60)
    results = []
    for _ in range(2):  # both workers read `seen_at`, then try to take the row
        with session_scope(url) as s:
            results.append(claim(s, outbox_id=row_id, seen_at=seen_at, until=later))
    assert results == [True, False]
    with session_scope(url) as s:
        row = s.get(Outbox, row_id)
        assert row is not None
        assert (row.state, row.next_attempt_at) == (OutboxState.PENDING, later)


def test_a_notice_another_worker_stores_first_is_not_sent_twice(url: str) -> None:
    """The race send_once guards: the other worker's insert lands between this
    one's check and its insert, so this insert meets the unique source id (at its
    flush on PostgreSQL) and the notice is not sent a second time."""
    cid = _conversation(url, channel="telegram", queued=True)
    engine = get_engine(url)
    with session_scope(url) as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        raced: list[bool] = []

        @event.listens_for(s, "before_flush")
        def _other_worker(session: Session, *_: Any) -> None:
            if raced:
                return
            raced.append(True)
            with Session(engine) as other:
                theirs = other.get(Conversation, cid)
                assert theirs is not None
                service.send(
                    other,
                    conversation=theirs,
                    sender="bot",
                    text="Back Monday",
                    source_id="notice:race",
                )
                other.commit()

        got = service.send_once(
            s, conversation=conversation, text="Back Monday", source_id="notice:race"
        )
        assert raced and got is None
    with session_scope(url) as s:
        rows = s.scalars(select(Message).where(Message.source_id == "notice:race"))
        assert len(rows.all()) == 1
        assert len(s.scalars(select(Outbox)).all()) == 1
