"""The website widget's channel: its JSON API, its live event stream, its files."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Receive, Scope, Send

from bot import language
from bot.db.models import MessageType
from bot.db.repositories import conversations as repo
from bot.gateway import hub, turns
from bot.gateway.channels.base import (
    ConversationRef,
    Incoming,
    SendProgress,
    clean_text,
    json_object,
    read_body,
)
from bot.gateway.events import message_view
from bot.gateway.pipeline import Pipeline, UnknownConversation
from bot.gateway.ratelimit import RateLimiter, storage_for
from bot.gateway.streamcaps import stream_caps
from bot.privacy import notice
from bot.settings import Settings

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
CHANNEL = "web"
# A long enquiry pasted whole (about 800 words); widget.js says so before sending.
MAX_TEXT = 6000
MAX_BODY = 64 * 1024
MAX_MESSAGE_ID = 2**63 - 1  # ids are 64-bit at most, on either database
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
HEARTBEAT_S = 15.0
MAX_STREAMS_PER_CONVERSATION = 3
PERSON_EVENTS = {MessageType.INCOMING.value, MessageType.OUTGOING.value}


class WebChannel:
    """Widget delivery: the widget pulls (its history and its event stream)."""

    name = CHANNEL
    ready = True

    async def send(
        self,
        conversation: ConversationRef,
        view: dict[str, Any],
        progress: SendProgress | None = None,
    ) -> None:
        # Stored is delivered: the message was published on conversation:<id>
        # at commit, which the event stream relays, and a widget that was away
        # catches up from the history (the service marks web rows delivered).
        return None


def widget_token(settings: Settings, conversation_id: str) -> str:
    """Return the widget's proof that it owns ``conversation_id``."""
    key = settings.session_secret.get_secret_value().encode()
    digest = hmac.new(key, b"widget:" + conversation_id.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def _token_ok(settings: Settings, conversation_id: str, token: object) -> bool:
    return isinstance(token, str) and hmac.compare_digest(
        token.encode(), widget_token(settings, conversation_id).encode()
    )


def person_view(view: dict[str, Any]) -> dict[str, Any]:
    """Return what the widget may see of a message (no adviser ids, no notes)."""
    return {
        "id": view["id"],
        "sender": view["sender"],
        "text": view["text"],
        "buttons": view["buttons"],
        "created_at": view["created_at"],
        "urgent": bool(view.get("urgent")),
    }


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class WidgetApi:
    """The /api/widget routes, bound to one pipeline and its settings."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.settings = pipeline.settings
        # Per visitor (client address), shared by every worker in the scaled
        # profile: a new conversation does not get a fresh budget.
        self.limiter = RateLimiter(
            self.settings.widget_rate_limit_per_minute,
            60.0,
            storage=storage_for(
                self.settings.redis_url, self.settings.redis_key_prefix
            ),
        )
        # open event streams per conversation, counted across every worker
        self.streams = stream_caps(
            MAX_STREAMS_PER_CONVERSATION,
            self.settings.redis_url,
            self.settings.redis_key_prefix,
        )
        self._releases: set[asyncio.Task[None]] = set()

    async def _limited(
        self, request: Request, conversation_id: str | None
    ) -> Response | None:
        client = request.client.host if request.client else "unknown"
        wait = await self.limiter.hit(f"visitor:{client}")
        if wait is None:
            return None
        logger.warning(
            "widget rate limit hit", extra={"conversation_id": conversation_id}
        )
        return _error(429, "too many requests", **{"Retry-After": str(int(wait) + 1)})

    async def _json(self, request: Request) -> dict[str, Any] | None:
        check_widget_request(request, self.settings)
        body = await read_body(request, MAX_BODY)
        if body is None:
            raise _TooLarge
        return json_object(body)

    async def _conversation_body(
        self, request: Request, cid: str
    ) -> dict[str, Any] | Response:
        """The JSON body of a request about conversation ``cid``, its token
        checked and the visitor's rate limit counted; else the refusal."""
        try:
            body = await self._json(request)
        except _Refused as exc:
            return _error(exc.status, str(exc))
        if body is None:
            return _error(400, "expected a JSON object")
        if not _token_ok(self.settings, cid, body.get("token")):
            return _error(403, "unknown conversation")
        if limited := await self._limited(request, cid):
            return limited
        return body

    async def _status(self, conversation_id: str) -> str | None:
        found = await self._status_and_language(conversation_id)
        return found[0] if found else None

    async def _status_and_language(
        self, conversation_id: str
    ) -> tuple[str, str] | None:
        def read(session: Session) -> tuple[str, str] | None:
            conv = repo.get_conversation(session, conversation_id=conversation_id)
            return (conv.status.value, conv.language or "en") if conv else None

        return await self.pipeline.in_db(read)

    async def start(self, request: Request) -> Response:
        """Resume the conversation if its id and token check out, else start one."""
        try:
            body = await self._json(request)
        except _Refused as exc:
            return _error(exc.status, str(exc))
        if body is None:
            return _error(400, "expected a JSON object")
        cid = body.get("conversation_id")
        if isinstance(cid, str) and _token_ok(self.settings, cid, body.get("token")):
            if limited := await self._limited(request, cid):
                return limited
            found = await self._status_and_language(cid)
            if found is not None:
                return JSONResponse(
                    {
                        "conversation_id": cid,
                        "token": body["token"],
                        "status": found[0],
                        "language": found[1],
                    }
                )
        if limited := await self._limited(request, None):
            return limited

        # issue 16: a page in Welsh (or the toggle before the first message)
        # starts the conversation in the language the person chose
        chosen = language.normalise(body.get("language"))

        def create(session: Session) -> tuple[str, str]:
            conv = repo.create_conversation(session, channel=CHANNEL)
            if chosen is not None:
                turns.choose_language(
                    session, conversation_id=conv.id, language=chosen
                )
            return conv.id, conv.status.value

        new_id, status = await self.pipeline.in_db(create)
        logger.info("widget conversation started", extra={"conversation_id": new_id})
        return JSONResponse(
            {
                "conversation_id": new_id,
                "token": widget_token(self.settings, new_id),
                "status": status,
                "language": chosen or language.DEFAULT,
            },
            status_code=201,
        )

    async def delete(self, request: Request) -> Response:
        """The person deletes their own conversation (issue 13: bot/privacy)."""
        cid = request.path_params["conversation_id"]
        body = await self._conversation_body(request, cid)
        if isinstance(body, Response):
            return body
        if not notice.delete_body_ok(body):
            return _error(400, 'send {"token": ..., "confirm": true}')
        found = await self.pipeline.in_db(lambda s: notice.erase_own(s, cid))
        return notice.deleted_response(found)

    async def privacy(self, request: Request) -> Response:
        """The privacy notice and the delete texts, in the widget's language."""
        return await notice.privacy_page(request, self.settings)

    async def set_language(self, request: Request) -> Response:
        """The Cymraeg / English toggle: the conversation's language, chosen
        (kept until chosen again; bot.language)."""
        cid = request.path_params["conversation_id"]
        body = await self._conversation_body(request, cid)
        if isinstance(body, Response):
            return body
        chosen = language.normalise(body.get("language"))
        if chosen is None:
            return _error(400, "language must be cy or en")

        def choose(session: Session) -> str:
            conv = turns.choose_language(
                session, conversation_id=cid, language=chosen
            )
            return conv.language

        try:
            now = await self.pipeline.in_db(choose)
        except UnknownConversation:
            return _error(404, "unknown conversation")
        logger.info("widget language chosen", extra={"conversation_id": cid})
        return JSONResponse({"language": now})

    async def history(self, request: Request) -> Response:
        """Return the person-visible messages after ``?after=`` (default: all)."""
        cid = request.path_params["conversation_id"]
        if not _token_ok(self.settings, cid, request.query_params.get("token")):
            return _error(403, "unknown conversation")
        if limited := await self._limited(request, cid):
            return limited
        after = _message_id(request.query_params.get("after", "0"))
        if after is None:
            return _error(400, "after must be a message id")

        def read(session: Session) -> dict[str, Any] | None:
            conv = repo.get_conversation(session, conversation_id=cid)
            if conv is None:
                return None
            rows = repo.list_messages(session, conversation_id=cid, after_id=after)
            return {
                "status": conv.status.value,
                "messages": [person_view(message_view(m)) for m in rows],
            }

        result = await self.pipeline.in_db(read)
        if result is None:
            return _error(404, "unknown conversation")
        return JSONResponse(result)

    async def send(self, request: Request) -> Response:
        """Store the person's message once, then answer it (or queue it)."""
        cid = request.path_params["conversation_id"]
        body = await self._conversation_body(request, cid)
        if isinstance(body, Response):
            return body
        text, client_id = body.get("text"), body.get("client_message_id")
        payload = body.get("payload")
        if isinstance(text, str):
            text = clean_text(text)  # a NUL byte or a lone surrogate: dropped
        if not isinstance(text, str) or not text.strip():
            return _error(400, "text must not be empty")
        if len(text) > MAX_TEXT:
            # Never cut: the person is told, and the widget says so before sending.
            return JSONResponse(
                {
                    "error": f"text is {len(text)} characters, at most {MAX_TEXT}",
                    "max_chars": MAX_TEXT,
                },
                status_code=413,
            )
        if not isinstance(client_id, str) or not CLIENT_ID.match(client_id):
            return _error(400, "client_message_id must be 8-64 letters, digits, - or _")
        if payload is not None and (
            not isinstance(payload, str) or not payload.strip() or len(payload) > 500
        ):
            return _error(400, "payload must be a short string")
        incoming = Incoming(
            channel=CHANNEL,
            source_id=f"{cid}:{client_id}",
            text=text.strip(),
            rasa_text=clean_text(payload) if payload is not None else None,
            conversation_id=cid,
        )
        try:
            received = await self.pipeline.receive(incoming)
        except UnknownConversation:
            return _error(404, "unknown conversation")
        except Exception:
            # Stored (or not) but not answered: the same client_message_id sent
            # again, or the sweeper, gives it its turn; it is never dropped.
            logger.exception("widget turn failed", extra={"conversation_id": cid})
            return _error(
                503, "not answered yet: send it again", **{"Retry-After": "2"}
            )
        return JSONResponse(
            {
                "duplicate": received.duplicate,
                "status": received.status,
                "message": person_view(received.message) if received.message else None,
                "replies": [person_view(r) for r in received.replies],
                "language": received.language,
            }
        )

    async def events(self, request: Request) -> Response:
        """Stream the conversation's new messages, typing and status as SSE."""
        cid = request.path_params["conversation_id"]
        if not _token_ok(self.settings, cid, request.query_params.get("token")):
            return _error(403, "unknown conversation")
        place = await self.streams.take(cid)
        if place is None:
            return _error(429, "too many open streams", **{"Retry-After": "10"})
        last = request.headers.get("last-event-id") or request.query_params.get(
            "after", ""
        )
        after = _message_id(last) if last else None
        # Subscribe before reading the history so nothing falls in between, and
        # count the stream now (the limit is checked now); both are released by
        # the response however it ends, even if the stream never starts.
        subscription = hub.subscribe(hub.conversation_topic(cid))
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            subscription.close()
            task = asyncio.get_running_loop().create_task(
                self.streams.give_back(place)
            )
            self._releases.add(task)
            task.add_done_callback(self._releases.discard)

        async def stream() -> AsyncIterator[str]:
            sent = after or 0

            async def since(last: int) -> list[dict[str, Any]]:
                def read(session: Session) -> list[dict[str, Any]]:
                    return [
                        message_view(m)
                        for m in repo.list_messages(
                            session, conversation_id=cid, after_id=last
                        )
                    ]

                return await self.pipeline.in_db(read)

            try:
                yield "retry: 3000\n\n"
                if after is not None:
                    for view in await since(after):
                        sent = max(sent, view["id"])
                        yield _sse("message", person_view(view), view["id"])
                while True:
                    event = await subscription.get(HEARTBEAT_S)
                    if event is None:
                        await self.streams.renew(place)
                        yield ": keep-alive\n\n"
                        continue
                    kind = event.get("type")
                    bridged = hub.get_hub().bridged
                    if kind == "resync" or (kind == "message" and bridged):
                        # Across processes a notice may be missed or overtake
                        # another: the database says what comes after ``sent``.
                        for view in await since(sent):
                            if view["message_type"] in PERSON_EVENTS:
                                yield _sse("message", person_view(view), view["id"])
                            sent = max(sent, view["id"])
                    elif kind == "message":
                        view = event["message"]
                        if view["message_type"] in PERSON_EVENTS and view["id"] > sent:
                            sent = view["id"]
                            yield _sse("message", person_view(view), view["id"])
                    elif kind == "typing":
                        yield _sse("typing", {"active": bool(event.get("active"))})
                    elif kind == "status":
                        yield _sse("status", {"status": event.get("status")})
            finally:
                release()

        return ReleasingStream(
            stream(),
            release,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )


class ReleasingStream(StreamingResponse):
    """A streaming response that runs ``release`` when it ends, however it ends.

    A generator that never started (the client went before the first byte)
    never runs its ``finally``; this response does, so a subscription or a
    stream count taken for it is never leaked.
    """

    def __init__(
        self, content: Any, release: Callable[[], None], **kwargs: Any
    ) -> None:
        super().__init__(content, **kwargs)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()
            closer = getattr(self.body_iterator, "aclose", None)
            if closer is not None:
                await closer()


class _Refused(Exception):
    """A widget request refused before its body is read (status, message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _TooLarge(_Refused):
    """A widget request body over MAX_BODY."""

    def __init__(self) -> None:
        super().__init__(413, "request too large")


def _own_origins(request: Request, settings: Settings) -> set[str]:
    """The gateway's own origins (the demo page and the public URL)."""
    own = {f"{request.url.scheme}://{request.url.netloc}".lower()}
    public = settings.public_url.rstrip("/").lower()
    if public.count("/") >= 2:
        own.add("/".join(public.split("/")[:3]))
    return own


def check_widget_request(request: Request, settings: Settings) -> None:
    """Refuse a widget POST that is not JSON or comes from a foreign page.

    ``application/json`` needs a CORS preflight, so a cross-site form or a
    ``text/plain`` fetch can no longer post; a browser's Origin must be ours or
    one of WIDGET_ALLOWED_ORIGINS (no Origin: not a browser, nothing to forge).
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise _Refused(415, "send the body as application/json")
    origin = request.headers.get("origin")
    if origin is not None:
        allowed = {o.rstrip("/").lower() for o in settings.widget_allowed_origins}
        if origin.lower() not in allowed | _own_origins(request, settings):
            raise _Refused(403, "origin not allowed")


def _message_id(value: str) -> int | None:
    """Return a message id from a query string (None if it is not one)."""
    if not (value.isascii() and value.isdigit() and len(value) <= 10):
        return None
    number = int(value)
    return number if number <= MAX_MESSAGE_ID else None


def _sse(event: str, data: dict[str, Any], event_id: int | None = None) -> str:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, ensure_ascii=False))
    return "\n".join(lines) + "\n\n"


def widget_file(name: str) -> Route:
    """Return a route serving one of the widget's static files at ``/name``."""

    async def endpoint(request: Request) -> Response:
        response = FileResponse(STATIC_DIR / name)
        response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
        response.headers["Cache-Control"] = "public, max-age=300"
        return response

    return Route(f"/{name}", endpoint, methods=["GET", "HEAD"])


def widget_routes(pipeline: Pipeline) -> list[BaseRoute]:
    """Return the widget's files and its API (CORS-allowlisted) as routes."""
    api = WidgetApi(pipeline)
    settings = pipeline.settings
    if "*" in settings.widget_allowed_origins:
        raise ValueError("WIDGET_ALLOWED_ORIGINS must list origins, not '*'")
    cors = Middleware(
        CORSMiddleware,
        allow_origins=list(settings.widget_allowed_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", "Last-Event-ID"],
        allow_credentials=False,
        max_age=600,
    )
    return [
        widget_file("widget.js"),
        widget_file("widget.css"),
        Mount(
            "/api/widget",
            routes=[
                Route("/conversations", api.start, methods=["POST"]),
                Route("/privacy", api.privacy, methods=["GET"]),
                Route(
                    "/conversations/{conversation_id}/delete",
                    api.delete,
                    methods=["POST"],
                ),
                Route(
                    "/conversations/{conversation_id}/messages",
                    api.history,
                    methods=["GET"],
                ),
                Route(
                    "/conversations/{conversation_id}/messages",
                    api.send,
                    methods=["POST"],
                ),
                Route(
                    "/conversations/{conversation_id}/events",
                    api.events,
                    methods=["GET"],
                ),
                Route(
                    "/conversations/{conversation_id}/language",
                    api.set_language,
                    methods=["POST"],
                ),
            ],
            middleware=[cors],
        ),
    ]
