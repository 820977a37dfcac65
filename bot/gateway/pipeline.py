"""The message pipeline: store every message first, then route it to the bot or to
the advisers; the answers go out through the outbox (``bot.gateway.delivery``)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from bot.conversations import service
from bot.db.base import utcnow
from bot.db.models import ConversationStatus
from bot.db.repositories import conversations as repo
from bot.db.session import session_scope
from bot.directory.reports import parse_payload, record_report, reply_text
from bot.domain import risk_phrases
from bot.domain.safety import RiskCheck
from bot.gateway import action_check, hub, turns
from bot.gateway.channels.base import Channel, ConversationRef, Incoming
from bot.gateway.events import message_event, message_view, status_event, typing_event
from bot.gateway.hours import AdviserHours
from bot.gateway.locks import conversation_locks
from bot.gateway.rasa_client import BotMessage, BotReply, RasaClient, RasaUnavailable
from bot.gateway.turns import (
    BOT_UNAVAILABLE_TEXT,
    WITH_ADVISERS,
    UnknownConversation,
)
from bot.reports import ratings
from bot.settings import Settings

logger = logging.getLogger(__name__)
T = TypeVar("T")

EMAIL = re.compile(r"[A-Za-z0-9._%+\-']+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
__all__ = ["BOT_UNAVAILABLE_TEXT", "Pipeline", "Received", "UnknownConversation"]


STORE_LOCK = "store:"  # prefixes the lock key that serialises storing


class _Coalesced:
    """The marker ``_burst`` returns for a message a later one answers."""


COALESCED = _Coalesced()


@dataclass
class Received:
    """What became of one incoming message."""

    conversation_id: str
    duplicate: bool = False
    message: dict[str, Any] | None = None
    replies: list[dict[str, Any]] = field(default_factory=list)
    status: str = ConversationStatus.BOT.value
    # answered together with a later message of the same burst (no replies here)
    coalesced: bool = False
    language: str = "en"  # the conversation's language after this message


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
        self.locks = conversation_locks(settings)
        self.channels: dict[str, Channel] = {}
        self.hours = AdviserHours.parse(
            settings.adviser_hours, settings.adviser_timezone
        )
        self.clock = clock
        # the running delivery worker (bot.gateway.delivery.running sets it)
        self.delivery: Any = None

    def register(self, channel: Channel) -> None:
        """Deliver this channel's conversations through ``channel``."""
        self.channels[channel.name] = channel

    async def in_db(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a worker thread in one committed transaction."""

        def run() -> T:
            with session_scope(self.settings.database_url) as session:
                return work(session)

        return await run_in_threadpool(run)

    # ------------------------------------------------------------------ receive

    async def receive(self, incoming: Incoming) -> Received:
        """Store ``incoming`` (once), then answer it or pass it to the advisers.

        Stored under the storing lock, then answered under the conversation's:
        a message that arrives while an earlier one has its turn is stored at
        once, and the burst is answered as one turn (``_burst``).
        """
        stored = await self.accept(incoming)
        return await self.process(stored, incoming)

    async def accept(
        self, incoming: Incoming, *, settled: bool = False
    ) -> turns.Stored:
        """Store the person's message and commit: after this it is never lost.

        A channel that answers later (Telegram) acknowledges once this returned,
        then calls ``process``. A repeat delivery of a stored message returns
        that message (``new`` False). ``settled``: the message gets no bot turn
        (a command the channel answers, an edit, a sticker), so it is marked
        answered at once and never waits in a burst.
        """
        # Its own lock, not the turn's: a message is stored while an earlier
        # one's turn is still running (and joins the next turn as a burst).
        # Only a chat's message may make its conversation, so only that needs
        # one writer; a repeat delivery is caught by the unique source id.
        storing = (
            self.locks.hold(STORE_LOCK + incoming.lock_key)
            if incoming.conversation_id is None
            else nullcontext()
        )
        async with storing:
            stored = await self._store(incoming)
            if settled and stored.new:
                message_id = stored.message["id"]
                await self.in_db(
                    lambda s: service.mark_answered(s, message_id=message_id)
                )
                stored.answered = True
            return stored

    async def settle(
        self,
        stored: turns.Stored,
        incoming: Incoming,
        *,
        reply: str | None = None,
        buttons: list[dict[str, str]] | None = None,
        always: bool = False,
    ) -> Received:
        """Answer a settled message (``accept(settled=True)``) without the bot.

        ``reply`` is sent while the bot holds the conversation, or in every
        state with ``always`` (a command's answer); otherwise the advisers hear
        of the message and the bot stays silent. The risk check still runs.
        """
        async with self.locks.hold(incoming.lock_key):
            conv_id = stored.conversation.id
            conv = await self.in_db(lambda s: self._fresh(s, conv_id))
            view = stored.message
            phrase = risk_phrases.match(incoming.text)
            if phrase is not None:
                return await self._urgent(conv, view, RiskCheck(phrase=phrase))
            with_advisers = ConversationStatus(conv.status) in WITH_ADVISERS
            if with_advisers:
                hub.publish(hub.QUEUE_TOPIC, message_event(conv.id, view))
            if reply is None or (with_advisers and not always):
                return Received(conv.id, message=view, status=conv.status)
            sent = await self.send_to_person(
                conv.id, text=reply, buttons=buttons, sender="bot"
            )
            hub.publish(hub.conversation_topic(conv.id), message_event(conv.id, sent))
            return Received(conv.id, message=view, replies=[sent], status=conv.status)

    async def _store(self, incoming: Incoming) -> turns.Stored:
        urgent = risk_phrases.match(incoming.text) is not None
        stored = await self.in_db(
            lambda s: turns.store_incoming(s, incoming, urgent=urgent)
        )
        conv = stored.conversation
        if stored.new:
            hub.publish(
                hub.conversation_topic(conv.id), message_event(conv.id, stored.message)
            )
        return stored

    async def process(self, stored: turns.Stored, incoming: Incoming) -> Received:
        """Give a stored message its turn, unless it already had one."""
        if stored.answered:
            return self._duplicate(stored.conversation)
        async with self.locks.hold(incoming.lock_key):
            return await self._process(stored, incoming)

    async def _process(self, stored: turns.Stored, incoming: Incoming) -> Received:
        """The turn, under the conversation's lock.

        A message stored but never answered (the gateway failed or stopped in
        between) is answered now, when the channel delivers it again or the
        sweeper finds it: never dropped as a duplicate.

        The risk check runs on every message in every state: the phrase floor
        first (no I/O, so a match is answered at once, even with Rasa down), then
        the NLU intent: the bot's turn gives it while the bot holds the
        conversation, Rasa's NLU alone is asked while the advisers do.
        """
        view = stored.message
        if stored.answered:
            return self._duplicate(stored.conversation)
        conv, burst, awaiting_comment = await self._burst(stored, incoming)
        if burst is None:
            # Read again under the lock: a concurrent delivery may have answered.
            return self._duplicate(stored.conversation)
        if isinstance(burst, _Coalesced):
            return Received(conv.id, message=view, status=conv.status, coalesced=True)
        incoming = burst
        if not stored.new:
            logger.info(
                "answering a stored message whose turn never finished",
                extra={"conversation_id": conv.id, "channel": incoming.channel},
            )
        phrase = risk_phrases.match(incoming.text)
        status = ConversationStatus(conv.status)
        if phrase is not None:
            # In a burst the phrase may be in an earlier message (flagged when
            # it was stored): this one is flagged only if it says it too.
            own = risk_phrases.match(view["text"]) is not None
            return await self._urgent(conv, view, RiskCheck(phrase=phrase), flag=own)
        answer = ratings.read(incoming.rasa_text)
        if answer.kind:
            # a rating button: answered here, never a turn of Rasa's dialogue
            return await self._rated(conv, view, answer)
        if status not in WITH_ADVISERS and awaiting_comment:
            check, nlu = await self._ask_nlu(conv, incoming)
            if check.urgent:
                return await self._urgent(conv, view, check, nlu=nlu)
            return await self._rated(conv, view, ratings.Answer("comment"))
        if status in WITH_ADVISERS:
            check, nlu = await self._ask_nlu(conv, incoming)
            if check.urgent:
                return await self._urgent(conv, view, check, nlu=nlu)
            return await self._to_advisers(conv, incoming, view, nlu)
        if status is ConversationStatus.RESOLVED:
            conv = await self._reopen(conv)
        turn = await self._bot_turn(conv, incoming, view)
        return await self._answered(conv, view, turn)

    async def _burst(
        self, stored: turns.Stored, incoming: Incoming
    ) -> tuple[ConversationRef, Incoming | None | _Coalesced, bool]:
        """Read the conversation afresh with the person's unanswered messages,
        and whether the bot's last words asked for a rating's comment (read in
        the same transaction: one trip to the database less per message).

        Consecutive messages that arrived while the bot was busy are answered
        as one turn, by the last of them (in the channel's order): an earlier
        one returns ``COALESCED`` and is left for that turn (every message was
        stored first, each is shown to advisers as sent); the last one's turn
        gets their texts joined, so the bot hears the whole burst once and
        answers once, never a block of replies per message. None: this message
        was answered meanwhile (a concurrent delivery).
        """
        conv_id = stored.conversation.id

        def read(s: Session) -> tuple[ConversationRef, list[turns.Pending], bool]:
            conv = self._fresh(s, conv_id)
            awaiting = ConversationStatus(
                conv.status
            ) not in WITH_ADVISERS and ratings.waiting_for_comment(s, conv_id)
            return conv, turns.pending_incoming(s, conv_id), awaiting

        conv, pending, awaiting = await self.in_db(read)
        own = stored.message["id"]
        if own not in {p.id for p in pending}:
            return conv, None, awaiting
        channel = self.channels.get(incoming.channel)
        key: Callable[[turns.Pending], Any] = getattr(
            channel, "burst_key", lambda p: p.id
        )
        spoken: Callable[[turns.Pending], str] = getattr(
            channel, "burst_text", lambda p: p.text
        )
        pending.sort(key=key)
        if pending[-1].id != own:
            return conv, COALESCED, awaiting
        earlier = pending[:-1]
        if not earlier:
            return conv, incoming, awaiting
        logger.info(
            "a burst of %d messages answered as one turn",
            len(pending),
            extra={"conversation_id": conv.id, "channel": incoming.channel},
        )
        last = incoming.rasa_text or incoming.text
        if incoming.rasa_text and incoming.rasa_text.startswith("/"):
            rasa_text = last  # an intent payload (a button) stands alone
        else:
            said = [t for t in (spoken(p) for p in earlier) if t.strip()]
            rasa_text = "\n".join([*said, last])
        text = "\n".join([*(p.text for p in earlier), incoming.text])
        ids = [p.id for p in earlier]
        await self.in_db(lambda s: turns.mark_all_answered(s, ids))
        return conv, replace(incoming, text=text, rasa_text=rasa_text), awaiting

    async def _rated(
        self, conv: ConversationRef, view: dict[str, Any], answer: ratings.Answer
    ) -> Received:
        replies = await self.in_db(
            lambda s: turns.rated(s, conv, view["id"], answer)
        )
        return Received(conv.id, message=view, replies=replies, status=conv.status)

    def _duplicate(self, conv: ConversationRef) -> Received:
        logger.info(
            "duplicate delivery dropped",
            extra={"conversation_id": conv.id, "channel": conv.channel},
        )
        return Received(
            conv.id, duplicate=True, status=conv.status, language=conv.language
        )

    @staticmethod
    def _fresh(session: Session, conversation_id: str) -> ConversationRef:
        conversation = repo.get_conversation(session, conversation_id=conversation_id)
        if conversation is None:
            raise UnknownConversation(conversation_id)
        return turns.ref(conversation)

    async def finish(self, message_id: int) -> bool:
        """Finish a stored message that was never answered (the sweeper's step).

        It gets its turn now; if that fails as well, the person is told the bot
        is unavailable and the conversation goes to the advisers. Returns whether
        there was anything to do.
        """
        found = await self.in_db(lambda s: turns.stored_again(s, message_id))
        if found is None:
            return False
        incoming, stored = found
        try:
            await self.process(stored, incoming)
        except Exception:
            logger.exception(
                "unanswered message failed again: handing over",
                extra={"conversation_id": stored.conversation.id},
            )
            notice = turns.Notice(self.hours, self.clock())
            async with self.locks.hold(incoming.lock_key):
                if await self.in_db(lambda s: turns.is_answered(s, message_id)):
                    return True
                conv = stored.conversation
                turn = await self.in_db(
                    lambda s: turns.store_unavailable(s, conv, notice, message_id)
                )
                await self._answered(conv, stored.message, turn)
        return True

    async def _answered(
        self, conv: ConversationRef, view: dict[str, Any], turn: turns.Turn
    ) -> Received:
        """Tell the console of any hand-over (the replies went out on commit)."""
        if turn.handoff_id is not None:

            def event(urgent: bool) -> dict[str, Any]:
                return status_event(
                    conv.id,
                    turn.conversation.status,
                    handoff_id=turn.handoff_id,
                    reason=turn.handoff_reason,
                    urgent=urgent,
                    message_id=view["id"],
                )

            # Watchers of the conversation re-read an urgent message; the queue
            # (and every adviser's alert) hears of a hand-over or a conversation
            # that has just become urgent, not of each later message.
            hub.publish(hub.conversation_topic(conv.id), event(turn.urgent))
            if turn.alert or ConversationStatus(conv.status) not in WITH_ADVISERS:
                hub.publish(hub.QUEUE_TOPIC, event(turn.alert))
        return Received(
            conv.id,
            message=view,
            replies=turn.replies,
            status=turn.conversation.status,
            language=turn.conversation.language,
        )

    # ------------------------------------------------------------ the risk check

    async def _ask_nlu(
        self, conv: ConversationRef, incoming: Incoming
    ) -> tuple[RiskCheck, tuple[str | None, float | None]]:
        """Ask Rasa's NLU (no dialogue turn) what a message to the advisers means."""
        try:
            intent, confidence = await self.rasa.parse(incoming.text)
        except RasaUnavailable as exc:
            logger.warning(
                "NLU unavailable for the risk check, phrase floor only: %s",
                exc,
                extra={"conversation_id": conv.id},
            )
            return RiskCheck(), (None, None)
        return RiskCheck(intent=intent), (intent, confidence)

    async def _urgent(
        self,
        conv: ConversationRef,
        view: dict[str, Any],
        check: RiskCheck,
        *,
        nlu: tuple[str | None, float | None] | None = None,
        flag: bool = True,
    ) -> Received:
        """Answer an urgent message: the emergency text, an urgent hand-over."""
        logger.warning(
            "risk check fired (%s)", check.source, extra={"conversation_id": conv.id}
        )
        notice = turns.Notice(self.hours, self.clock())
        turn = await self.in_db(
            lambda s: turns.store_urgent(
                s, conv, view["id"], notice, nlu=nlu, flag=flag
            )
        )
        if ConversationStatus(conv.status) in WITH_ADVISERS:
            hub.publish(hub.QUEUE_TOPIC, message_event(conv.id, view))
        return await self._answered(conv, view, turn)

    async def _to_advisers(
        self,
        conv: ConversationRef,
        incoming: Incoming,
        view: dict[str, Any],
        nlu: tuple[str | None, float | None],
    ) -> Received:
        """The bot stays silent; the console is told; an email address is kept."""
        found = EMAIL.search(incoming.text)
        email = None
        if found and conv.status == ConversationStatus.QUEUED.value:
            email = found.group(0).strip(".'")
        replies = await self.in_db(
            lambda s: turns.passed_to_advisers(s, conv, view["id"], nlu, email=email)
        )
        hub.publish(hub.QUEUE_TOPIC, message_event(conv.id, view))
        return Received(
            conv.id,
            message=view,
            replies=replies,
            status=conv.status,
            language=conv.language,
        )

    async def _reopen(self, conv: ConversationRef) -> ConversationRef:
        def reopen(session: Session) -> ConversationRef:
            service.reopen(session, conversation_id=conv.id)
            return self._fresh(session, conv.id)

        reopened = await self.in_db(reopen)
        # Rasa still holds the pause from the last hand-over (lifted before the
        # bot's turn, even for a conversation resolved before bot_paused existed).
        return replace(reopened, bot_paused=True)

    async def _resume(self, conv: ConversationRef) -> None:
        """Lift Rasa's pause before the bot's turn; raises RasaUnavailable."""
        await self.rasa.resume(conv.id)
        await self.in_db(lambda s: service.bot_resumed(s, conversation_id=conv.id))

    # ----------------------------------------------------------------- the bot

    async def _bot_turn(
        self, conv: ConversationRef, incoming: Incoming, view: dict[str, Any]
    ) -> turns.Turn:
        topic = hub.conversation_topic(conv.id)
        notice = turns.Notice(self.hours, self.clock())
        hub.publish(topic, typing_event(conv.id, True))
        report = parse_payload(incoming.rasa_text)
        if report is not None:  # "Is this wrong?" on a directory entry: no Rasa turn
            hub.publish(topic, typing_event(conv.id, False))
            reply = await self.in_db(
                lambda s: directory_report_reply(
                    s, conv.id, report, incoming.channel, conv.language
                )
            )
            return await self.in_db(
                lambda s: turns.store_reply(s, conv, view["id"], reply, notice)
            )
        try:
            if conv.bot_paused:
                await self._resume(conv)
            reply = await self.rasa.send(
                conv.id,
                incoming.rasa_text or incoming.text,
                channel=incoming.channel,
                language=conv.language,
            )
        except RasaUnavailable as exc:
            logger.error(
                "bot unavailable, handing over: %s",
                exc,
                extra={"conversation_id": conv.id},
            )
            return await self.in_db(
                lambda s: turns.store_unavailable(s, conv, notice, view["id"])
            )
        finally:
            hub.publish(topic, typing_event(conv.id, False))
        if RiskCheck(intent=reply.intent).urgent:
            # The model heard a risk the floor did not: the bot's own answer is
            # dropped and the one emergency text sent instead.
            logger.warning(
                "risk check fired (model)", extra={"conversation_id": conv.id}
            )
            nlu = (reply.intent, reply.confidence)
            return await self.in_db(
                lambda s: turns.store_urgent(s, conv, view["id"], notice, nlu=nlu)
            )
        failed = self._failed_actions(reply)
        if failed:
            # The action server failed during the turn: what Rasa said without
            # it is a half-answer. The apology and a person instead.
            logger.error(
                "action server failed during the turn (%s): handing over",
                ", ".join(failed),
                extra={"conversation_id": conv.id},
            )
            nlu = (reply.intent, reply.confidence)
            return await self.in_db(
                lambda s: turns.store_unavailable(s, conv, notice, view["id"], nlu=nlu)
            )
        return await self.in_db(
            lambda s: turns.store_reply(s, conv, view["id"], reply, notice)
        )

    @staticmethod
    def _failed_actions(reply: BotReply) -> list[str]:
        """Return the custom actions of this turn that failed.

        Read from the turn's events and topic slot, which the channel sends with
        its answer (rasa_addons/frontdoor_channel.py): known per turn, no second
        request to Rasa.
        """
        return action_check.failed_actions(
            [{"event": "user"}, *(reply.turn_events or [])], topic=reply.topic
        )

    # ------------------------------------------------------------------ deliver

    async def send_to_person(
        self,
        conversation_id: str,
        *,
        text: str,
        buttons: list[dict[str, str]] | None = None,
        sender: str = "adviser",
        adviser_id: int | None = None,
    ) -> dict[str, Any]:
        """Store an outgoing message with its outbox row; return its view.

        The delivery worker sends it (the widget has it as soon as it is stored).
        """

        def store(session: Session) -> dict[str, Any]:
            conversation = repo.get_conversation(
                session, conversation_id=conversation_id
            )
            if conversation is None:
                raise UnknownConversation(conversation_id)
            message = service.send(
                session,
                conversation=conversation,
                sender=sender,
                text=text,
                buttons=buttons,
                adviser_id=adviser_id,
            )
            return message_view(message)

        return await self.in_db(store)


def directory_report_reply(
    session: Session,
    conversation_id: str,
    ids: list[str],
    channel: str,
    language: str | None = None,
) -> BotReply:
    """Queue an "Is this wrong?" report for the operators; return the thanks."""
    rows = record_report(
        session, conversation_id=conversation_id, organisation_ids=ids, channel=channel
    )
    logger.info(
        "directory entry reported",
        extra={"conversation_id": conversation_id, "reports": len(rows)},
    )
    return BotReply(messages=[BotMessage(text=reply_text(bool(rows), language))])
