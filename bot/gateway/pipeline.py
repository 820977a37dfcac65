"""The message pipeline: store every message first, then route it to the bot or to
the advisers, and deliver the answers in order."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from bot.db.base import utcnow
from bot.db.models import Conversation, ConversationStatus, Message, MessageType
from bot.db.repositories import conversations as repo
from bot.db.session import session_scope
from bot.domain.handoff import Transition
from bot.gateway import hub
from bot.gateway.channels.base import Channel, ConversationRef, Incoming
from bot.gateway.events import message_event, message_view, status_event, typing_event
from bot.gateway.hours import AdviserHours, out_of_hours_notice
from bot.gateway.locks import KeyedLocks
from bot.gateway.rasa_client import BotReply, RasaClient, RasaUnavailable
from bot.settings import Settings

logger = logging.getLogger(__name__)
T = TypeVar("T")

BOT_UNAVAILABLE_TEXT = (
    "Sorry, I'm having trouble right now — I've passed your message to an adviser, "
    "who will reply here as soon as they can."
)
EMAIL_THANKS_TEXT = "Thank you — an adviser can reply to {email} as well as here."
EMAIL = re.compile(r"[A-Za-z0-9._%+\-']+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
WITH_ADVISERS = (ConversationStatus.QUEUED, ConversationStatus.ASSIGNED)


class UnknownConversation(LookupError):
    """No conversation with that id."""


@dataclass
class Received:
    """What became of one incoming message."""

    conversation_id: str
    duplicate: bool = False
    message: dict[str, Any] | None = None
    replies: list[dict[str, Any]] = field(default_factory=list)
    status: str = ConversationStatus.BOT.value


@dataclass
class _Stored:
    conversation: ConversationRef
    message: dict[str, Any] | None


@dataclass
class _Turn:
    """The outcome of a bot turn, as stored."""

    conversation: ConversationRef
    replies: list[dict[str, Any]]
    handoff_id: int | None = None
    handoff_reason: str | None = None


def _ref(conversation: Conversation) -> ConversationRef:
    return ConversationRef(
        id=conversation.id,
        channel=conversation.channel,
        channel_user_id=conversation.channel_user_id,
        status=conversation.status.value,
    )


class Pipeline:
    """Receive → store → route → deliver, one message at a time per conversation."""

    def __init__(
        self,
        settings: Settings,
        rasa: RasaClient,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.rasa = rasa
        self.locks = KeyedLocks()
        self.channels: dict[str, Channel] = {}
        self.hours = AdviserHours.parse(
            settings.adviser_hours, settings.adviser_timezone
        )
        self.clock = clock

    def register(self, channel: Channel) -> None:
        """Deliver this channel's conversations through ``channel``."""
        self.channels[channel.name] = channel

    async def _db(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a worker thread in one committed transaction."""

        def run() -> T:
            with session_scope(self.settings.database_url) as session:
                return work(session)

        return await run_in_threadpool(run)

    # ------------------------------------------------------------------ receive

    async def receive(self, incoming: Incoming) -> Received:
        """Store ``incoming`` (once), then answer it or pass it to the advisers."""
        async with self.locks.hold(incoming.lock_key):
            stored = await self._db(lambda s: self._store_incoming(s, incoming))
            conv = stored.conversation
            if stored.message is None:
                logger.info(
                    "duplicate delivery dropped",
                    extra={"conversation_id": conv.id, "channel": incoming.channel},
                )
                return Received(conv.id, duplicate=True, status=conv.status)
            hub.publish(
                hub.conversation_topic(conv.id), message_event(conv.id, stored.message)
            )
            status = ConversationStatus(conv.status)
            if status in WITH_ADVISERS:
                return await self._to_advisers(conv, incoming, stored.message)
            if status is ConversationStatus.RESOLVED:
                conv = await self._reopen(conv)
            turn = await self._bot_turn(conv, incoming, stored.message)
            await self._deliver(turn.conversation, turn.replies)
            if turn.handoff_id is not None:
                event = status_event(
                    conv.id,
                    turn.conversation.status,
                    handoff_id=turn.handoff_id,
                    reason=turn.handoff_reason,
                )
                hub.publish(hub.conversation_topic(conv.id), event)
                hub.publish(hub.QUEUE_TOPIC, event)
            return Received(
                conv.id,
                message=stored.message,
                replies=turn.replies,
                status=turn.conversation.status,
            )

    def _store_incoming(self, session: Session, incoming: Incoming) -> _Stored:
        conversation: Conversation | None
        if incoming.conversation_id is not None:
            conversation = repo.get_conversation(
                session, conversation_id=incoming.conversation_id
            )
            if conversation is None:
                raise UnknownConversation(incoming.conversation_id)
        else:
            if incoming.channel_user_id is None:
                raise ValueError("a message needs a conversation or a channel user")
            conversation = repo.latest_conversation_for(
                session,
                channel=incoming.channel,
                channel_user_id=incoming.channel_user_id,
            ) or repo.create_conversation(
                session,
                channel=incoming.channel,
                channel_user_id=incoming.channel_user_id,
            )
        message = repo.add_message_once(
            session,
            conversation_id=conversation.id,
            channel=incoming.channel,
            message_type=MessageType.INCOMING,
            sender="person",
            text=incoming.text,
            source_id=incoming.source_id,
        )
        if message is None:
            # A failed insert rolls back, taking a conversation made just now with
            # it: find the one the first delivery stored.
            found = repo.get_conversation(session, conversation_id=conversation.id)
            if found is None and incoming.channel_user_id is not None:
                found = repo.latest_conversation_for(
                    session,
                    channel=incoming.channel,
                    channel_user_id=incoming.channel_user_id,
                )
            if found is None:
                raise UnknownConversation("conversation vanished with its duplicate")
            conversation = found
        return _Stored(
            _ref(conversation), message_view(message) if message is not None else None
        )

    async def _to_advisers(
        self, conv: ConversationRef, incoming: Incoming, view: dict[str, Any]
    ) -> Received:
        """The bot stays silent; the console is told; an email address is kept."""
        hub.publish(hub.QUEUE_TOPIC, message_event(conv.id, view))
        replies: list[dict[str, Any]] = []
        found = EMAIL.search(incoming.text)
        if found and conv.status == ConversationStatus.QUEUED.value:
            email = found.group(0).strip(".'")
            replies = await self._db(lambda s: self._keep_email(s, conv, email))
            await self._deliver(conv, replies)
        return Received(conv.id, message=view, replies=replies, status=conv.status)

    def _keep_email(
        self, session: Session, conv: ConversationRef, email: str
    ) -> list[dict[str, Any]]:
        repo.set_contact_email(session, conversation_id=conv.id, email=email)
        session.commit()
        logger.info("contact email stored", extra={"conversation_id": conv.id})
        handoff = repo.latest_handoff(session, conversation_id=conv.id)
        thanks = repo.add_message_once(
            session,
            conversation_id=conv.id,
            channel=conv.channel,
            message_type=MessageType.OUTGOING,
            sender="bot",
            text=EMAIL_THANKS_TEXT.format(email=email),
            source_id=f"notice:email:{conv.id}:{handoff.id if handoff else 0}",
        )
        return [message_view(thanks)] if thanks else []

    async def _reopen(self, conv: ConversationRef) -> ConversationRef:
        def reopen(session: Session) -> ConversationRef:
            conversation = repo.get_conversation(session, conversation_id=conv.id)
            assert conversation is not None
            if conversation.status is ConversationStatus.RESOLVED:
                repo.apply_transition(
                    session, conversation=conversation, transition=Transition.REOPEN
                )
            return _ref(conversation)

        conv = await self._db(reopen)
        event = status_event(conv.id, conv.status)
        hub.publish(hub.conversation_topic(conv.id), event)
        hub.publish(hub.QUEUE_TOPIC, event)
        try:
            # Rasa still holds the pause from the last hand-over.
            await self.rasa.resume(conv.id)
        except RasaUnavailable as exc:
            logger.warning(
                "could not resume the Rasa conversation: %s",
                exc,
                extra={"conversation_id": conv.id},
            )
        return conv

    # ----------------------------------------------------------------- the bot

    async def _bot_turn(
        self, conv: ConversationRef, incoming: Incoming, view: dict[str, Any]
    ) -> _Turn:
        topic = hub.conversation_topic(conv.id)
        hub.publish(topic, typing_event(conv.id, True))
        try:
            reply = await self.rasa.send(
                conv.id, incoming.rasa_text or incoming.text, channel=incoming.channel
            )
        except RasaUnavailable as exc:
            logger.error(
                "bot unavailable, handing over: %s",
                exc,
                extra={"conversation_id": conv.id},
            )
            return await self._db(lambda s: self._store_unavailable(s, conv))
        finally:
            hub.publish(topic, typing_event(conv.id, False))
        return await self._db(lambda s: self._store_reply(s, conv, view["id"], reply))

    def _store_reply(
        self, session: Session, conv: ConversationRef, message_id: int, reply: BotReply
    ) -> _Turn:
        repo.record_nlu(
            session,
            message_id=message_id,
            intent=reply.intent,
            confidence=reply.confidence,
        )
        # The action server may have handed over during this turn: read it afresh.
        conversation = repo.get_conversation(session, conversation_id=conv.id)
        assert conversation is not None
        session.refresh(conversation)
        replies = [
            repo.add_message(
                session,
                conversation_id=conv.id,
                channel=conv.channel,
                message_type=MessageType.OUTGOING,
                sender="bot",
                text=m.text,
                buttons=m.buttons or None,
            )
            for m in reply.messages
        ]
        handoff_id = handoff_reason = None
        if conversation.status is ConversationStatus.BOT and reply.paused:
            # Rasa paused but nothing queued it: queue it rather than lose it.
            handoff = repo.hand_over(
                session, conversation=conversation, reason="asked_for_person"
            )
            handoff_id, handoff_reason = handoff.id, handoff.reason
        elif conversation.status in WITH_ADVISERS:
            latest = repo.latest_handoff(session, conversation_id=conv.id)
            if latest is not None:
                handoff_id, handoff_reason = latest.id, latest.reason
        session.commit()
        views = [message_view(m) for m in replies]
        if handoff_id is not None:
            views += self._hours_notice(session, conversation, handoff_id)
        return _Turn(_ref(conversation), views, handoff_id, handoff_reason)

    def _store_unavailable(self, session: Session, conv: ConversationRef) -> _Turn:
        conversation = repo.get_conversation(session, conversation_id=conv.id)
        assert conversation is not None
        session.refresh(conversation)
        handoff_id = handoff_reason = None
        if conversation.status is ConversationStatus.BOT:
            handoff = repo.hand_over(
                session,
                conversation=conversation,
                reason="bot_unavailable",
                summary="Reason: the assistant was unavailable.",
            )
            handoff_id, handoff_reason = handoff.id, handoff.reason
        apology = repo.add_message(
            session,
            conversation_id=conv.id,
            channel=conv.channel,
            message_type=MessageType.OUTGOING,
            sender="bot",
            text=BOT_UNAVAILABLE_TEXT,
        )
        session.commit()
        views = [message_view(apology)]
        if handoff_id is not None:
            views += self._hours_notice(session, conversation, handoff_id)
        return _Turn(_ref(conversation), views, handoff_id, handoff_reason)

    def _hours_notice(
        self, session: Session, conversation: Conversation, handoff_id: int
    ) -> list[dict[str, Any]]:
        """Tell the person when to expect an answer, once per hand-over."""
        now = self.clock()
        if self.hours.is_open(now):
            return []
        notice = repo.add_message_once(
            session,
            conversation_id=conversation.id,
            channel=conversation.channel,
            message_type=MessageType.OUTGOING,
            sender="bot",
            text=out_of_hours_notice(self.hours, now),
            source_id=f"notice:hours:{conversation.id}:{handoff_id}",
        )
        return [message_view(notice)] if notice else []

    # ------------------------------------------------------------------ deliver

    async def _deliver(
        self, conv: ConversationRef, views: list[dict[str, Any]]
    ) -> None:
        """Publish ``views`` live and send them through the person's channel."""
        if not views:
            return
        topic = hub.conversation_topic(conv.id)
        for view in views:
            hub.publish(topic, message_event(conv.id, view))
        channel = self.channels.get(conv.channel)
        if channel is None:
            logger.error(
                "no channel %s to deliver to",
                conv.channel,
                extra={"conversation_id": conv.id},
            )
            return
        try:
            delivered = await channel.deliver(conv, views)
        except Exception:
            logger.exception("delivery failed", extra={"conversation_id": conv.id})
            return
        if delivered:
            await self._db(lambda s: repo.mark_delivered(s, message_ids=delivered))

    async def send_to_person(
        self,
        conversation_id: str,
        *,
        text: str,
        buttons: list[dict[str, str]] | None = None,
        sender: str = "adviser",
        adviser_id: int | None = None,
    ) -> dict[str, Any]:
        """Store an outgoing message and deliver it; return its view."""

        def lookup(session: Session) -> ConversationRef:
            conversation = repo.get_conversation(
                session, conversation_id=conversation_id
            )
            if conversation is None:
                raise UnknownConversation(conversation_id)
            return _ref(conversation)

        conv = await self._db(lookup)

        def store(session: Session) -> dict[str, Any]:
            message: Message = repo.add_message(
                session,
                conversation_id=conversation_id,
                channel=conv.channel,
                message_type=MessageType.OUTGOING,
                sender=sender,
                text=text,
                buttons=buttons,
                adviser_id=adviser_id,
            )
            if sender == "adviser":
                repo.note_first_reply(session, conversation_id=conversation_id)
            return message_view(message)

        async with self.locks.hold(conv.lock_key):
            view = await self._db(store)
            await self._deliver(conv, [view])
        return view
