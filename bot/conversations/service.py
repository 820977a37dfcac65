"""The one writer of a conversation's status, hand-overs and outgoing messages.

The gateway, the console and the actions call these functions; nothing else
writes ``conversations.status``, a ``Handoff`` or an outgoing ``Message``. Each
move is one conditional UPDATE (``WHERE status = <what was read>``) that the pure
state machine (``bot.domain.handoff``) allowed, plus its activity line and its
live event, all in the caller's transaction: the event goes out on COMMIT
(``bot.conversations.events``). A move that loses a race raises ``Conflict``.

Every outgoing message gets an outbox row in the same transaction. Channels the
person pulls from (the widget reads its history and stream) count it delivered
on commit; the others are sent by the delivery worker (``bot.gateway.delivery``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.conversations.events import announce, wake_outbox
from bot.db.base import utcnow
from bot.db.models import (
    Adviser,
    Conversation,
    Handoff,
    Message,
    MessageType,
    Outbox,
    OutboxState,
    Transfer,
)
from bot.db.repositories import conversations as repo
from bot.db.repositories.handoffs import summarise, update_triage
from bot.domain.handoff import (
    OUTCOMES,
    WITH_ADVISERS,
    Status,
    Transition,
    activity_text,
    ends_hand_over,
    next_status,
)
from bot.domain.safety import URGENT_ACTIVITY_TEXT, URGENT_REASON
from bot.gateway.events import message_event, message_view, status_event
from bot.gateway.hub import QUEUE_TOPIC, conversation_topic
from bot.i18n import text as i18n_text
from bot.reports import facts, ratings

logger = logging.getLogger(__name__)

# The widget pulls its messages (history and event stream): stored and published
# is delivered. Every other channel is sent to by the delivery worker.
PULLED_CHANNELS = frozenset({"web", "rasa"})
# How often a hand-over re-reads the status after losing a race to another move.
HAND_OVER_ATTEMPTS = 3
# The line the person is sent (on their own channel) when an adviser moves the
# conversation; a hand-over is told by the bot's own answer.
PERSON_NOTICES = {
    Transition.CLAIM: "widget.status.claimed",
    Transition.RELEASE: "widget.status.released",
    Transition.RESOLVE: "widget.status.resolved",
    Transition.HAND_BACK: "widget.status.handed_back",
}


class Conflict(Exception):
    """The conversation changed meanwhile, or another adviser holds it."""


@dataclass(frozen=True)
class Moved:
    """A move that happened: the status it left, the one it reached, its line."""

    conversation_id: str
    before: Status
    status: Status
    activity: Message


@dataclass(frozen=True)
class HandedOver:
    """A hand-over request: its summary row, and what it changed."""

    handoff: Handoff
    moved: bool  # the conversation went to the queue (it was with the bot)
    raised: bool  # the conversation became urgent with this request


# ------------------------------------------------------------------------ moves


def _activity(
    session: Session,
    conversation: Conversation,
    text: str,
    *,
    adviser_id: int | None = None,
) -> Message:
    message = repo.add_message(
        session,
        conversation_id=conversation.id,
        channel=conversation.channel,
        message_type=MessageType.ACTIVITY,
        sender="system",
        text=text,
        adviser_id=adviser_id,
    )
    topic = conversation_topic(conversation.id)
    announce(session, topic, message_event(conversation.id, message_view(message)))
    return message


def _current(session: Session, conversation_id: str) -> Conversation:
    session.flush()
    conversation = session.get(Conversation, conversation_id, populate_existing=True)
    if conversation is None:
        raise LookupError(conversation_id)
    return conversation


def transition(
    session: Session,
    *,
    conversation_id: str,
    move: Transition,
    adviser: Adviser | None = None,
    outcome: str = "",
    expect: Status | None = None,
) -> Moved:
    """Apply ``move`` to the conversation as one conditional UPDATE.

    ``expect`` is the status the caller acted on (default: the one read now).
    Raises LookupError (no such conversation), IllegalTransition (the state
    machine refuses) or Conflict (the status changed meanwhile, or another
    adviser holds it).
    """
    if move is Transition.RESOLVE and outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    conversation = _current(session, conversation_id)
    current = expect if expect is not None else conversation.status
    target = next_status(current, move)
    query = update(Conversation).where(
        Conversation.id == conversation_id, Conversation.status == current
    )
    if current is Status.ASSIGNED and move is not Transition.HAND_OVER:
        if adviser is None or conversation.assignee_id != adviser.id:
            raise Conflict("another adviser has this conversation")
        query = query.where(Conversation.assignee_id == adviser.id)
    now = utcnow()
    values: dict[str, Any] = {"status": target, "updated_at": now}
    if target is Status.QUEUED:
        values["assignee_id"] = None
        if move is not Transition.RELEASE:  # a released one keeps its place
            values["waiting_since"] = now
        # Rasa pauses the dialogue for every hand-over; it is lifted on the
        # way back (see bot_resumed).
        values["bot_paused"] = True
    elif target is Status.BOT:
        values["assignee_id"] = None
        values["waiting_since"] = None
    elif target is Status.ASSIGNED:
        assert adviser is not None, "claim needs an adviser"
        values["assignee_id"] = adviser.id
    if ends_hand_over(move):
        # the hand-over ends, and its urgency with it (the transcript keeps both)
        values["urgent"] = False
        values["urgent_since"] = None
    if move is Transition.RESOLVE:
        values["outcome"] = outcome
        if conversation.assignee_id is None and adviser is not None:
            values["assignee_id"] = adviser.id
    result = session.execute(
        query.values(**values).execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("the conversation changed meanwhile")
    session.refresh(conversation)
    if ends_hand_over(move):
        session.execute(
            update(Handoff)
            .where(
                Handoff.conversation_id == conversation_id,
                Handoff.resolved_at.is_(None),
            )
            .values(
                resolved_at=now,
                outcome=outcome if move is Transition.RESOLVE else "handed_back",
            )
        )
    activity = _activity(
        session,
        conversation,
        activity_text(
            move,
            adviser=adviser.display_name if adviser else "",
            outcome=outcome.replace("_", " "),
        ),
        adviser_id=adviser.id if adviser else None,
    )
    if move in PERSON_NOTICES:
        tell_person(session, conversation, PERSON_NOTICES[move])
    if move is Transition.RESOLVE:
        # after the line saying it is closed: the question asking for a rating
        facts.resolved(session, conversation_id, outcome=outcome, at=now)
        ratings.after_resolve(session, conversation, outcome)
    if move is not Transition.HAND_OVER:
        # The queue and the conversation's watchers; a hand-over is announced
        # by the pipeline after the turn (most are made in the action server).
        event = status_event(conversation_id, target.value)
        announce(session, conversation_topic(conversation_id), event)
        announce(session, QUEUE_TOPIC, event)
    logger.info(
        "conversation %s: %s -> %s",
        move.value,
        current.value,
        target.value,
        extra={"conversation_id": conversation_id},
    )
    return Moved(conversation_id, current, target, activity)


def tell_person(session: Session, conversation: Conversation, key: str) -> Message:
    """Send the person a system line (an i18n key) through the outbox."""
    return send(
        session,
        conversation=conversation,
        sender="system",
        text=i18n_text(key, conversation.language),
    )


def claim(session: Session, *, conversation_id: str, adviser: Adviser) -> Moved:
    """Assign a queued conversation to ``adviser``; Conflict if someone else won."""
    return transition(
        session,
        conversation_id=conversation_id,
        move=Transition.CLAIM,
        adviser=adviser,
        expect=Status.QUEUED,
    )


def _update_if_unchanged(
    session: Session, conversation: Conversation, current: Status, **values: Any
) -> None:
    """Set ``values`` in one conditional UPDATE that holds only while the
    conversation still has the status and the holder that were read (Conflict
    otherwise), then refresh it."""
    holder = conversation.assignee_id
    held = (
        Conversation.assignee_id.is_(None)
        if holder is None
        else Conversation.assignee_id == holder
    )
    result = session.execute(
        update(Conversation)
        .where(Conversation.id == conversation.id, Conversation.status == current, held)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("the conversation changed meanwhile")
    session.refresh(conversation)


def assign(
    session: Session, *, conversation_id: str, adviser: Adviser, assignee: Adviser
) -> Moved:
    """Give a queued or assigned conversation to ``assignee`` (``adviser`` acts).

    Assigning to oneself a conversation a colleague holds is taking it over. One
    conditional UPDATE on the status and the holder read, so two advisers
    assigning at once never both win (Conflict for the second).
    """
    conversation = _current(session, conversation_id)
    current, holder = conversation.status, conversation.assignee_id
    target = next_status(current, Transition.ASSIGN)
    if holder == assignee.id and current is Status.ASSIGNED:
        raise Conflict(f"{assignee.display_name} already has this conversation")
    _update_if_unchanged(
        session,
        conversation,
        current,
        status=target,
        assignee_id=assignee.id,
        updated_at=utcnow(),
    )
    return _moved(
        session,
        conversation,
        Transition.ASSIGN,
        current,
        target,
        adviser=adviser,
        to=assignee.display_name,
    )


def transfer(
    session: Session,
    *,
    conversation_id: str,
    adviser: Adviser,
    from_organisation_id: str | None,
    to_organisation_id: str,
    to_name: str,
    note: str,
) -> Moved:
    """Put the conversation in another organisation's queue, with a note.

    Allowed from the queue, or by the adviser holding it. It keeps its waiting
    time; the transfer is recorded (``transfers``) and the note kept as an
    internal note.
    """
    conversation = _current(session, conversation_id)
    current, holder = conversation.status, conversation.assignee_id
    target = next_status(current, Transition.TRANSFER)
    if current is Status.ASSIGNED and holder != adviser.id:
        raise Conflict("another adviser has this conversation")
    if conversation.organisation_id == to_organisation_id:
        raise Conflict("the conversation is already with that organisation")
    now = utcnow()
    _update_if_unchanged(
        session,
        conversation,
        current,
        status=target,
        assignee_id=None,
        organisation_id=to_organisation_id,
        updated_at=now,
    )
    session.add(
        Transfer(
            conversation_id=conversation_id,
            from_organisation_id=from_organisation_id,
            to_organisation_id=to_organisation_id,
            note=note,
            adviser_id=adviser.id,
            created_at=now,
        )
    )
    # the reports count it as a referral (issue 15's facts)
    facts.referred(
        session,
        conversation_id,
        from_organisation_id=from_organisation_id,
        to_organisation_id=to_organisation_id,
        at=now,
    )
    moved = _moved(
        session,
        conversation,
        Transition.TRANSFER,
        current,
        target,
        adviser=adviser,
        to=to_name,
    )
    if note:
        message = repo.add_message(
            session,
            conversation_id=conversation_id,
            channel=conversation.channel,
            message_type=MessageType.NOTE,
            sender="adviser",
            text=f"Transfer note for {to_name}: {note}",
            adviser_id=adviser.id,
        )
        announce(
            session,
            conversation_topic(conversation_id),
            message_event(conversation_id, message_view(message)),
        )
    # the person is told who will pick it up (a referral, issue 15)
    send(
        session,
        conversation=conversation,
        sender="bot",
        text=i18n_text("referrals.passed_on", conversation.language, name=to_name),
    )
    return moved


def _moved(
    session: Session,
    conversation: Conversation,
    move: Transition,
    before: Status,
    status: Status,
    *,
    adviser: Adviser,
    to: str,
) -> Moved:
    """Write the activity line and announce a move made by assign / transfer."""
    activity = _activity(
        session,
        conversation,
        activity_text(move, adviser=adviser.display_name, to=to),
        adviser_id=adviser.id,
    )
    event = status_event(conversation.id, status.value)
    announce(session, conversation_topic(conversation.id), event)
    announce(session, QUEUE_TOPIC, event)
    logger.info(
        "conversation %s: %s -> %s",
        move.value,
        before.value,
        status.value,
        extra={"conversation_id": conversation.id},
    )
    return Moved(conversation.id, before, status, activity)


def reopen(session: Session, *, conversation_id: str) -> Moved | None:
    """Give a resolved conversation back to the bot when the person writes again."""
    try:
        return transition(
            session,
            conversation_id=conversation_id,
            move=Transition.REOPEN,
            expect=Status.RESOLVED,
        )
    except Conflict:
        return None  # someone handed it over (or reopened it) first


def bot_resumed(session: Session, *, conversation_id: str) -> None:
    """Record that Rasa's pause was lifted (the bot answers this conversation)."""
    session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(bot_paused=False)
        .execution_options(synchronize_session=False)
    )


