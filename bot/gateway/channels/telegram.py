"""The Telegram channel: python-telegram-bot fed by our webhook (or our polling)."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Coroutine
from contextlib import suppress
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, Application, ContextTypes

from bot.db.models import Conversation, Message
from bot.gateway.channels.base import (
    ConversationRef,
    DeliveryError,
    Incoming,
    clean_text,
    json_object,
)
from bot.gateway.pipeline import Pipeline
from bot.gateway.turns import Stored
from bot.settings import Settings

logger = logging.getLogger(__name__)

CHANNEL = "telegram"
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
ALLOWED_UPDATES = ["message", "callback_query"]
START_TEXT_FOR_RASA = "hello"
MAX_TEXT = 4096
MAX_UPDATE_BYTES = 1024 * 1024
POLL_TIMEOUT_S = 10  # long polling: Telegram holds getUpdates this long


def callback_data(message_id: int, index: int) -> str:
    """Return a quick reply's callback data (well under Telegram's 64 bytes)."""
    return f"b{message_id}:{index}"


def build_application(settings: Settings) -> Application:  # type: ignore[type-arg]
    """Build the PTB Application, without PTB's updater: our webhook route or our
    own polling loop feeds it, each storing an update before acknowledging it."""
    assert settings.telegram_bot_token is not None
    builder = (
        Application.builder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_base_url)
        .rate_limiter(AIORateLimiter(max_retries=3))
        # Messages of one chat are serialised by the pipeline's per-chat lock.
        .concurrent_updates(True)
    )
    return builder.updater(None).build()


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

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Initialise PTB, then register the webhook or start polling."""
        app = self.application
        await app.initialize()
        await app.start()
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
                for update in updates:
                    incoming = await self._incoming(update)
                    stored = await self.pipeline.accept(incoming) if incoming else None
                    offset = update.update_id + 1
                    self._spawn(self._answer(update, stored, incoming))
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
        body = await _read_body(request, MAX_UPDATE_BYTES)
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
            incoming = await self._incoming(update)
            stored = await self.pipeline.accept(incoming) if incoming else None
        except Exception:
            logger.exception("telegram update not stored; Telegram will redeliver")
            return JSONResponse({"error": "try again"}, status_code=503)
        self._spawn(self._answer(update, stored, incoming))
        return Response(status_code=200)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._turns.add(task)
        task.add_done_callback(self._turns.discard)

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the turns still running."""
        if self._turns:
            await asyncio.wait(set(self._turns), timeout=timeout)

    async def _answer(
        self, update: Update, stored: Stored | None, incoming: Incoming | None
    ) -> None:
        query = update.callback_query
        if query is not None:
            try:
                # Stop the button's spinner first: Telegram wants an answer soon.
                await query.answer()
            except (TelegramError, RuntimeError) as exc:  # RuntimeError: not started
                logger.warning("could not answer callback query: %s", exc)
        if stored is None or incoming is None:
            return  # nothing for us to answer (a forged button, a group chat)
        try:
            await self.pipeline.process(stored, incoming)
        except Exception:
            # Stored and not answered: the sweeper finishes it.
            logger.exception(
                "telegram turn failed",
                extra={"conversation_id": stored.conversation.id},
            )

    # ----------------------------------------------------------------- handlers

    async def _on_error(
        self, update: object, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        logger.error("telegram update failed", exc_info=context.error)

    async def _incoming(self, update: Update) -> Incoming | None:
        """Return the person's message in ``update`` (None: nothing to answer).

        Private chats only: /start, plain text, and taps on our quick replies.
        """
        chat = update.effective_chat
        if chat is None or chat.type != "private":
            return None
        query = update.callback_query
        text, rasa_text = None, None
        if query is not None:
            button = await self.pipeline.in_db(
                lambda s: _button_for(s, query.data or "", str(chat.id))
            )
            if button is None:
                return None
            text, rasa_text = button["title"], button["payload"]
        elif update.message is not None and update.message.text:
            raw = update.message.text
            if raw.split("@", 1)[0].split(" ", 1)[0] == "/start":
                text, rasa_text = "/start", START_TEXT_FOR_RASA
            elif not raw.startswith("/"):
                text = raw[:MAX_TEXT]
        if text is None:
            return None
        text = clean_text(text) or "\ufffd"
        return Incoming(
            channel=CHANNEL,
            # Telegram redelivers an update with the same update_id.
            source_id=f"update:{update.update_id}",
            text=text,
            rasa_text=clean_text(rasa_text) if rasa_text else None,
            channel_user_id=str(chat.id),
        )

    # ------------------------------------------------------------------ deliver

    @property
    def ready(self) -> bool:
        """Whether PTB is started, so the delivery worker may send."""
        return bool(self.application.running)

    async def send(self, conversation: ConversationRef, view: dict[str, Any]) -> None:
        """Send one message; raise DeliveryError (with Telegram's retry_after)."""
        if conversation.channel_user_id is None:
            raise DeliveryError("no Telegram chat", permanent=True)
        markup = None
        if view["buttons"]:
            markup = InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(
                            b["title"][:64],
                            callback_data=callback_data(view["id"], i),
                        )
                    ]
                    for i, b in enumerate(view["buttons"])
                ]
            )
        try:
            await self.application.bot.send_message(
                chat_id=int(conversation.channel_user_id),
                text=(view["text"] or "Please choose:")[:MAX_TEXT],
                reply_markup=markup,
            )
        except RetryAfter as exc:
            raise DeliveryError(
                f"Telegram asked to wait: {exc}", retry_after=_seconds(exc.retry_after)
            ) from exc
        except (Forbidden, BadRequest) as exc:
            # Blocked by the person, or a chat that does not exist: final.
            raise DeliveryError(f"Telegram refused: {exc}", permanent=True) from exc
        except TelegramError as exc:
            raise DeliveryError(f"Telegram unavailable: {exc}") from exc
        except RuntimeError as exc:  # PTB not initialised yet (still starting)
            raise DeliveryError(f"Telegram not started: {exc}") from exc


def _seconds(value: float | timedelta | int) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def _is_update_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53


async def _read_body(request: Request, limit: int) -> bytes | None:
    """Return the request body, or None once it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _button_for(session: Session, data: str, chat_id: str) -> dict[str, str] | None:
    """Return the quick reply behind ``data`` if it was offered in this chat."""
    try:
        message_part, index_part = data.removeprefix("b").split(":", 1)
        message_id, index = int(message_part), int(index_part)
    except ValueError:
        return None
    message = session.get(Message, message_id)
    if message is None or not message.buttons or not 0 <= index < len(message.buttons):
        return None
    conversation = session.get(Conversation, message.conversation_id)
    if conversation is None or conversation.channel_user_id != chat_id:
        return None
    button = message.buttons[index]
    return {"title": button.get("title", ""), "payload": button.get("payload", "")}
