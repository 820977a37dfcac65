"""The delivery worker: sends the outbox through each person's channel, in order.

Every outgoing message is written with an outbox row in the same transaction
(``bot.conversations.service.send``). This worker sends each conversation's
pending rows oldest first, one at a time, and records the outcome: delivered,
or retried later with exponential backoff (a Telegram 429's ``retry_after``
wins), or failed once retries are used up or the channel refuses for good. A
later message never overtakes a pending one of the same conversation; a failed
one waits for an adviser's retry and holds nothing up.

A message a channel sends in parts (Telegram's 4,096 characters) has the parts
it already sent recorded on its row, part by part (``record_parts``), so a
retry, by this worker or another after a crash, sends only the rest, in order.

Bot messages that queue up for a chat still waiting for its pacing slot (a
channel with ``busy`` and ``join``: Telegram) go out as one message, in order,
when the channel can send them as one; each row is then marked delivered.

It also runs the sweeper: a person's message stored but never answered (the
gateway crashed mid-turn) is finished by ``Pipeline.finish``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.conversations import events as tx_events
from bot.conversations import service
from bot.db.base import utcnow
from bot.db.models import Conversation, Message, Outbox, OutboxState
from bot.gateway import hub
from bot.gateway.channels.base import DeliveryError, SendProgress
from bot.gateway.events import message_view
from bot.gateway.turns import ref

if TYPE_CHECKING:
    from bot.gateway.pipeline import Pipeline

logger = logging.getLogger(__name__)


JOIN_AT_MOST = 10  # queued messages sent as one, at most


@dataclass
class OutboxPolicy:
    """How the worker retries, and how long a message may stay unanswered."""

    base_delay_s: float = 1.0  # first retry; doubles each attempt
    max_delay_s: float = 60.0
    fail_after: int = 10  # attempts, then "failed" (about six minutes)
    poll_s: float = 2.0  # also look for rows other processes wrote
    # a claimed row is due again after this if its sender died mid-send
    send_lease_s: float = 60.0
    # A person's message stored this long ago with no answer had its turn cut
    # short (longer than any turn: Rasa's timeout plus the NLU check).
    sweep_after_s: float = 30.0
    sweep_every_s: float = 10.0

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        """Return how long to wait before attempt ``attempts + 1``."""
        backoff = min(self.max_delay_s, self.base_delay_s * 2 ** max(0, attempts - 1))
        return max(backoff, retry_after or 0.0)


@dataclass(frozen=True)
class Due:
    """The next outbox row of one conversation, with what sending it needs."""

    outbox_id: int
    attempts: int
    next_attempt_at: datetime
    view: dict[str, Any]
    conversation: Any  # ConversationRef
    channel: str = ""  # the row's own channel ("email"), else the conversation's
    parts_sent: int = 0  # parts an earlier attempt got through


def due_conversations(session: Session, *, now: datetime, limit: int) -> list[str]:
    """Return conversations whose oldest pending outbox row is due now."""
    oldest = (
        select(Outbox.conversation_id, func.min(Outbox.id).label("first"))
        .where(Outbox.state == OutboxState.PENDING)
        .group_by(Outbox.conversation_id)
        .subquery()
    )
    rows = session.execute(
        select(oldest.c.conversation_id)
        .join(Outbox, Outbox.id == oldest.c.first)
        .where(Outbox.next_attempt_at <= now)
        .order_by(oldest.c.first)
        .limit(limit)
    ).scalars()
    return list(rows)


def next_due(session: Session, *, conversation_id: str) -> Due | None:
    """Return the oldest pending outbox row of a conversation (due or not)."""
    row = session.scalars(
        select(Outbox)
        .where(
            Outbox.conversation_id == conversation_id,
            Outbox.state == OutboxState.PENDING,
        )
        .order_by(Outbox.id)
        .limit(1)
    ).first()
    if row is None:
        return None
    message = session.get(Message, row.message_id)
    conversation = session.get(Conversation, conversation_id)
    assert message is not None and conversation is not None
    return Due(
        row.id,
        row.attempts,
        row.next_attempt_at,
        message_view(message),
        ref(conversation),
        row.channel,
        row.parts_sent,
    )


def pending_after(
    session: Session, *, conversation_id: str, after: int, limit: int
) -> list[Due]:
    """Return a conversation's pending rows after ``after``, oldest first."""
    rows = session.scalars(
        select(Outbox)
        .where(
            Outbox.conversation_id == conversation_id,
            Outbox.state == OutboxState.PENDING,
            Outbox.id > after,
        )
        .order_by(Outbox.id)
        .limit(limit)
    ).all()
    found = []
    for row in rows:
        message = session.get(Message, row.message_id)
        conversation = session.get(Conversation, conversation_id)
        assert message is not None and conversation is not None
        found.append(
            Due(
                row.id,
                row.attempts,
                row.next_attempt_at,
                message_view(message),
                ref(conversation),
                row.channel,
                row.parts_sent,
            )
        )
    return found