# ------------------------------------------------------------------ hand-overs


def hand_over(
    session: Session,
    *,
    conversation_id: str,
    channel: str,
    reason: str,
    topic: str | None = None,
    subtopic: str | None = None,
    place_name: str | None = None,
    lad_code: str | None = None,
    organisation_names: list[str] | None = None,
    last_messages: list[dict[str, str]] | None = None,
) -> HandedOver:
    """Queue the conversation for an adviser and store the summary they read first.

    A conversation already queued or assigned keeps its state; the request is
    still recorded so the adviser sees it. An urgent hand-over also raises the
    conversation to urgent (first in the queue). A conversation the action
    server has not seen before (``rasa shell``) is created.
    """
    conversation = update_triage(
        session,
        conversation_id=conversation_id,
        channel=channel,
        topic=topic,
        subtopic=subtopic,
        place_name=place_name,
        lad_code=lad_code,
    )
    moved = False
    for _ in range(HAND_OVER_ATTEMPTS):
        current = _current(session, conversation.id).status
        if current in WITH_ADVISERS:
            break
        try:
            transition(
                session,
                conversation_id=conversation.id,
                move=Transition.HAND_OVER,
                expect=current,
            )
            moved = True
            break
        except Conflict:
            continue  # an adviser moved it meanwhile: look again
    names = organisation_names or []
    handoff = Handoff(
        conversation_id=conversation.id,
        reason=reason,
        topic=topic,
        subtopic=subtopic,
        place_name=place_name,
        lad_code=lad_code,
        organisation_names=names,
        summary=summarise(
            reason=reason,
            topic=topic,
            subtopic=subtopic,
            place_name=place_name,
            lad_code=lad_code,
            organisation_names=names,
        ),
        last_messages=last_messages
        if last_messages is not None
        else repo.transcript(session, conversation_id=conversation.id),
    )
    session.add(handoff)
    session.flush()
    facts.handed_over(session, conversation.id, reason=reason)
    raised = False
    if reason == URGENT_REASON:
        raised = mark_urgent(session, conversation_id=conversation.id)
    return HandedOver(handoff, moved, raised)


