"""The Telegram channel: python-telegram-bot fed by our webhook (or polling)."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.db.models import Conversation, Message
from bot.gateway.channels.base import ConversationRef, Incoming
from bot.gateway.pipeline import Pipeline
from bot.settings import Settings

logger = logging.getLogger(__name__)

CHANNEL = "telegram"
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
ALLOWED_UPDATES = ["message", "callback_query"]
START_TEXT_FOR_RASA = "hello"
MAX_TEXT = 4096


def callback_data(message_id: int, index: int) -> str:
    """Return a quick reply's callback data (well under Telegram's 64 bytes)."""
    return f"b{message_id}:{index}"


def build_application(settings: Settings) -> Application:  # type: ignore[type-arg]
    """Build the PTB Application: webhook-fed (no updater) unless polling."""
    assert settings.telegram_bot_token is not None
    builder = (
        Application.builder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_base_url)
        .rate_limiter(AIORateLimiter(max_retries=3))
        # Messages of one chat are serialised by the pipeline's per-chat lock.
        .concurrent_updates(True)
    )
    if settings.telegram_mode != "polling":
        builder = builder.updater(None)
    return builder.build()


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
        private = filters.ChatType.PRIVATE
        self.application.add_handler(CommandHandler("start", self._on_start, private))
        self.application.add_handler(
            MessageHandler(filters.TEXT & ~filters.COMMAND & private, self._on_text)
        )
        self.application.add_handler(CallbackQueryHandler(self._on_callback))
        self.application.add_error_handler(self._on_error)

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Initialise PTB, then register the webhook or start polling."""
        app = self.application
        await app.initialize()
        await app.start()
        if self.polling:
            assert app.updater is not None
            await app.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
        else:
            await app.bot.set_webhook(
                url=self.settings.public_url.rstrip("/") + WEBHOOK_PATH,
                secret_token=self._secret.decode(),
                allowed_updates=ALLOWED_UPDATES,
            )
        logger.info("telegram channel started (%s)", self.settings.telegram_mode)

    async def stop(self) -> None:
        """Stop polling (if any) and PTB."""
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()

    # ------------------------------------------------------------------ webhook

    async def webhook(self, request: Request) -> Response:
        """Check Telegram's secret header, then queue the update for PTB."""
        given = request.headers.get(SECRET_HEADER, "").encode()
        if self.polling or not hmac.compare_digest(given, self._secret):
            logger.warning("telegram webhook refused: bad or missing secret")
            return JSONResponse({"error": "forbidden"}, status_code=403)
        try:
            data = await request.json()
            update = Update.de_json(data=data, bot=self.application.bot)
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": "not an update"}, status_code=400)
        await self.application.update_queue.put(update)
        return Response(status_code=200)

    # ----------------------------------------------------------------- handlers

    async def _on_start(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        await self._receive(update, text="/start", rasa_text=START_TEXT_FOR_RASA)

    async def _on_text(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        message = update.effective_message
        if message is not None and message.text:
            await self._receive(update, text=message.text[:MAX_TEXT])

    async def _on_callback(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        query = update.callback_query
        chat = update.effective_chat
        if query is None or chat is None:
            return
        try:
            # Stop the button's spinner first: Telegram wants an answer quickly.
            await query.answer()
        except TelegramError as exc:
            logger.warning("could not answer callback query: %s", exc)
        button = await self.pipeline.in_db(
            lambda s: _button_for(s, query.data or "", str(chat.id))
        )
        if button is None:
            return
        await self._receive(update, text=button["title"], rasa_text=button["payload"])

    async def _on_error(
        self, update: object, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        logger.error("telegram update failed", exc_info=context.error)

    async def _receive(
        self, update: Update, *, text: str, rasa_text: str | None = None
    ) -> None:
        chat = update.effective_chat
        if chat is None or chat.type != "private":
            return
        await self.pipeline.receive(
            Incoming(
                channel=CHANNEL,
                # Telegram redelivers an update with the same update_id.
                source_id=f"update:{update.update_id}",
                text=text,
                rasa_text=rasa_text,
                channel_user_id=str(chat.id),
            )
        )

    # ------------------------------------------------------------------ deliver

    async def deliver(
        self, conversation: ConversationRef, messages: list[dict[str, Any]]
    ) -> list[int]:
        """Send each message in order (the rate limiter retries 429s)."""
        if conversation.channel_user_id is None:
            return []
        delivered: list[int] = []
        for view in messages:
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
            except TelegramError as exc:
                logger.error(
                    "telegram delivery failed: %s",
                    exc,
                    extra={"conversation_id": conversation.id},
                )
                break
            delivered.append(view["id"])
        return delivered


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
