"""A tiny Rasa stand-in speaking the gateway's contract over real HTTP.

POST /webhooks/frontdoor/webhook answers like the frontdoor channel; asking for a
person writes the hand-over to the database (as the action server does) and
answers ``paused: true``. POST /model/parse answers an intent (``parse_script``).
Behaviour can be switched per test: a delay, an HTTP error, or a custom script.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.conversations import service
from bot.db.repositories import conversations as repo
from bot.db.session import session_scope
from bot.gateway.rasa_client import RESUME_EVENTS

HANDED_OVER = "I'm passing you to a human adviser now."
TOPIC_BUTTONS = [
    {"title": "Funding", "payload": "I have a question about funding"},
    {"title": "Governance", "payload": "/governance"},
]


@dataclass
class FakeRasa:
    """The fake's behaviour and what it received."""

    database_url: str
    token: str = "test-rasa-token"
    delay: float = 0.0
    status_code: int = 200
    script: Callable[[str, str], dict[str, Any]] | None = None
    # POST /model/parse: text -> intent name (default "funding"); None: HTTP 500
    parse_script: Callable[[str], str | None] | None = None
    parsed: list[str] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=dict)
    max_in_flight: dict[str, int] = field(default_factory=dict)
    peak_total: int = 0
    # a script's answer may carry "_events" (this turn's, after the user event),
    # sent back as "turn_events" with the topic slot, as the real channel does
    slots: dict[str, Any] = field(default_factory=dict)

    def answer(self, sender: str, text: str) -> dict[str, Any]:
        if self.script is not None:
            return self.script(sender, text)
        if "person" in text.lower() or text == "/request_human":
            with session_scope(self.database_url) as session:
                conversation = repo.get_conversation(session, conversation_id=sender)
                assert conversation is not None
                service.hand_over_conversation(
                    session, conversation=conversation, reason="asked_for_person"
                )
            return {
                "messages": [{"text": HANDED_OVER}],
                "intent": {"name": "request_human", "confidence": 0.99},
                "paused": True,
            }
        if text == "hello":
            return {
                "messages": [
                    {"text": "Hello! What can I help with?", "buttons": TOPIC_BUTTONS}
                ],
                "intent": {"name": "greet", "confidence": 0.98},
                "paused": False,
            }
        return {
            "messages": [{"text": f"Echo: {text}"}],
            "intent": {"name": "funding", "confidence": 0.93},
            "paused": False,
        }

    @staticmethod
    def _turn(answer: dict[str, Any]) -> list[dict[str, Any]]:
        """Return the turn's events after the user's (its bot messages by default)."""
        turn = answer.pop("_events", None)
        if turn is None:
            turn = [
                {"event": "bot", "text": m.get("text")}
                for m in answer.get("messages", [])
            ]
        return [*turn, {"event": "action", "name": "action_listen"}]

    def texts(self) -> list[str]:
        """Return the texts Rasa was sent, in order."""
        return [r["message"] for r in self.received]

    def _authorised(self, request: Request) -> bool:
        """As rasa_addons/run.py: the token in an Authorization header only."""
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def app(self) -> Starlette:
        async def webhook(request: Request) -> Response:
            # the project's channel checks the token too (rasa_addons/run.py)
            if not self._authorised(request):
                return JSONResponse({"error": "unauthorised"}, 401)
            body = await request.json()
            self.received.append(body)
            sender = body["sender"]
            self.in_flight[sender] = self.in_flight.get(sender, 0) + 1
            self.max_in_flight[sender] = max(
                self.max_in_flight.get(sender, 0), self.in_flight[sender]
            )
            self.peak_total = max(self.peak_total, sum(self.in_flight.values()))
            try:
                if self.delay:
                    await asyncio.sleep(self.delay)
                if self.status_code != 200:
                    return JSONResponse({"error": "down"}, self.status_code)
                answer = await asyncio.to_thread(self.answer, sender, body["message"])
                turn = self._turn(answer)
                # as the real channel: this turn's events and the topic slot
                answer.setdefault("turn_events", turn)
                answer.setdefault("topic", self.slots.get("topic"))
                return JSONResponse(answer)
            finally:
                self.in_flight[sender] -= 1

        async def events(request: Request) -> Response:
            if not self._authorised(request):
                return JSONResponse({"error": "unauthorised"}, 401)
            if self.status_code != 200:
                return JSONResponse({"error": "down"}, self.status_code)
            body = await request.json()
            assert body == RESUME_EVENTS
            self.resumed.append(request.path_params["cid"])
            return JSONResponse({"sender_id": request.path_params["cid"]})

        async def parse(request: Request) -> Response:
            if not self._authorised(request):
                return JSONResponse({"error": "unauthorised"}, 401)
            text = (await request.json())["text"]
            self.parsed.append(text)
            if self.delay:
                await asyncio.sleep(self.delay)
            intent = self.parse_script(text) if self.parse_script else "funding"
            if intent is None or self.status_code != 200:
                return JSONResponse({"error": "down"}, 500)
            return JSONResponse(
                {"text": text, "intent": {"name": intent, "confidence": 0.91}}
            )

        return Starlette(
            routes=[
                Route("/model/parse", parse, methods=["POST"]),
                Route("/webhooks/frontdoor/webhook", webhook, methods=["POST"]),
                Route("/conversations/{cid}/tracker/events", events, methods=["POST"]),
            ]
        )