def hand_over_conversation(
    session: Session,
    *,
    conversation: Conversation,
    reason: str,
    organisation_names: list[str] | None = None,
) -> HandedOver:
    """Hand ``conversation`` over with what it already knows (topic, place)."""
    return hand_over(
        session,
        conversation_id=conversation.id,
        channel=conversation.channel,
        reason=reason,
        topic=conversation.topic,
        subtopic=conversation.subtopic,
        place_name=conversation.place_name,
        lad_code=conversation.lad_code,
        organisation_names=organisation_names,
    )


def mark_urgent(session: Session, *, conversation_id: str) -> bool:
    """Raise a conversation with the advisers to urgent; False if it already was.

    One conditional UPDATE (queued or assigned, not yet urgent), so a claim or a
    resolve racing with it never leaves a closed conversation marked urgent. The
    activity line is written only by the call that raised it.
    """
    session.flush()
    now = utcnow()
    result = session.execute(
        update(Conversation)
        .where(
            Conversation.id == conversation_id,
            Conversation.status.in_(list(WITH_ADVISERS)),
            Conversation.urgent.is_(False),
        )
        .values(urgent=True, urgent_since=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    conversation = _current(session, conversation_id)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    facts.marked_urgent(session, conversation_id)
    _activity(session, conversation, URGENT_ACTIVITY_TEXT)
    return True


# ------------------------------------------------------------ outgoing messages


def send(
    session: Session,
    *,
    conversation: Conversation,
    sender: str,
    text: str,
    buttons: list[dict[str, str]] | None = None,
    adviser_id: int | None = None,
    source_id: str | None = None,
    urgent: bool = False,
    channel: str | None = None,
) -> Message:
    """Store an outgoing message with its outbox row; it goes out on commit.

    ``channel`` sends it another way than the conversation's own (``"email"``:
    an adviser's reply to the address the person left).
    """
    via = channel or conversation.channel
    message = repo.add_message(
        session,
        conversation_id=conversation.id,
        channel=via,
        message_type=MessageType.OUTGOING,
        sender=sender,
        text=text,
        buttons=buttons,
        source_id=source_id,
        adviser_id=adviser_id,
        urgent=urgent,
        # a pulled channel has the message once stored: delivered as inserted
        delivered_at=utcnow() if via in PULLED_CHANNELS else None,
    )
    _queue(session, conversation, message)
    if sender == "adviser":
        repo.note_first_reply(session, conversation_id=conversation.id)
    return message


def send_once(
    session: Session,
    *,
    conversation: Conversation,
    text: str,
    source_id: str,
    sender: str = "bot",
) -> Message | None:
    """Send a notice keyed by ``source_id`` at most once; commits (None: sent before).

    Commits on its own because the unique constraint on (channel, source_id) is
    the real guard against a concurrent duplicate, and a failed insert must not
    undo other work.
    """
    if repo.source_id_taken(session, channel=conversation.channel, source_id=source_id):
        return None
    try:
        # the insert (at its flush) or the commit meets a concurrent duplicate
        message = send(
            session,
            conversation=conversation,
            sender=sender,
            text=text,
            source_id=source_id,
        )
        session.commit()
    except IntegrityError:
        session.rollback()
        return None
    return message


def _queue(session: Session, conversation: Conversation, message: Message) -> None:
    """Add the message's outbox row: already delivered for a pulled channel
    (``send`` inserted the message delivered), else due now."""
    pulled = message.delivered_at is not None
    now = message.delivered_at or utcnow()
    session.add(
        Outbox(
            message_id=message.id,
            conversation_id=conversation.id,
            channel=message.channel,
            state=OutboxState.DELIVERED if pulled else OutboxState.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            delivered_at=message.delivered_at,
        )
    )
    session.flush()
    topic = conversation_topic(conversation.id)
    announce(session, topic, message_event(conversation.id, message_view(message)))
    if not pulled:
        wake_outbox(session, conversation.id)


def retry_delivery(session: Session, *, conversation_id: str, message_id: int) -> bool:
    """Send a failed message again (now); False if it is not a failed one."""
    result = session.execute(
        update(Outbox)
        .where(
            Outbox.conversation_id == conversation_id,
            Outbox.message_id == message_id,
            Outbox.state == OutboxState.FAILED,
        )
        .values(state=OutboxState.PENDING, attempts=0, next_attempt_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    wake_outbox(session, conversation_id)
    announce(
        session,
        conversation_topic(conversation_id),
        {
            "type": "delivery",
            "conversation_id": conversation_id,
            "message_id": message_id,
        },
    )
    return True


def delivery_states(session: Session, *, message_ids: list[int]) -> dict[int, str]:
    """Return the outbox state (pending, delivered, failed) of these messages."""
    if not message_ids:
        return {}
    rows = session.execute(
        select(Outbox.message_id, Outbox.state).where(
            Outbox.message_id.in_(message_ids)
        )
    ).tuples()
    return {mid: state.value for mid, state in rows}


# ---------------------------------------------------------- incoming messages


def mark_answered(
    session: Session,
    *,
    message_id: int,
    at: datetime | None = None,
    nlu: tuple[str | None, float | None] | None = None,
) -> None:
    """Record that a person's message had its turn (answered or passed on); a
    message answered before keeps its first time.

    ``nlu``: the turn's intent and confidence, written in the same update (the
    caller keeps the conversation's facts with ``facts.nlu``; ``repo.record_nlu``
    is both for a message answered elsewhere).
    """
    values: dict[str, Any] = {
        "answered_at": func.coalesce(Message.answered_at, at or utcnow())
    }
    if nlu is not None:
        values["intent"], values["confidence"] = nlu
    session.execute(
        update(Message)
        .where(Message.id == message_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def unanswered(
    session: Session, *, older_than: datetime, limit: int = 100
) -> list[tuple[int, str]]:
    """Return (message id, conversation id) of incoming messages never answered."""
    rows = session.execute(
        select(Message.id, Message.conversation_id)
        .where(
            Message.message_type == MessageType.INCOMING,
            Message.answered_at.is_(None),
            Message.created_at < older_than,
        )
        .order_by(Message.id)
        .limit(limit)
    ).tuples()
    return list(rows)
