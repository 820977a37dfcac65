"""The Telegram channel: python-telegram-bot fed by our webhook (or our polling).

Every update kind a private chat sends is stored before Telegram has its 200:
text, captions (the caption is the message), photos, files, voice and audio,
video, stickers, locations, contacts and edits, files as Telegram's file ids
(``telegram_messages``), never downloaded. The transcript shows each as a short
line ("[photo, 120 KB] the caption"). The bot answers what it can: a caption as
text, a shared location through the nearest place in the gazetteer, commands;
a voice message or sticker gets "please type" while the bot has the
conversation. Group chats and channels are told once, and left.

Updates of one chat are answered in ``update_id`` order, a burst as one turn
(``Pipeline._burst``); replies are split under Telegram's 4,096 characters and
paced to one chat (``telegram_chat_interval_s``, ``bot.gateway.pacing``); bot
messages that queue up while the chat waits for its slot go as one (``join``);
a 429 waits for its ``retry_after`` through the outbox's next attempt.

With several gateway workers (the scaled profile) the same holds across them:
the pacing is shared through Redis, and a 429 holds every worker off the chat;
the parts of a long reply already sent are recorded on its outbox row (by the
delivery worker), so a retry on any worker after a crash sends only the rest;
and a chat's updates are answered one at a time under a lock shared by every
worker (``Pipeline.locks``), each only after the chat's earlier updates, on
whichever worker they arrived, were answered (``telegram_messages.handled_at``).
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import hmac
import itertools
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from telegram import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
)
from telegram import Message as TgMessage
from telegram.constants import ChatAction
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, Application, ContextTypes

from bot.conversations import service
from bot.db.models import (
    Adviser,
    Conversation,
    LocalAuthority,
    Message,
    MessageType,
    Place,
    TelegramMessage,
    TelegramProfile,
)
from bot.db.repositories import conversations as repo
from bot.gateway import hub, turns
from bot.gateway.channels.base import (
    ConversationRef,
    DeliveryError,
    Incoming,
    SendProgress,
    clean_text,
    json_object,
    read_body,
)
from bot.gateway.events import message_event, message_view
from bot.gateway.pacing import SlotTooFar, chat_pacer
from bot.gateway.pipeline import Pipeline
from bot.gateway.turns import WITH_ADVISERS, Pending, Stored
from bot.i18n import text as i18n_text
from bot.language import LANGUAGES
from bot.settings import Settings

logger = logging.getLogger(__name__)

CHANNEL = "telegram"
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
ALLOWED_UPDATES = [
    "message",
    "edited_message",
    "callback_query",
    "channel_post",
    "my_chat_member",
]
START_TEXT_FOR_RASA = "hello"
HUMAN_TEXT_FOR_RASA = "/request_human"
RESTART_TEXT_FOR_RASA = "/restart"
DELETE_YES = "/telegram_delete_yes"
DELETE_NO = "/telegram_delete_no"
PRIVACY_SOURCE = "notice:privacy:"  # + the conversation id
MAX_TEXT = 4096  # Telegram's limit, in UTF-16 code units
MAX_CALLBACK_ANSWER = 200
CHAT_LOCK = "telegram-chat:"  # + the chat id: one update of a chat at a time
ORDER_WAIT_MARGIN_S = 5.0
ORDER_POLL_S = 0.05
MAX_UPDATE_BYTES = 1024 * 1024
POLL_TIMEOUT_S = 10  # long polling: Telegram holds getUpdates this long
PAGE_SIZE = 6  # buttons on one page of a long choice list (then "More…")
TYPING_EVERY_S = 4.0  # Telegram shows "typing…" for about 5 s
# Telegram keeps an update for at most 24 hours: a stored "update:N" older than
# that is not a redelivery but a new update after Telegram restarted its ids.
REDELIVERY_WINDOW = timedelta(hours=24)
LOCATION_MAX_KM = 40.0
# Telegram's deep-link parameter: up to 64 of A-Z, a-z, 0-9, _ and -.
START_PARAMETER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
URL = re.compile(r"https?://", re.IGNORECASE)
COMMANDS = ("help", "human", "restart", "privacy", "delete", "iaith")
# the transcript's line for a message that is not plain text, "[photo, 12 KB] "
LABEL = re.compile(r"^\[[^\]\n]{1,300}\]\s*")


def callback_data(message_id: int, index: int) -> str:
    """Return a quick reply's callback data (well under Telegram's 64 bytes)."""
    return f"b{message_id}:{index}"


def page_data(message_id: int, page: int) -> str:
    """Return the callback data of a long choice list's "More…" button."""
    return f"p{message_id}:{page}"


def build_application(settings: Settings) -> Application:  # type: ignore[type-arg]
    """Build the PTB Application, without PTB's updater: our webhook route or our
    own polling loop feeds it, each storing an update before acknowledging it.

    The rate limiter keeps to Telegram's overall limits but never retries a
    429 itself (``max_retries=0``): the outbox waits for its ``retry_after``.
    """
    assert settings.telegram_bot_token is not None
    builder = (
        Application.builder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_base_url)
        .rate_limiter(AIORateLimiter(max_retries=0))
        # Messages of one chat are serialised by the channel's chat queues.
        .concurrent_updates(True)
    )
    return builder.updater(None).build()


# ------------------------------------------------------------------- text helpers


