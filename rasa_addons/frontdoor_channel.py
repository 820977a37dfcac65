"""A REST channel for the gateway that also returns the NLU result and pause state.

Rasa's own REST channel answers with the bot's messages only; the gateway also
needs the intent and confidence of the person's message (shown to advisers),
whether the bot handed over (the conversation was paused), and the turn's events
and topic slot (to tell whether a custom action failed during the turn, without
fetching the whole tracker over Rasa's HTTP API). It must also know
when the action server is down, which the REST channel hides.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

import aiohttp
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.core.events import UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa_addons.run import authorised

logger = logging.getLogger(__name__)

HEALTH_TTL_S = 5.0
HEALTH_TIMEOUT_S = 1.5


def saved_tracker(store: Any, sender_id: Text) -> Any:
    """The tracker Rasa just saved for this conversation, if the store kept it.

    rasa_addons.tracker_store.FrontDoorSQLTrackerStore keeps it (Rasa wraps the
    configured store in a FailSafeTrackerStore and an AwaitableTrackerStore).
    With any other store: None, and the channel fetches the tracker as before.
    """
    for _ in range(4):  # Rasa's wrappers (fail-safe, awaitable) hold the store
        take = getattr(store, "take_saved", None)
        if callable(take):
            return take(sender_id)
        store = getattr(store, "_tracker_store", None)
        if store is None:
            break
    return None


class FrontDoorInput(RestInput):
    """POST /webhooks/frontdoor/webhook -> messages, intent, paused."""

    def __init__(self) -> None:
        self._healthy_until = 0.0

    @classmethod
    def name(cls) -> Text:
        return "frontdoor"

    async def _action_server_up(self, request: Request) -> bool:
        agent = request.app.ctx.agent
        endpoint = getattr(agent, "action_endpoint", None)
        if endpoint is None or not endpoint.url:
            return True
        if time.monotonic() < self._healthy_until:
            return True
        url = endpoint.url.rsplit("/webhook", 1)[0] + "/health"
        try:
            timeout = aiohttp.ClientTimeout(total=HEALTH_TIMEOUT_S)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.get(url) as resp:
                    ok = resp.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            logger.warning("action server health check %s failed: %r", url, exc)
            ok = False
        if ok:
            self._healthy_until = time.monotonic() + HEALTH_TTL_S
        return ok

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        bp = Blueprint("frontdoor_webhook", __name__)

        @bp.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            # Channels are outside Rasa's API authentication: the gateway sends
            # the same token in a header (rasa_addons/run.py), anyone else is
            # refused, however local.
            if not authorised(request):
                return response.json({"error": "unauthorised"}, 401)
            body: Dict[Text, Any] = request.json or {}
            sender_id = body.get("sender")
            text = body.get("message")
            if not sender_id or not isinstance(text, str):
                return response.json({"error": "sender and message are required"}, 400)
            if not await self._action_server_up(request):
                logger.error("action server unreachable (conversation %s)", sender_id)
                return response.json(
                    {"error": "action_server_unavailable", "messages": []}, 503
                )
            metadata: Optional[Dict[Text, Any]] = body.get("metadata")
            collector = CollectingOutputChannel()
            await on_new_message(
                UserMessage(
                    text,
                    collector,
                    sender_id,
                    input_channel=self.name(),
                    metadata=metadata,
                )
            )
            store = request.app.ctx.agent.tracker_store
            tracker = saved_tracker(store, sender_id)
            if tracker is None:
                tracker = await store.retrieve(sender_id)
            intent: Dict[Text, Any] = {}
            paused = False
            turn: List[Dict[Text, Any]] = []
            topic = None
            if tracker is not None:
                # the last UserUttered event is this message (tracker.latest_message
                # can lag behind while a form is active); what follows it is this
                # turn, which the gateway reads for custom actions that failed
                for event in reversed(tracker.events):
                    if isinstance(event, UserUttered):
                        intent = dict(event.intent or {})
                        break
                    turn.append(event.as_dict())
                turn.reverse()
                paused = tracker.is_paused()
                topic = tracker.get_slot("topic") if "topic" in tracker.slots else None
            return response.json(
                {
                    "messages": collector.messages,
                    "intent": {
                        "name": intent.get("name"),
                        "confidence": intent.get("confidence"),
                    },
                    "paused": paused,
                    "turn_events": turn,
                    "topic": topic,
                }
            )

        return bp
