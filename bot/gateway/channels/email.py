"""Replies by email: an adviser's answer to a person who left an address.

Outgoing messages written with ``channel="email"`` (``service.send``) go through
the outbox like any other; the delivery worker hands them to this channel, which
sends them over SMTP (``SMTP_HOST``, ``SMTP_PORT``, ``SMTP_FROM``, optional
``SMTP_USERNAME`` / ``SMTP_PASSWORD`` and ``SMTP_STARTTLS``). A refused address
fails for good; anything else is retried with the outbox's backoff.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from bot.db.models import Conversation
from bot.gateway.channels.base import ConversationRef, DeliveryError, SendProgress
from bot.i18n import text
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.gateway.pipeline import Pipeline

logger = logging.getLogger(__name__)

CHANNEL = "email"


class EmailChannel:
    """Sends stored email replies over SMTP (one connection per message)."""

    name = CHANNEL
    ready = True

    def __init__(self, settings: Settings, pipeline: Pipeline) -> None:
        if not settings.smtp_host or not settings.smtp_from:
            raise ValueError("email replies need SMTP_HOST and SMTP_FROM")
        self.settings = settings
        self.pipeline = pipeline

    async def send(
        self,
        conversation: ConversationRef,
        view: dict[str, Any],
        progress: SendProgress | None = None,
    ) -> None:
        """Send one reply to the address the person left; raise DeliveryError."""

        def address(session: Session) -> str | None:
            row = session.get(Conversation, conversation.id)
            return row.contact_email if row is not None else None

        to = await self.pipeline.in_db(address)
        if not to:
            raise DeliveryError(
                "no email address for this conversation", permanent=True
            )
        message = self.compose(to, str(view.get("text", "")))
        await run_in_threadpool(self._deliver, message)
        logger.info("email reply sent", extra={"conversation_id": conversation.id})

    def compose(self, to: str, body: str, lang: str = "en") -> EmailMessage:
        """Return the email for ``body`` (the adviser's reply) to ``to``."""
        message = EmailMessage()
        sender = self.settings.smtp_from or ""
        try:
            message["From"] = sender
            message["To"] = to
        except ValueError as exc:  # a line break in an address: never sent
            raise DeliveryError(f"bad address: {exc}", permanent=True) from exc
        message["Subject"] = text("console_email.subject", lang)
        message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
        message.set_content(
            body.rstrip() + "\n\n-- \n" + text("console_email.footer", lang) + "\n"
        )
        return message

    def _deliver(self, message: EmailMessage) -> None:
        s = self.settings
        try:
            with smtplib.SMTP(
                s.smtp_host or "", s.smtp_port, timeout=s.smtp_timeout_s
            ) as smtp:
                if s.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.smtp_username and s.smtp_password is not None:
                    smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            permanent = all(code >= 500 for code in codes)
            raise DeliveryError("the address was refused", permanent=permanent) from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"SMTP {exc.smtp_code}", permanent=exc.smtp_code >= 500
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP not reachable: {type(exc).__name__}") from exc