def units(text: str) -> int:
    """Return the length of ``text`` as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _prefix_within(text: str, limit: int) -> int:
    """Return the length (in characters) of the longest prefix within ``limit``."""
    n = min(len(text), limit)
    while (excess := units(text[:n]) - limit) > 0:
        # a character is one or two units: never drop more than needed
        n -= max(1, (excess + 1) // 2)
    return n


_SENTENCE_END = re.compile(r"[.!?…][)\"'”’]*\s")


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split ``text`` into parts within ``limit``, in order, never cutting it.

    Each cut is at the last paragraph break in the second half of the part, or
    else the last sentence end, line break, or space there; only a text with no
    such place is cut mid-word.
    """
    parts: list[str] = []
    rest = text
    while units(rest) > limit:
        window = rest[: _prefix_within(rest, limit)]
        floor = len(window) // 2
        cut = window.rfind("\n\n")
        if cut < floor:
            ends = [m.end() for m in _SENTENCE_END.finditer(window)]
            cut = ends[-1] if ends else -1
        if cut < floor:
            cut = window.rfind("\n")
        if cut < floor:
            cut = window.rfind(" ")
        if cut < floor:
            cut = len(window)
        part = rest[:cut].rstrip()
        if part:
            parts.append(part)
        rest = rest[cut:].lstrip()
    if rest.strip() or not parts:
        parts.append(rest.rstrip() or rest)
    return parts


def _size(size: int | None) -> str:
    if not size:
        return ""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


def _duration(value: object) -> str:
    seconds = int(_seconds(value)) if value is not None else 0  # type: ignore[arg-type]
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds else ""


def _label(kind: str, *facts: str | None) -> str:
    shown = [f for f in facts if f]
    return f"[{kind}{': ' + ', '.join(shown) if shown else ''}]"


# ------------------------------------------------------------------------- plans


@dataclass
class Plan:
    """What to do with one update: store ``incoming``, then answer it.

    ``settled`` messages get no bot turn: ``reply`` (a command's answer, "please
    type") is sent instead, in every state with ``always``.
    """

    incoming: Incoming
    update_id: int
    chat_id: int
    settled: bool = False
    reply: tuple[str, ...] | None = None  # i18n keys, said in the chat's language
    always: bool = False
    buttons: list[tuple[str, str]] | None = None  # (i18n key, payload)
    action: str | None = None  # "restart", "delete", "keep", "language:cy"
    meta: dict[str, Any] = field(default_factory=dict)  # telegram_messages
    profile: dict[str, Any] = field(default_factory=dict)  # telegram_profiles
    typing: bool = True


@dataclass
class Press:
    """A tap on one of our inline buttons, and what it does to the keyboard."""

    query: CallbackQuery
    chosen: str | None = None  # the option's title: shown, buttons removed
    index: int = 0  # the option's place in the buttons
    page: int | None = None  # a "More…" press: show this page
    buttons: list[dict[str, str]] = field(default_factory=list)
    message_id: int = 0
    stale: bool = False
    lang: str = "en"  # the conversation's language