def earliest_pending(session: Session) -> datetime | None:
    """Return when the next pending row falls due."""
    return session.scalar(
        select(func.min(Outbox.next_attempt_at)).where(
            Outbox.state == OutboxState.PENDING
        )
    )


def record_delivered(session: Session, *, outbox_id: int, message_id: int) -> None:
    """Mark a row and its message delivered."""
    now = utcnow()
    session.execute(
        update(Outbox)
        .where(Outbox.id == outbox_id)
        .values(state=OutboxState.DELIVERED, delivered_at=now, last_error=None)
    )
    session.execute(
        update(Message).where(Message.id == message_id).values(delivered_at=now)
    )


def record_parts(session: Session, *, outbox_id: int, parts: int) -> None:
    """Record that the channel accepted the first ``parts`` parts of a row."""
    session.execute(
        update(Outbox)
        .where(Outbox.id == outbox_id, Outbox.parts_sent < parts)
        .values(parts_sent=parts)
    )


def claim(
    session: Session, *, outbox_id: int, seen_at: datetime, until: datetime
) -> bool:
    """Take a pending row for one send; return whether this worker got it.

    One conditional UPDATE: the row's next attempt moves from ``seen_at`` (what
    this worker read) to ``until``. Another gateway process that read the same row
    finds it moved and leaves it, so a reply is sent once however many workers
    share the database; a worker that dies mid-send leaves it due at ``until``.
    """
    result = session.execute(
        update(Outbox)
        .where(
            Outbox.id == outbox_id,
            Outbox.state == OutboxState.PENDING,
            Outbox.next_attempt_at == seen_at,
        )
        .values(next_attempt_at=until)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def postpone(session: Session, *, outbox_id: int, until: datetime) -> None:
    """Move a row's next attempt to ``until`` without counting an attempt."""
    session.execute(
        update(Outbox).where(Outbox.id == outbox_id).values(next_attempt_at=until)
    )


def record_failure(
    session: Session,
    *,
    outbox_id: int,
    attempts: int,
    error: str,
    retry_at: datetime | None,
) -> None:
    """Count a failed attempt; ``retry_at`` None means give up (failed)."""
    values: dict[str, Any] = {"attempts": attempts, "last_error": error[:500]}
    if retry_at is None:
        values["state"] = OutboxState.FAILED
    else:
        values["next_attempt_at"] = retry_at
    session.execute(update(Outbox).where(Outbox.id == outbox_id).values(**values))


class DeliveryWorker:
    """Sends the outbox, one task per conversation with something to send."""

    def __init__(self, pipeline: Pipeline, policy: OutboxPolicy | None = None) -> None:
        self.pipeline = pipeline
        self.policy = policy or OutboxPolicy()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._active: dict[str, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Start sending and sweeping (in the running event loop)."""
        self._loop = asyncio.get_running_loop()
        tx_events.add_waker(self.wake)
        self._tasks = [
            asyncio.create_task(self._deliver_loop(), name="outbox"),
            asyncio.create_task(self._sweep_loop(), name="sweeper"),
        ]

    def cancel(self) -> list[asyncio.Task[None]]:
        """Stop at once; what is not sent yet stays in the outbox."""
        tx_events.remove_waker(self.wake)
        tasks = [*self._tasks, *self._active.values()]
        for task in tasks:
            task.cancel()
        self._tasks, self._active = [], {}
        return tasks

    async def stop(self) -> None:
        """Stop and wait for the tasks to end."""
        for task in self.cancel():
            with suppress(asyncio.CancelledError, Exception):
                await task

    def wake(self, conversation_id: str | None = None) -> None:
        """Look at the outbox now (callable from any thread)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake.set)

    # ------------------------------------------------------------------ sending

    async def _deliver_loop(self) -> None:
        while True:
            try:
                await self._dispatch()
            except Exception:
                logger.exception("outbox pass failed; trying again shortly")
            timeout = await self._until_next()
            self._wake.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _until_next(self) -> float:
        try:
            at = await self.pipeline.in_db(earliest_pending)
        except Exception:
            return self.policy.poll_s
        if at is None:
            return self.policy.poll_s
        wait = (at - utcnow()).total_seconds()
        return max(0.0, min(self.policy.poll_s, wait))

    async def _dispatch(self) -> None:
        now = utcnow()
        due = await self.pipeline.in_db(
            lambda s: due_conversations(s, now=now, limit=200)
        )
        for conversation_id in due:
            if conversation_id not in self._active:
                task = asyncio.create_task(self._drain(conversation_id))
                self._active[conversation_id] = task
                task.add_done_callback(
                    functools.partial(self._drained, conversation_id)
                )

    def _drained(self, conversation_id: str, _task: asyncio.Task[None]) -> None:
        self._active.pop(conversation_id, None)
        # A row committed while this drain was finishing: look once more.
        self._wake.set()

    async def _drain(self, conversation_id: str) -> None:
        """Send a conversation's due rows in order until one has to wait."""
        while True:
            row = await self.pipeline.in_db(
                lambda s: next_due(s, conversation_id=conversation_id)
            )
            if row is None or row.next_attempt_at > utcnow():
                return  # nothing left, or the oldest waits (the rest wait too)
            lease = utcnow() + timedelta(seconds=self.policy.send_lease_s)
            def take(s: Session, row: Due = row, lease: datetime = lease) -> bool:
                return claim(s, outbox_id=row.outbox_id,
                             seen_at=row.next_attempt_at, until=lease)

            if not await self.pipeline.in_db(take):
                return  # another gateway process is sending it
            if not await self._send([row, *await self._joined(row)]):
                return

    async def _joined(self, row: Due) -> list[Due]:
        """Claim the rows that can go with ``row`` as one message: the ones
        right after it, due, while the chat still waits for its pacing slot."""
        conv = row.conversation
        channel = self.pipeline.channels.get(row.channel or conv.channel)
        busy = getattr(channel, "busy", None)
        join = getattr(channel, "join", None)
        if busy is None or join is None or row.parts_sent or not await busy(conv):
            return []
        later = await self.pipeline.in_db(
            lambda s: pending_after(
                s, conversation_id=conv.id, after=row.outbox_id, limit=JOIN_AT_MOST
            )
        )
        now = utcnow()
        run = []
        for other in later:
            if other.next_attempt_at > now or other.channel != row.channel:
                break
            run.append(other)
        while run and join([row.view, *(r.view for r in run)]) is None:
            run.pop()
        lease = utcnow() + timedelta(seconds=self.policy.send_lease_s)
        claimed: list[Due] = []
        for other in run:
            def take(s: Session, other: Due = other) -> bool:
                return claim(s, outbox_id=other.outbox_id,
                             seen_at=other.next_attempt_at, until=lease)

            if not await self.pipeline.in_db(take):
                break  # another worker has it: the run ends here
            claimed.append(other)
        return claimed

    async def _send(self, rows: list[Due]) -> bool:
        """Send one row (or a run joined into one message); return whether the
        conversation may go on."""
        row = rows[0]
        conv = row.conversation
        via = row.channel or conv.channel
        channel = self.pipeline.channels.get(via)
        if channel is not None and not getattr(channel, "ready", True):
            # Still starting (Telegram starts in the background): not an
            # attempt, so a slow start never uses up the retries.
            later = utcnow() + timedelta(seconds=self.policy.poll_s)
            for each in rows:
                await self.pipeline.in_db(
                    functools.partial(postpone, outbox_id=each.outbox_id, until=later)
                )
            return False
        attempts = row.attempts + 1
        try:
            if channel is None:
                raise DeliveryError(f"no {via} channel", permanent=True)
            view = row.view
            if len(rows) > 1:
                view = channel.join([r.view for r in rows])  # type: ignore[attr-defined]
            await channel.send(conv, view, self._progress(row))
        except DeliveryError as exc:
            give_up = exc.permanent or attempts >= self.policy.fail_after
            delay = self.policy.delay(attempts, exc.retry_after)
            retry_at = None if give_up else utcnow() + timedelta(seconds=delay)
            error = str(exc)
            for each in rows:
                await self.pipeline.in_db(
                    functools.partial(
                        record_failure,
                        outbox_id=each.outbox_id,
                        attempts=max(attempts, each.attempts + 1),
                        error=error,
                        retry_at=retry_at,
                    )
                )
                self._announce(conv.id, each.view["id"])
            logger.warning(
                "delivery failed (attempt %d, %s): %s",
                attempts,
                "given up" if give_up else f"retry in {delay:.1f}s",
                exc,
                extra={"conversation_id": conv.id},
            )
            # A failed row holds nothing up; one waiting for its retry does.
            return give_up
        for each in rows:
            await self.pipeline.in_db(
                functools.partial(
                    record_delivered,
                    outbox_id=each.outbox_id,
                    message_id=each.view["id"],
                )
            )
            self._announce(conv.id, each.view["id"])
        if len(rows) > 1:
            logger.info(
                "%d queued messages sent as one", len(rows),
                extra={"conversation_id": conv.id},
            )
        return True

    def _progress(self, row: Due) -> SendProgress:
        """Where a row's earlier attempts got to, and a recorder for each part."""

        async def record(parts: int) -> None:
            await self.pipeline.in_db(
                lambda s: record_parts(s, outbox_id=row.outbox_id, parts=parts)
            )

        return SendProgress(row.parts_sent, record)

    @staticmethod
    def _announce(conversation_id: str, message_id: int) -> None:
        """Tell the console a message's delivery state changed."""
        hub.publish(
            hub.conversation_topic(conversation_id),
            {
                "type": "delivery",
                "conversation_id": conversation_id,
                "message_id": message_id,
            },
        )

    # ----------------------------------------------------------------- sweeping

    async def _sweep_loop(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                logger.exception("sweeping unanswered messages failed")
            await asyncio.sleep(self.policy.sweep_every_s)

    async def sweep(self) -> int:
        """Finish every message stored but never answered; return how many."""
        older_than = utcnow() - timedelta(seconds=self.policy.sweep_after_s)
        found = await self.pipeline.in_db(
            lambda s: service.unanswered(s, older_than=older_than)
        )
        done = 0
        for message_id, conversation_id in found:
            try:
                if await self.pipeline.finish(message_id):
                    done += 1
            except Exception:
                logger.exception(
                    "could not finish an unanswered message",
                    extra={"conversation_id": conversation_id},
                )
        if done:
            logger.warning("answered %d message(s) left unanswered", done)
        return done


_pipeline: Pipeline | None = None


async def start_worker(
    pipeline: Pipeline, policy: OutboxPolicy | None = None
) -> DeliveryWorker:
    """Start the delivery worker (and the sweeper) for ``pipeline``.

    ``set_pipeline(None)`` at shutdown stops it; what it has not sent stays in
    the outbox for the next start.
    """
    if pipeline.delivery is not None:
        return pipeline.delivery  # type: ignore[no-any-return]
    if policy is None:
        policy = OutboxPolicy(send_lease_s=pipeline.settings.outbox_send_lease_s)
    worker = DeliveryWorker(pipeline, policy)
    pipeline.delivery = worker
    await worker.start()
    return worker


def set_pipeline(pipeline: Pipeline | None) -> None:
    """Route out-of-turn messages through ``pipeline`` (the gateway sets this).

    ``None`` (at shutdown) also stops the previous pipeline's delivery worker.
    """
    global _pipeline
    if pipeline is None and _pipeline is not None:
        worker = _pipeline.delivery
        if worker is not None:
            worker.cancel()
            _pipeline.delivery = None
    _pipeline = pipeline


def get_pipeline() -> Pipeline:
    """Return the running gateway's pipeline."""
    if _pipeline is None:
        raise RuntimeError("the gateway is not running in this process")
    return _pipeline


async def deliver_to_person(
    conversation_id: str,
    *,
    text: str,
    buttons: list[dict[str, str]] | None = None,
    sender: str = "adviser",
    adviser_id: int | None = None,
) -> None:
    """Store an outgoing message; the outbox sends it to the person's channel.

    Raises LookupError for an unknown conversation.
    """
    await get_pipeline().send_to_person(
        conversation_id,
        text=text,
        buttons=buttons,
        sender=sender,
        adviser_id=adviser_id,
    )
