"""Talking to Rasa: one httpx.AsyncClient per process, with explicit timeouts."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.settings import Settings, get_settings

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/frontdoor/webhook"
PARSE_PATH = "/model/parse"
HEALTH_TIMEOUT_S = 1.5
# A paused tracker never ran action_listen after the hand-over, and Rasa's rules
# only start from one: without it the next message falls back (and hands over).
RESUME_EVENTS = [{"event": "resume"}, {"event": "action", "name": "action_listen"}]


class RasaUnavailable(Exception):
    """Rasa (or the action server behind it) did not answer usably in time."""


@dataclass(frozen=True)
class BotMessage:
    """One message the bot says: text and optional quick replies."""

    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class BotReply:
    """Rasa's answer to one message of the person."""

    messages: list[BotMessage]
    intent: str | None = None
    confidence: float | None = None
    paused: bool = False
    # the events after the person's message and the topic slot, as the channel
    # sends them (rasa_addons/frontdoor_channel.py)
    turn_events: list[dict[str, Any]] | None = None
    topic: str | None = None


def _parse_reply(body: Any) -> BotReply:
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        raise RasaUnavailable("unexpected answer from Rasa")
    messages: list[BotMessage] = []
    for raw in body["messages"]:
        if not isinstance(raw, dict):
            continue
        text = raw.get("text")
        buttons = [
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
            for b in raw.get("buttons") or []
            if isinstance(b, dict) and b.get("title")
        ]
        if isinstance(text, str) and text.strip():
            messages.append(BotMessage(text=text, buttons=buttons))
        elif buttons:
            messages.append(BotMessage(text="", buttons=buttons))
    intent = body.get("intent") or {}
    confidence = intent.get("confidence") if isinstance(intent, dict) else None
    return BotReply(
        messages=messages,
        intent=intent.get("name") if isinstance(intent, dict) else None,
        confidence=float(confidence) if isinstance(confidence, int | float) else None,
        paused=bool(body.get("paused")),
        turn_events=(
            [e for e in body["turn_events"] if isinstance(e, dict)]
            if isinstance(body.get("turn_events"), list)
            else None
        ),
        topic=body["topic"] if isinstance(body.get("topic"), str) else None,
    )


class RasaClient:
    """The gateway's one client for Rasa's channel webhook and HTTP API."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        # The whole call is capped at rasa_timeout_s (< 10 s) so the person hears
        # back inside the promised 10 seconds even when Rasa hangs.
        self.total_timeout = settings.rasa_timeout_s
        self._http = httpx.AsyncClient(
            base_url=settings.rasa_url.rstrip("/"),
            timeout=httpx.Timeout(
                settings.rasa_timeout_s, connect=min(2.0, settings.rasa_timeout_s)
            ),
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
            transport=transport,
        )

    def _auth(self) -> dict[str, str]:
        """The token, in a header (never in the URL: rasa_addons/run.py)."""
        return {
            "Authorization": f"Bearer {self.settings.rasa_token.get_secret_value()}"
        }

    async def _call(
        self, method: str, path: str, *, timeout: float, **kwargs: Any
    ) -> httpx.Response:
        """One request to Rasa within ``timeout``; RasaUnavailable unless HTTP 200."""
        try:
            async with asyncio.timeout(timeout):
                response = await self._http.request(
                    method, path, headers=self._auth(), **kwargs
                )
        except (httpx.HTTPError, TimeoutError) as exc:
            raise RasaUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise RasaUnavailable(f"Rasa answered HTTP {response.status_code}")
        return response

    async def _call_json(
        self, method: str, path: str, *, timeout: float, **kwargs: Any
    ) -> Any:
        """``_call``, then the answer's JSON body (RasaUnavailable if it is none)."""
        response = await self._call(method, path, timeout=timeout, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise RasaUnavailable("Rasa answered with invalid JSON") from exc

    async def send(
        self, conversation_id: str, text: str, *, channel: str, language: str = "en"
    ) -> BotReply:
        """Send the person's message to Rasa and return the bot's reply.

        The conversation's language goes with it (metadata): the actions and
        Rasa's responses answer in it (rasa_addons/i18n_nlg.py)."""
        payload = {
            "sender": conversation_id,
            "message": text,
            "metadata": {"channel": channel, "language": language},
        }
        body = await self._call_json(
            "POST", WEBHOOK_PATH, timeout=self.total_timeout, json=payload
        )
        return _parse_reply(body)

    async def parse(self, text: str) -> tuple[str | None, float | None]:
        """Return the NLU intent and confidence of ``text`` (no dialogue turn).

        Waits at most ``rasa_parse_timeout_s``; raises RasaUnavailable after that,
        so a risk check never holds up a message for long.
        """
        body = await self._call_json(
            "POST",
            PARSE_PATH,
            timeout=self.settings.rasa_parse_timeout_s,
            json={"text": text},
        )
        intent = body.get("intent") if isinstance(body, dict) else None
        if not isinstance(intent, dict):
            return None, None
        name, confidence = intent.get("name"), intent.get("confidence")
        return (
            name if isinstance(name, str) else None,
            float(confidence) if isinstance(confidence, int | float) else None,
        )

    async def resume(self, conversation_id: str) -> None:
        """Un-pause the conversation in Rasa so the bot answers again."""
        await self._call(
            "POST",
            f"/conversations/{conversation_id}/tracker/events",
            timeout=self.total_timeout,
            json=RESUME_EVENTS,
        )

    async def rasa_up(self, timeout: float = HEALTH_TIMEOUT_S) -> bool:
        """Return whether Rasa answers its status with a model loaded."""
        try:
            async with asyncio.timeout(timeout):
                response = await self._http.get("/status", headers=self._auth())
            body = response.json()
        except (httpx.HTTPError, TimeoutError, ValueError):
            return False
        return response.status_code == 200 and bool(
            isinstance(body, dict) and body.get("model_file")
        )

    async def action_server_up(self, timeout: float = HEALTH_TIMEOUT_S) -> bool:
        """Return whether the action server answers its health check."""
        url = self.settings.action_server_url.rstrip("/")
        url = url.removesuffix("/webhook") + "/health"
        try:
            async with asyncio.timeout(timeout):
                response = await self._http.get(url)
        except (httpx.HTTPError, TimeoutError):
            return False
        return response.status_code == 200

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()


_client: RasaClient | None = None


def get_client() -> RasaClient:
    """Return the process's Rasa client (made from the settings on first use)."""
    global _client
    if _client is None:
        _client = RasaClient(get_settings())
    return _client


def set_client(client: RasaClient | None) -> None:
    """Make ``client`` the process's Rasa client (the gateway does at start-up)."""
    global _client
    _client = client


async def resume(conversation_id: str) -> None:
    """Hand ``conversation_id`` back to the bot in Rasa; raises RasaUnavailable."""
    await get_client().resume(conversation_id)