class TelegramChannel:
    """Receives updates, hands them to the pipeline, sends the replies."""

    name = CHANNEL

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.settings = pipeline.settings
        self.polling = self.settings.telegram_mode == "polling"
        secret = self.settings.telegram_webhook_secret
        self._secret = secret.get_secret_value().encode() if secret else b""
        if not self.polling and not self._secret:
            raise ValueError(
                "TELEGRAM_WEBHOOK_SECRET must be set for the Telegram webhook"
            )
        self.application = build_application(self.settings)
        self.application.add_error_handler(self._on_error)
        self._turns: set[asyncio.Task[None]] = set()
        self._poller: asyncio.Task[None] | None = None
        # per chat: updates waiting for their turn, smallest update_id first,
        # with the stored message each answers (None: nothing stored)
        self._queues: dict[
            int, list[tuple[int, int, int | None, Callable[[], Awaitable[None]]]]
        ] = {}
        # how long an update waits for the chat's earlier ones (another worker
        # may be answering them): longer than any turn
        self._order_wait_s = self.settings.rasa_timeout_s + ORDER_WAIT_MARGIN_S
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._order = itertools.count()
        # webhook requests being received now (stored, not yet queued): an idle
        # chat's first update waits for those that came with it, never longer
        # than TELEGRAM_REORDER_WINDOW_S, and not at all when none did
        self._arriving: set[int] = set()
        self._arrival = itertools.count()
        self._arrived = asyncio.Condition()
        # the chats' send slots: this process's, or every worker's through Redis
        self.pacer = chat_pacer(
            self.settings.telegram_chat_interval_s,
            self.settings.redis_url,
            self.settings.redis_key_prefix,
        )
        self._left: set[int] = set()  # group chats told and left

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Initialise PTB, register the command menu, then the webhook or polling."""
        app = self.application
        await app.initialize()
        await app.start()
        await self._set_commands()
        if self.polling:
            await app.bot.delete_webhook()
            self._poller = asyncio.create_task(self._poll(), name="telegram-poll")
        else:
            await app.bot.set_webhook(
                url=self.settings.public_url.rstrip("/") + WEBHOOK_PATH,
                secret_token=self._secret.decode(),
                allowed_updates=ALLOWED_UPDATES,
            )
        logger.info("telegram channel started (%s)", self.settings.telegram_mode)

    async def _set_commands(self) -> None:
        """The command menu (setMyCommands), in English and in Welsh."""
        for lang in ("en", "cy"):
            commands = [
                BotCommand(c, i18n_text(f"telegram.commands.{c}", lang))
                for c in COMMANDS
            ]
            try:
                await self.application.bot.set_my_commands(
                    commands, language_code=None if lang == "en" else lang
                )
            except TelegramError as exc:
                logger.warning("could not set the command menu (%s): %s", lang, exc)

    async def stop(self) -> None:
        """Stop polling (if any) and PTB."""
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.cancel()
            with suppress(asyncio.CancelledError):
                await poller
        app = self.application
        if app.running:
            await app.stop()
        await app.shutdown()
        await self.pacer.aclose()

    async def _poll(self) -> None:
        """Fetch updates; an update is acknowledged (the next offset) only once
        it is stored, so a crash in between gets it again."""
        offset: int | None = None
        failures = 0
        while True:
            try:
                updates = await self.application.bot.get_updates(
                    offset=offset,
                    timeout=POLL_TIMEOUT_S,
                    allowed_updates=ALLOWED_UPDATES,
                )
                for update in sorted(updates, key=lambda u: u.update_id):
                    await self._take(update)
                    offset = update.update_id + 1
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                logger.warning("telegram polling failed (%d): %s", failures, exc)
                # the backoff between attempts (Telegram or the database down)
                await asyncio.sleep(min(30.0, 0.5 * 2 ** min(failures, 6)))

    # ------------------------------------------------------------------ webhook

    async def webhook(self, request: Request) -> Response:
        """Store the update's message, commit, then acknowledge; answer it after.

        Telegram redelivers an update until it gets a 2xx, so nothing is
        acknowledged before it is stored: a database failure answers 503 and
        Telegram tries again. The turn itself runs after the answer (a message
        left unanswered by a crash is finished by the sweeper).
        """
        given = request.headers.get(SECRET_HEADER, "").encode()
        if self.polling or not hmac.compare_digest(given, self._secret):
            logger.warning("telegram webhook refused: bad or missing secret")
            return JSONResponse({"error": "forbidden"}, status_code=403)
        arrival = next(self._arrival)
        self._arriving.add(arrival)
        try:
            return await self._receive(request, arrival)
        finally:
            self._arriving.discard(arrival)
            async with self._arrived:
                self._arrived.notify_all()

    async def _receive(self, request: Request, arrival: int) -> Response:
        body = await read_body(request, MAX_UPDATE_BYTES)
        if body is None:
            return JSONResponse({"error": "update too large"}, status_code=413)
        data = json_object(body)
        if data is None or not _is_update_id(data.get("update_id")):
            return JSONResponse({"error": "not an update"}, status_code=400)
        try:
            update = Update.de_json(data=data, bot=self.application.bot)
        except (ValueError, KeyError, TypeError, AttributeError):
            return JSONResponse({"error": "not an update"}, status_code=400)
        try:
            await self._take(update, arrival=arrival)
        except Exception:
            logger.exception("telegram update not stored; Telegram will redeliver")
            return JSONResponse({"error": "try again"}, status_code=503)
        return Response(status_code=200)

    async def _take(self, update: Update, *, arrival: int | None = None) -> None:
        """Store what ``update`` brings, then queue its answer behind the chat's
        earlier updates (raises if it could not be stored). ``arrival``: the
        webhook request that brought it."""
        chat = update.effective_chat
        if chat is None:
            return
        if chat.type != "private":
            if chat.id not in self._left:
                self._left.add(chat.id)
                self._spawn(self._leave(chat.id, chat.type))
            return
        press = await self._press(update) if update.callback_query else None
        plan = None
        if press is None or not press.stale:
            plan = await self._plan(update, press)
        stored = None
        if plan is not None:
            plan.incoming = await self._source(update, plan)
            stored = await self.pipeline.accept(plan.incoming, settled=plan.settled)
            try:
                await self.pipeline.in_db(lambda s: _remember(s, stored, plan))
            except IntegrityError:
                # another update of this chat made the rows first: now an update
                await self.pipeline.in_db(lambda s: _remember(s, stored, plan))

        async def answer() -> None:
            await self._answer(press, stored, plan)

        message_id = stored.message["id"] if stored is not None else None
        self._enqueue(chat.id, update.update_id, message_id, answer, arrival)

    # ------------------------------------------------------------- chat queues

    def _enqueue(
        self,
        chat_id: int,
        update_id: int,
        message_id: int | None,
        work: Callable[[], Awaitable[None]],
        arrival: int | None = None,
    ) -> None:
        """Answer a chat's updates one at a time, smallest ``update_id`` first
        (two that arrive together are answered in Telegram's order)."""
        queue = self._queues.setdefault(chat_id, [])
        heapq.heappush(queue, (update_id, next(self._order), message_id, work))
        if chat_id not in self._workers:
            # the webhook requests received with this one, still being stored
            with_it = frozenset(self._arriving - {arrival})
            task = asyncio.create_task(self._work(chat_id, with_it))
            self._workers[chat_id] = task
            self._turns.add(task)
            task.add_done_callback(self._turns.discard)

    async def _work(self, chat_id: int, with_it: frozenset[int]) -> None:
        queue = self._queues[chat_id]
        try:
            await self._received(with_it)
            while queue:
                entry = heapq.heappop(queue)
                try:
                    if not await self._in_order(chat_id, entry):
                        heapq.heappush(queue, entry)  # an earlier one came here
                except Exception:
                    logger.exception("telegram answer failed")
        finally:
            self._workers.pop(chat_id, None)
            if not queue:
                self._queues.pop(chat_id, None)

    async def _received(self, requests: frozenset[int]) -> None:
        """Wait until the webhook requests ``requests`` are stored and queued, for
        at most ``TELEGRAM_REORDER_WINDOW_S``.

        Two updates of a chat delivered together over two connections may be
        received in either order: the earlier one, if it is among them, is then
        in the chat's queue before its first answer. An update that came alone
        (the usual case: Telegram sends a chat's next update once the last one
        was acknowledged) waits for nothing.

        With several workers (Redis shared) an earlier update may be arriving
        at another one, unseen from here: the whole window is waited, and the
        chat's order in the database does the rest (``_in_order``).
        """
        window = self.settings.telegram_reorder_window_s
        if self.settings.redis_url:
            await asyncio.sleep(window)
            return
        if not requests:
            return
        with suppress(TimeoutError):
            async with asyncio.timeout(window):
                async with self._arrived:
                    await self._arrived.wait_for(
                        lambda: requests.isdisjoint(self._arriving)
                    )

    async def _in_order(
        self,
        chat_id: int,
        entry: tuple[int, int, int | None, Callable[[], Awaitable[None]]],
    ) -> bool:
        """Answer one update under the chat's lock (shared by every worker),
        once the chat's earlier updates are answered, on whichever worker they
        arrived; False if an earlier one was queued here meanwhile (answer it
        first).

        An earlier update stored more than ``_order_wait_s`` ago and still not
        answered had its worker die: it is no longer waited for (the sweeper
        answers it).
        """
        update_id, _, message_id, work = entry
        queue = self._queues.get(chat_id, [])
        while True:
            if queue and queue[0][0] < update_id:
                return False
            async with self.pipeline.locks.hold(f"{CHAT_LOCK}{chat_id}"):
                waiting = await self.pipeline.in_db(
                    functools.partial(
                        _earlier_unhandled,
                        chat_id=str(chat_id),
                        update_id=update_id,
                        since=datetime.now(UTC) - timedelta(seconds=self._order_wait_s),
                    )
                )
                if not waiting:
                    try:
                        await work()
                    finally:
                        if message_id is not None:
                            await self.pipeline.in_db(
                                lambda s: _handled(s, message_id)
                            )
                    return True
            # another worker is answering an earlier update of this chat
            await asyncio.sleep(ORDER_POLL_S)

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._turns.add(task)
        task.add_done_callback(self._turns.discard)

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the turns still running."""
        deadline = time.monotonic() + timeout
        while self._turns and time.monotonic() < deadline:
            await asyncio.wait(
                set(self._turns), timeout=max(0.0, deadline - time.monotonic())
            )

    # ------------------------------------------------------------------ answers

    async def _answer(
        self, press: Press | None, stored: Stored | None, plan: Plan | None
    ) -> None:
        if press is not None:
            await self._answer_press(press)
        if stored is None or plan is None:
            return  # nothing for us to answer (a forged button, a stale one)
        if not stored.new and (stored.answered or plan.settled):
            return  # a redelivery of a message answered before
        try:
            if self.settings.telegram_privacy_notice and plan.action != "delete":
                await self._notice(stored)
            if plan.settled:
                await self._settle(stored, plan)
                return
            typing = None
            if plan.typing and stored.conversation.status not in _ADVISER_STATES:
                typing = asyncio.create_task(self._typing(plan.chat_id))
            try:
                await self.pipeline.process(stored, plan.incoming)
            finally:
                if typing is not None:
                    typing.cancel()
                    with suppress(asyncio.CancelledError):
                        await typing
        except Exception:
            # Stored and not answered: the sweeper finishes it.
            logger.exception(
                "telegram turn failed",
                extra={"conversation_id": stored.conversation.id},
            )

    async def _notice(self, stored: Stored) -> None:
        """The short privacy notice, stored and sent ahead of a conversation's
        first reply (as the widget shows one before the first message)."""
        conv_id = stored.conversation.id
        told = await self.pipeline.in_db(lambda s: _privacy_notice(s, conv_id))
        if told is not None:
            hub.publish(hub.conversation_topic(conv_id), message_event(conv_id, told))

    async def _settle(self, stored: Stored, plan: Plan) -> None:
        """Answer a message that gets no bot turn (commands, stickers, edits)."""
        conv = stored.conversation
        lang = conv.language
        reply, always = plan.reply, plan.always
        if plan.action == "restart":
            # A fresh start for the bot; with the advisers nothing changes.
            fresh = await self.pipeline.in_db(
                lambda s: repo.get_conversation(s, conversation_id=conv.id)
            )
            if fresh is not None and fresh.status.value not in _ADVISER_STATES:
                with suppress(Exception):
                    await self.pipeline.rasa.send(
                        conv.id, RESTART_TEXT_FOR_RASA, channel=CHANNEL
                    )
            else:
                reply = ("telegram.with_advisers",)
        elif plan.action and plan.action.startswith("language:"):
            chosen = plan.action.split(":", 1)[1]
            recorded = await self.pipeline.in_db(
                lambda s: request_language(s, conv.id, chosen)
            )
            lang = chosen if recorded else "en"
            reply = (
                "telegram.language_set" if recorded else "telegram.language_not_yet",
            )
        elif plan.action == "delete":
            erased = await self._erase(conv.id)
            if erased:
                with suppress(TelegramError, RuntimeError, SlotTooFar):
                    await self.pacer.take(str(plan.chat_id))
                    await self.application.bot.send_message(
                        chat_id=plan.chat_id, text=i18n_text("telegram.deleted", lang)
                    )
                return
            reply = ("telegram.delete_unavailable",)
        text = " ".join(i18n_text(key, lang) for key in reply) if reply else None
        buttons = None
        if plan.buttons:
            buttons = [
                {"title": i18n_text(key, lang), "payload": payload}
                for key, payload in plan.buttons
            ]
        await self.pipeline.settle(
            stored, plan.incoming, reply=text, buttons=buttons, always=always
        )

    async def _erase(self, conversation_id: str) -> bool:
        """Erase the conversation with the data-protection erasure (issue 13's
        ``bot.privacy.erase_conversation``); False while there is none."""
        try:
            from bot import privacy
        except ImportError:
            return False
        erase = getattr(privacy, "erase_conversation", None)
        if erase is None:
            logger.warning("no erasure to call for /delete yet")
            return False
        await self.pipeline.in_db(lambda s: erase(s, conversation_id, by="person"))
        logger.info("conversation erased at the person's request")
        return True

    async def _typing(self, chat_id: int) -> None:
        """Show "typing…" in the chat until cancelled (the bot's turn is done)."""
        while True:
            try:
                await self.application.bot.send_chat_action(
                    chat_id=chat_id, action=ChatAction.TYPING
                )
            except (TelegramError, RuntimeError) as exc:
                logger.debug("typing indicator not shown: %s", exc)
            await asyncio.sleep(TYPING_EVERY_S)

    async def _leave(self, chat_id: int, chat_type: str) -> None:
        """Say, once, that the bot works in private chats; then leave."""
        bot = self.application.bot
        logger.info("leaving a %s chat", chat_type)
        with suppress(TelegramError, RuntimeError):
            await bot.send_message(
                chat_id=chat_id, text=i18n_text("telegram.private_only")
            )
        with suppress(TelegramError, RuntimeError):
            await bot.leave_chat(chat_id=chat_id)

    # ----------------------------------------------------------------- presses

    async def _press(self, update: Update) -> Press | None:
        """Read a tap on an inline button (None: not one of ours)."""
        query = update.callback_query
        assert query is not None
        chat = update.effective_chat
        assert chat is not None
        data = query.data or ""
        if not data.startswith(("b", "p")):
            return Press(query)
        found = await self.pipeline.in_db(
            lambda s: _buttons_for(s, data[1:], str(chat.id))
        )
        if found is None:
            return Press(query)  # answered, nothing else
        message_id, buttons, stale, lang = found
        press = Press(
            query, buttons=buttons, message_id=message_id, stale=stale, lang=lang
        )
        kind, _, rest = data.partition(":")
        if data.startswith("p"):
            with suppress(ValueError):
                press.page = int(rest)
            press.stale = press.stale or press.page is None
            return press
        try:
            index = int(rest)
        except ValueError:
            return Press(query)
        if not 0 <= index < len(buttons):
            return Press(query)
        press.chosen, press.index = buttons[index].get("title", ""), index
        return press

    async def _answer_press(self, press: Press) -> None:
        """Stop the button's spinner, then update the keyboard that was pressed."""
        query = press.query
        notice = i18n_text("telegram.stale_button", press.lang) if press.stale else None
        try:
            # Telegram wants an answer to a callback query soon.
            await query.answer(text=notice[:MAX_CALLBACK_ANSWER] if notice else None)
        except (TelegramError, RuntimeError) as exc:  # RuntimeError: not started
            logger.warning("could not answer callback query: %s", exc)
        message = query.message
        if not isinstance(message, TgMessage):
            return  # too old for Telegram to let us edit
        try:
            if press.page is not None and not press.stale:
                await message.edit_reply_markup(
                    reply_markup=keyboard(
                        press.message_id, press.buttons, press.page, lang=press.lang
                    )
                )
            elif press.chosen is not None and not press.stale:
                chosen = i18n_text("telegram.chosen", press.lang, choice=press.chosen)
                shown = f"{message.text}\n\n{chosen}" if message.text else chosen
                if units(shown) <= MAX_TEXT:
                    # an edited text counts towards the chat's flood limit
                    with suppress(SlotTooFar):
                        await self.pacer.take(str(message.chat_id))
                    await message.edit_text(text=shown, reply_markup=None)
                else:
                    await message.edit_reply_markup(reply_markup=None)
            elif press.message_id:
                await message.edit_reply_markup(reply_markup=None)  # stale
        except (TelegramError, RuntimeError) as exc:
            logger.info("keyboard not edited: %s", exc)

    # ------------------------------------------------------------------- plans

    async def _plan(self, update: Update, press: Press | None) -> Plan | None:
        """Return what to store and how to answer ``update`` (None: nothing)."""
        chat = update.effective_chat
        assert chat is not None and chat.type == "private"
        user = update.effective_user
        profile: dict[str, Any] = {}
        if user is not None:
            profile = {
                "display_name": clean_text(user.full_name)[:200] or None,
                "username": (user.username or None),
            }
        base: dict[str, Any] = {
            "update_id": update.update_id,
            "chat_id": chat.id,
            "profile": profile,
        }
        if press is not None:
            if press.chosen is None:
                return None
            payload = press.buttons[press.index].get("payload", "")
            incoming = self._incoming(update, press.chosen, rasa_text=payload)
            meta: dict[str, Any] = {"kind": "button"}
            if payload in (DELETE_YES, DELETE_NO):
                action = "delete" if payload == DELETE_YES else None
                return Plan(
                    incoming,
                    **base,
                    settled=True,
                    always=True,
                    action=action,
                    reply=("telegram.delete_kept",),
                    meta=meta,
                )
            return Plan(incoming, **base, meta=meta)
        message = update.message or update.edited_message
        if message is None:
            return None
        meta = {
            "kind": "text",
            "tg_message_id": message.message_id,
            "sent_at": _aware(message.date),
            "edited": update.edited_message is not None,
        }
        if update.edited_message is not None:
            shown = _message_text(message, meta)
            incoming = self._incoming(update, f"[edited] {shown}")
            # Shown to the advisers as edited; never answered a second time.
            return Plan(incoming, **base, settled=True, meta=meta)
        raw = message.text
        if raw is not None and raw.startswith("/"):
            return await self._command(update, raw, base, meta)
        if raw is not None:
            return Plan(self._incoming(update, raw), **base, meta=meta)
        shown = _message_text(message, meta)
        caption = message.caption
        if message.location is not None:
            return await self._location(update, shown, base, meta)
        if caption:
            # The caption is the message; the transcript shows what it came with.
            incoming = self._incoming(update, shown, rasa_text=caption)
            return Plan(incoming, **base, meta=meta)
        return Plan(
            self._incoming(update, shown),
            **base,
            settled=True,
            reply=("telegram.text_only",),
            meta=meta,
        )

    async def _command(
        self, update: Update, raw: str, base: dict[str, Any], meta: dict[str, Any]
    ) -> Plan:
        word, _, argument = raw.partition(" ")
        command = word[1:].split("@", 1)[0].lower()
        meta = {**meta, "kind": "command"}
        argument = argument.strip()
        if command == "start":
            # A "chat with us" link's parameter is where the person came from.
            if START_PARAMETER.match(argument):
                base["profile"] = {**base["profile"], "source": argument}
            incoming = self._incoming(update, raw, rasa_text=START_TEXT_FOR_RASA)
            if await self._with_advisers(base["chat_id"]):
                return Plan(
                    incoming,
                    **base,
                    settled=True,
                    always=True,
                    meta=meta,
                    reply=("telegram.with_advisers",),
                )
            return Plan(incoming, **base, meta=meta)
        incoming = self._incoming(update, raw)
        if command == "human":
            if await self._with_advisers(base["chat_id"]):
                return Plan(
                    incoming,
                    **base,
                    settled=True,
                    always=True,
                    meta=meta,
                    reply=("telegram.with_advisers",),
                )
            return Plan(
                replace(incoming, rasa_text=HUMAN_TEXT_FOR_RASA), **base, meta=meta
            )

        def answer(*reply: str, **more: Any) -> Plan:
            return Plan(
                incoming,
                **base,
                settled=True,
                always=True,
                meta=meta,
                reply=reply or None,
                **more,
            )

        if command == "help":
            return answer("telegram.help")
        if command == "privacy":
            return answer("telegram.privacy")
        if command in ("restart", "cancel", "stop"):
            return answer("telegram.restarted", action="restart")
        if command == "iaith":
            return answer(action="language:cy")
        if command == "delete":
            buttons = [
                ("telegram.delete_yes", DELETE_YES),
                ("telegram.delete_no", DELETE_NO),
            ]
            return answer("telegram.delete_confirm", buttons=buttons)
        return answer("telegram.unknown_command", "telegram.help")

    async def _location(
        self, update: Update, shown: str, base: dict[str, Any], meta: dict[str, Any]
    ) -> Plan:
        message = update.message
        assert message is not None and message.location is not None
        lat, lon = message.location.latitude, message.location.longitude
        near = await self.pipeline.in_db(lambda s: nearest_place(s, lat, lon))
        if near is None:
            return Plan(
                self._incoming(update, shown),
                **base,
                settled=True,
                reply=("telegram.location_unknown",),
                meta=meta,
            )
        place, council = near
        meta["details"] = {
            **meta.get("details", {}),
            "place": place,
            "council": council,
        }
        text = f"{shown[:-1]}, near {place} ({council})]"
        # The bot hears the place and its council, as if the person typed them.
        incoming = self._incoming(update, text, rasa_text=f"{place}, {council}")
        return Plan(incoming, **base, meta=meta)

    def _incoming(
        self, update: Update, text: str, *, rasa_text: str | None = None
    ) -> Incoming:
        chat = update.effective_chat
        assert chat is not None
        return Incoming(
            channel=CHANNEL,
            # Telegram redelivers an update with the same update_id.
            source_id=f"update:{update.update_id}",
            text=clean_text(text) or "\ufffd",
            rasa_text=clean_text(rasa_text) if rasa_text else None,
            channel_user_id=str(chat.id),
        )

    async def _source(self, update: Update, plan: Plan) -> Incoming:
        """Return the plan's message with a source id that survives Telegram
        restarting its update ids.

        "update:N" as long as N is this update's: a redelivery carries the same
        chat and message. A stored "update:N" from another chat or message, or
        older than Telegram keeps an update, was a different update before the
        ids restarted: this one is told apart by its chat and message.
        """
        incoming = plan.incoming
        tg_id = plan.meta.get("tg_message_id")
        if update.callback_query is not None:
            tg_id = f"cq{update.callback_query.id}"
        sent_at = plan.meta.get("sent_at") or datetime.now(UTC)
        clash = await self.pipeline.in_db(
            lambda s: _clashes(s, incoming.source_id, plan.chat_id, tg_id, sent_at)
        )
        if not clash:
            return incoming
        source = f"{incoming.source_id}:{plan.chat_id}:{tg_id}"
        logger.info("telegram update id seen before: restarted ids, kept apart")
        return replace(incoming, source_id=source[:120])

    async def _with_advisers(self, chat_id: int) -> bool:
        def status(session: Session) -> str | None:
            conv = repo.latest_conversation_for(
                session, channel=CHANNEL, channel_user_id=str(chat_id)
            )
            return conv.status.value if conv is not None else None

        return await self.pipeline.in_db(status) in _ADVISER_STATES

    # ------------------------------------------------------------------- bursts

    @staticmethod
    def burst_key(pending: Pending) -> tuple[int, int]:
        """Order a chat's unanswered messages by Telegram's update id."""
        source = pending.source_id or ""
        if source.startswith("update:"):
            with suppress(ValueError):
                return (int(source.split(":")[1]), pending.id)
        return (-1, pending.id)

    @staticmethod
    def burst_text(pending: Pending) -> str:
        """What the bot hears of an earlier message in a burst: its text, or a
        photo's caption without the transcript's "[photo, 12 KB]"."""
        return LABEL.sub("", pending.text, count=1)

    # ------------------------------------------------------------------ deliver

    @property
    def ready(self) -> bool:
        """Whether PTB is started, so the delivery worker may send."""
        return bool(self.application.running)

    async def send(
        self,
        conversation: ConversationRef,
        view: dict[str, Any],
        progress: SendProgress | None = None,
    ) -> None:
        """Send one stored message, split under 4,096 characters and paced to the
        chat; raise DeliveryError (with Telegram's retry_after).

        The parts an earlier attempt sent (``progress``) are skipped, and each
        part sent is reported before the next is paced.
        """
        progress = progress or SendProgress()
        if conversation.channel_user_id is None:
            raise DeliveryError("no Telegram chat", permanent=True)
        chat_id = int(conversation.channel_user_id)
        message_id = view["id"]
        label = None
        if view.get("sender") == "adviser":
            label = await self.pipeline.in_db(
                lambda s: _adviser_label(s, view, conversation.language)
            )
        lang = conversation.language
        choose = i18n_text("telegram.choose", lang)
        body = view["text"] or (choose if view["buttons"] else "")
        if label:
            body = f"{label} {body}"
        parts = split_text(body or choose)
        markup = keyboard(message_id, view["buttons"], lang=lang)
        # A list of links is not previewed (only the first would be).
        previews = (
            LinkPreviewOptions(is_disabled=True) if len(URL.findall(body)) > 1 else None
        )
        try:
            for index in range(min(progress.parts_sent, len(parts)), len(parts)):
                last = index == len(parts) - 1
                await self.pacer.take(str(chat_id))
                await self.application.bot.send_message(
                    chat_id=chat_id,
                    text=parts[index],
                    reply_markup=markup if last else None,
                    link_preview_options=previews,
                )
                await progress.sent(index + 1)
        except SlotTooFar as exc:
            raise DeliveryError(str(exc), retry_after=exc.wait_s) from exc
        except RetryAfter as exc:
            wait = _seconds(exc.retry_after)
            await self.pacer.hold_off(str(chat_id), wait)  # for every worker
            raise DeliveryError(
                f"Telegram asked to wait: {exc}", retry_after=wait
            ) from exc
        except (Forbidden, BadRequest) as exc:
            # Blocked by the person, or a chat that does not exist: final.
            raise DeliveryError(f"Telegram refused: {exc}", permanent=True) from exc
        except TelegramError as exc:
            raise DeliveryError(f"Telegram unavailable: {exc}") from exc
        except RuntimeError as exc:  # PTB not initialised yet (still starting)
            raise DeliveryError(f"Telegram not started: {exc}") from exc

    async def busy(self, conversation: ConversationRef) -> bool:
        """Whether the chat still waits for its pacing slot (on any worker)."""
        if conversation.channel_user_id is None:
            return False
        return await self.pacer.busy(conversation.channel_user_id)

    @staticmethod
    def join(views: list[dict[str, Any]]) -> dict[str, Any] | None:
        """Return the bot's queued messages as one, in order, or None if they
        cannot be one: an adviser's or a status line among them, buttons on
        any but the last, or together past Telegram's 4,096 characters."""
        texts = [v.get("text") or "" for v in views]
        if any(v.get("sender") != "bot" for v in views) or not all(texts):
            return None
        if any(v.get("buttons") for v in views[:-1]):
            return None
        joined = "\n\n".join(texts)
        if units(joined) > MAX_TEXT:
            return None
        return {**views[-1], "text": joined}

    async def _on_error(
        self, update: object, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        logger.error("telegram update failed", exc_info=context.error)


_ADVISER_STATES = {s.value for s in WITH_ADVISERS}


def keyboard(
    message_id: int, buttons: list[dict[str, str]], page: int = 0, *, lang: str = "en"
) -> InlineKeyboardMarkup | None:
    """Return a message's quick replies as an inline keyboard, one per row.

    A list longer than a page shows ``PAGE_SIZE`` options and "More…", which
    turns to the next page (the last page's turns back to the first).
    """
    if not buttons:
        return None
    indexes = list(range(len(buttons)))
    more = None
    if len(buttons) > PAGE_SIZE + 1:
        pages = math.ceil(len(buttons) / PAGE_SIZE)
        page = page % pages
        indexes = indexes[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        title = f"{i18n_text('telegram.more', lang)} ({page + 1}/{pages})"
        more = InlineKeyboardButton(
            title, callback_data=page_data(message_id, (page + 1) % pages)
        )
    rows = [
        [
            InlineKeyboardButton(
                (buttons[i].get("title") or "?")[:64],
                callback_data=callback_data(message_id, i),
            )
        ]
        for i in indexes
    ]
    if more is not None:
        rows.append([more])
    return InlineKeyboardMarkup(rows)


# ----------------------------------------------------------------- message facts


def _message_text(message: TgMessage, meta: dict[str, Any]) -> str:
    """Return the transcript's text of a message, filling in ``meta``'s file."""
    caption = message.caption or ""

    def file(kind: str, obj: Any, *facts: str | None) -> str:
        meta.update(
            kind=kind,
            file_id=getattr(obj, "file_id", None),
            file_unique_id=getattr(obj, "file_unique_id", None),
            file_name=getattr(obj, "file_name", None),
            mime_type=getattr(obj, "mime_type", None),
            file_size=getattr(obj, "file_size", None),
        )
        label = _label(kind.replace("_", " "), *facts, _size(meta["file_size"]))
        return f"{label} {caption}".rstrip()

    if message.text is not None:
        return message.text
    if message.photo:
        return file("photo", message.photo[-1])
    if message.document is not None:
        doc = message.document
        if message.animation is not None:
            return file("animation", message.animation)
        return file("document", doc, doc.file_name)
    if message.voice is not None:
        return file("voice message", message.voice, _duration(message.voice.duration))
    if message.audio is not None:
        audio = message.audio
        return file(
            "audio", audio, audio.title or audio.file_name, _duration(audio.duration)
        )
    if message.video is not None:
        video = message.video
        return file("video", video, video.file_name, _duration(video.duration))
    if message.video_note is not None:
        return file(
            "video message", message.video_note, _duration(message.video_note.duration)
        )
    if message.sticker is not None:
        sticker = message.sticker
        return file("sticker", sticker, sticker.emoji)
    if message.location is not None:
        loc = message.location
        meta.update(
            kind="location",
            details={"latitude": loc.latitude, "longitude": loc.longitude},
        )
        return _label("location", f"{loc.latitude:.5f}, {loc.longitude:.5f}")
    if message.contact is not None:
        contact = message.contact
        name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
        meta.update(
            kind="contact", details={"name": name, "phone": contact.phone_number}
        )
        return _label("contact", name, contact.phone_number)
    if message.venue is not None:
        return _label("venue", message.venue.title)
    meta["kind"] = "other"  # a poll, dice, game...: kept, asked to type
    return _label("a message without text")


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _seconds(value: float | timedelta | int) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def _is_update_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53


# ------------------------------------------------------------------- database


def _buttons_for(
    session: Session, data: str, chat_id: str
) -> tuple[int, list[dict[str, str]], bool, str] | None:
    """Return (message id, its buttons, stale) of the keyboard behind ``data``
    if it was offered in this chat. A keyboard is stale once the person has
    written since it was sent: its options answer a question no longer asked."""
    try:
        message_part = data.split(":", 1)[0]
        message_id = int(message_part)
    except ValueError:
        return None
    message = session.get(Message, message_id)
    if message is None or not message.buttons:
        return None
    conversation = session.get(Conversation, message.conversation_id)
    if conversation is None or conversation.channel_user_id != chat_id:
        return None
    later = session.scalar(
        select(func.count())
        .select_from(Message)
        .where(
            Message.conversation_id == conversation.id,
            Message.message_type == MessageType.INCOMING,
            Message.id > message_id,
        )
    )
    language = conversation.language or "en"
    return message_id, list(message.buttons), bool(later), language


def _clashes(
    session: Session,
    source_id: str,
    chat_id: int,
    tg_id: int | str | None,
    sent_at: datetime,
) -> bool:
    """Whether ``source_id`` is taken by a different update than this one."""
    first = session.scalars(
        select(Message).where(
            Message.channel == CHANNEL, Message.source_id == source_id
        )
    ).first()
    if first is None:
        return False
    if first.created_at < sent_at - REDELIVERY_WINDOW:
        return True
    meta = session.get(TelegramMessage, first.id)
    if meta is None:
        return False
    if meta.chat_id != str(chat_id):
        return True
    if isinstance(tg_id, int) and meta.tg_message_id is not None:
        return meta.tg_message_id != tg_id
    return False


def _earlier_unhandled(
    session: Session, *, chat_id: str, update_id: int, since: datetime
) -> int:
    """Count the chat's updates before ``update_id``, stored since ``since``,
    whose answer has not finished (on any worker)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(TelegramMessage)
            .join(Message, Message.id == TelegramMessage.message_id)
            .where(
                TelegramMessage.chat_id == chat_id,
                TelegramMessage.update_id < update_id,
                TelegramMessage.handled_at.is_(None),
                Message.created_at > since,
            )
        )
        or 0
    )


def _handled(session: Session, message_id: int) -> None:
    """Record that the update that brought ``message_id`` has been answered."""
    session.execute(
        update(TelegramMessage)
        .where(
            TelegramMessage.message_id == message_id,
            TelegramMessage.handled_at.is_(None),
        )
        .values(handled_at=datetime.now(UTC))
    )


def _remember(session: Session, stored: Stored | None, plan: Plan) -> None:
    """Keep what Telegram told us of the message, and who sent it."""
    if stored is None:
        return
    meta = {k: v for k, v in plan.meta.items() if v is not None}
    details = meta.pop("details", {})
    row = TelegramMessage(
        message_id=stored.message["id"],
        update_id=plan.update_id,
        chat_id=str(plan.chat_id),
        details=details,
        **meta,
    )
    session.merge(row)
    profile = session.get(TelegramProfile, stored.conversation.id)
    if profile is None:
        profile = TelegramProfile(conversation_id=stored.conversation.id)
        session.add(profile)
    for key, value in plan.profile.items():
        if value is not None and getattr(profile, key) != value:
            setattr(profile, key, value)


def _adviser_label(session: Session, view: dict[str, Any], lang: str) -> str:
    """Return "Jo (adviser):", the label of an adviser's message on Telegram."""
    adviser = (
        session.get(Adviser, view["adviser_id"]) if view.get("adviser_id") else None
    )
    name = (adviser.display_name.split() or [""])[0] if adviser else ""
    if name:
        return i18n_text("telegram.adviser_label", lang, name=name)
    return i18n_text("telegram.adviser_label_unnamed", lang)


def _privacy_notice(session: Session, conversation_id: str) -> dict[str, Any] | None:
    """Store the privacy notice once per conversation, before its first reply."""
    conversation = repo.get_conversation(session, conversation_id=conversation_id)
    if conversation is None:
        return None
    told = service.send_once(
        session,
        conversation=conversation,
        text=i18n_text("telegram.privacy_notice", conversation.language),
        source_id=f"{PRIVACY_SOURCE}{conversation_id}",
    )
    return message_view(told) if told is not None else None


def request_language(session: Session, conversation_id: str, lang: str) -> bool:
    """Record the language the person asked for (/iaith): the conversation's
    language, chosen (kept until chosen again; ``bot.language``), and on the
    Telegram profile. False if the bot cannot chat in it."""
    profile = session.get(TelegramProfile, conversation_id)
    if profile is not None:
        profile.language = lang
    if lang not in LANGUAGES:
        return False
    turns.choose_language(session, conversation_id=conversation_id, language=lang)
    return True


def nearest_place(
    session: Session, latitude: float, longitude: float
) -> tuple[str, str] | None:
    """Return (place, council) of the gazetteer's place nearest a point, within
    ``LOCATION_MAX_KM`` (None: not near any UK place we know)."""
    for box in (0.15, 0.5):
        rows = session.execute(
            select(Place.name, Place.latitude, Place.longitude, Place.lad_code)
            .where(
                Place.latitude.between(latitude - box, latitude + box),
                Place.longitude.between(longitude - box * 1.6, longitude + box * 1.6),
            )
            .limit(5000)
        ).tuples()
        best = None
        for name, lat, lon, lad_code in rows:
            if lat is None or lon is None:
                continue
            km = _km(latitude, longitude, lat, lon)
            if best is None or km < best[0]:
                best = (km, name, lad_code)
        if best is not None and best[0] <= LOCATION_MAX_KM:
            lad = session.get(LocalAuthority, best[2])
            return best[1], (lad.name if lad is not None else best[2])
    return None


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))
