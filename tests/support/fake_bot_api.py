"""A small Telegram Bot API on loopback for python-telegram-bot to talk to.

It speaks the Bot API's HTTP protocol (``POST /bot<token>/<method>``, form or JSON
parameters, ``{"ok": ..., "result": ...}`` answers) for the methods the gateway
uses, records every call, and can answer 429 ``retry_after`` to test the rate
limiter. Point PTB's ``base_url`` at ``<url>/bot``.

It refuses what the real Telegram refuses: a text over 4,096 characters (UTF-16
code units, as Telegram counts) or empty, callback data over 64 bytes, a
keyboard over 8 buttons a row or 100 in all, an edit of a message it never sent
or one that changes nothing, and messages to one chat faster than its flood
limit (a bucket of ``chat_burst`` messages refilled one per ``chat_interval_s``)
with 429 ``retry_after``. Tests that pace faster than real time scale the
limit down with them.

``hold_after`` keeps a sendMessage in flight (to kill its sender mid-reply):
past that many accepted sends, a call waits for ``release_held()`` and then
fails with 502, as a connection cut before Telegram had the message would.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

BOT_USER = {
    "id": 7000001,
    "is_bot": True,
    "first_name": "Front Door",
    "username": "frontdoor_test_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
TOO_MANY = {
    "ok": False,
    "error_code": 429,
    "description": "Too Many Requests: retry after 1",
    "parameters": {"retry_after": 1},
}
MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64
MAX_ROW = 8
MAX_BUTTONS = 100
# what counts towards a chat's flood limit
FLOODED = ("sendMessage", "editMessageText")
CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}


class Refused(Exception):
    """A call the real Bot API would refuse (400)."""

    def __init__(self, description: str, code: int = 400) -> None:
        super().__init__(description)
        self.description, self.code = description, code


def units(text: str) -> int:
    """Telegram's length of a text: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Call:
    """One request PTB made."""

    method: str
    params: dict[str, Any]
    answered: int  # HTTP status the fake answered


@dataclass
class FakeBotApi:
    """The fake's state: calls received, 429s to give, updates to hand out."""

    token: str = "123456:TEST-token"
    calls: list[Call] = field(default_factory=list)
    too_many: dict[str, int] = field(default_factory=dict)
    pending_updates: list[dict[str, Any]] = field(default_factory=list)
    webhook: dict[str, Any] = field(default_factory=dict)
    # down: every call answers 502 Bad Gateway (an outage of the Bot API)
    down: bool = False
    # chats that blocked the bot: sendMessage answers 403 Forbidden
    blocked: set[int] = field(default_factory=set)
    # per-chat flood limit: a bucket of chat_burst sends, one back per interval
    chat_burst: int = 5
    chat_interval_s: float = 1.0
    # messages the bot sent or was shown, by (chat, message id)
    messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    commands: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    left: list[int] = field(default_factory=list)
    # when each accepted flood-counted call to a chat was made (monotonic)
    sends: dict[int, list[float]] = field(default_factory=dict)
    hold_after: int | None = None
    held: int = 0  # sendMessage calls waiting in flight
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    _buckets: dict[int, tuple[float, float]] = field(default_factory=dict)
    _message_ids: itertools.count[int] = field(
        default_factory=lambda: itertools.count(1)
    )
    _update_ids: itertools.count[int] = field(
        default_factory=lambda: itertools.count(900000)
    )

    def answer_429(self, method: str, times: int) -> None:
        """Answer the next ``times`` calls of ``method`` with 429 retry_after 1."""
        self.too_many[method] = times

    def release_held(self) -> None:
        """Let the held sendMessage calls end (with 502) and hold no more."""
        self.hold_after = None
        self._released.set()

    def called(self, method: str, *, ok_only: bool = True) -> list[dict[str, Any]]:
        """Return the parameters of every call of ``method`` (answered 200)."""
        return [
            c.params
            for c in self.calls
            if c.method == method and (c.answered == 200 or not ok_only)
        ]

    def sent_texts(self, chat_id: int | None = None) -> list[str]:
        """Return the texts of successful sendMessage calls, in order."""
        return [
            p["text"]
            for p in self.called("sendMessage")
            if chat_id is None or int(p["chat_id"]) == chat_id
        ]

    async def wait_for(
        self, method: str, count: int, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Wait until ``method`` was answered 200 ``count`` times; return the calls."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.called(method)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"{method} called {len(self.called(method))} times, expected {count}"
        )

    def wait_for_sync(
        self, method: str, count: int, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Like ``wait_for``, for tests without an event loop (fake in a thread)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.called(method)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(
            f"{method} called {len(self.called(method))} times, expected {count}"
        )

    # ------------------------------------------------------------ update makers

    def next_update_id(self) -> int:
        return next(self._update_ids)

    def text_update(
        self, chat_id: int, text: str, *, update_id: int | None = None
    ) -> dict[str, Any]:
        """Return a private-chat text message update, as Telegram sends it."""
        user = {"id": chat_id, "is_bot": False, "first_name": "Sam"}
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Sam"},
            "from": user,
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(command)}
            ]
        return {"update_id": update_id or self.next_update_id(), "message": message}

    def message_update(
        self,
        chat_id: int,
        *,
        update_id: int | None = None,
        edited: bool = False,
        message_id: int | None = None,
        chat_type: str = "private",
        user: dict[str, Any] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Return a message update with ``fields`` (photo, caption, voice, ...)."""
        user = user or {"id": chat_id, "is_bot": False, "first_name": "Sam"}
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = user.get("first_name", "Sam")
        else:
            chat["title"] = "Riverside volunteers"
        message: dict[str, Any] = {
            "message_id": message_id or next(self._message_ids),
            "date": int(time.time()) - (60 if edited else 0),
            "chat": chat,
            **fields,
        }
        if chat_type != "channel":
            message["from"] = user
        if edited:
            message["edit_date"] = int(time.time())
        kind = "message"
        if chat_type == "channel":
            kind = "edited_channel_post" if edited else "channel_post"
        elif edited:
            kind = "edited_message"
        return {"update_id": update_id or self.next_update_id(), kind: message}

    def callback_update(
        self,
        chat_id: int,
        data: str,
        *,
        update_id: int | None = None,
        message_id: int | None = None,
    ) -> dict[str, Any]:
        """Return a callback query update (a tap on an inline button).

        The pressed message is the last one the bot sent to the chat with this
        button (or ``message_id``); a made-up one if there is none.
        """
        user = {"id": chat_id, "is_bot": False, "first_name": "Sam"}
        shown = None
        if message_id is not None:
            shown = self.messages.get((chat_id, message_id))
        else:
            for (chat, _), sent in reversed(self.messages.items()):
                if chat == chat_id and data in _callback_data(sent):
                    shown = sent
                    break
        if shown is None:
            shown = {
                "message_id": message_id or next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private", "first_name": "Sam"},
                "from": BOT_USER,
                "text": "Hello! What can I help with?",
            }
            self.messages[(chat_id, shown["message_id"])] = shown
        return {
            "update_id": update_id or self.next_update_id(),
            "callback_query": {
                "id": f"cq{self.next_update_id()}",
                "from": user,
                "chat_instance": "ci-1",
                "data": data,
                "message": dict(shown),
            },
        }

    # ------------------------------------------------------------ the rules

    def _check(self, method: str, params: dict[str, Any]) -> None:
        """Raise Refused for a call the real Bot API would refuse."""
        if method in ("sendMessage", "editMessageText"):
            text = params.get("text")
            if not isinstance(text, str) or not text.strip():
                raise Refused("Bad Request: message text is empty")
            if units(text) > MAX_TEXT:
                raise Refused("Bad Request: message is too long")
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if sum(len(row) for row in rows) > MAX_BUTTONS:
                raise Refused("Bad Request: reply markup is too long")
            for row in rows:
                if len(row) > MAX_ROW:
                    raise Refused("Bad Request: too many buttons in a row")
                for button in row:
                    if not str(button.get("text", "")).strip():
                        raise Refused("Bad Request: text buttons are unallowed")
                    data = button.get("callback_data")
                    if (
                        data is not None
                        and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA
                    ):
                        raise Refused("Bad Request: BUTTON_DATA_INVALID")
        if method in ("editMessageText", "editMessageReplyMarkup"):
            key = (int(params.get("chat_id", 0) or 0), int(params.get("message_id", 0)))
            shown = self.messages.get(key)
            if shown is None:
                raise Refused("Bad Request: message to edit not found")
            text = params.get("text", shown.get("text"))
            markup = params.get("reply_markup") or None
            if text == shown.get("text") and markup == shown.get("reply_markup"):
                raise Refused(
                    "Bad Request: message is not modified: specified new message "
                    "content and reply markup are exactly the same"
                )
        if method == "answerCallbackQuery":
            if len(str(params.get("text", ""))) > 200:
                raise Refused("Bad Request: MESSAGE_TOO_LONG")
        if method == "sendChatAction" and params.get("action") not in CHAT_ACTIONS:
            raise Refused("Bad Request: wrong parameter action in request")
        if method == "setMyCommands":
            commands = params.get("commands") or []
            if len(commands) > 100:
                raise Refused("Bad Request: too many commands")
            for command in commands:
                name = str(command.get("command", ""))
                description = str(command.get("description", ""))
                if not (1 <= len(name) <= 32 and name.islower() and name.isascii()):
                    raise Refused("Bad Request: BOT_COMMAND_INVALID")
                if not 1 <= len(description) <= 256:
                    raise Refused("Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")

    def _flood(self, method: str, params: dict[str, Any]) -> int | None:
        """Take one send from the chat's bucket; the retry_after if it is empty."""
        if method not in FLOODED or not params.get("chat_id"):
            return None
        chat = int(params["chat_id"])
        now = time.monotonic()
        tokens, at = self._buckets.get(chat, (float(self.chat_burst), now))
        tokens = min(float(self.chat_burst), tokens + (now - at) / self.chat_interval_s)
        if tokens < 1.0:
            self._buckets[chat] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) * self.chat_interval_s))
        self._buckets[chat] = (tokens - 1.0, now)
        self.sends.setdefault(chat, []).append(now)
        return None

    # ------------------------------------------------------------------ the API

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method == "setWebhook":
            self.webhook = params
            return True
        if method == "deleteWebhook":
            self.webhook = {}
            return True
        if method == "getWebhookInfo":
            return {
                "url": self.webhook.get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": 0,
            }
        if method == "getUpdates":
            # Telegram's contract: an offset acknowledges every update before it.
            offset = int(params.get("offset") or 0)
            self.pending_updates = [
                u for u in self.pending_updates if u["update_id"] >= offset
            ]
            return list(self.pending_updates)
        if method == "sendMessage":
            result = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "from": BOT_USER,
                "text": params["text"],
            }
            if params.get("reply_markup"):
                result["reply_markup"] = params["reply_markup"]
            self.messages[(int(params["chat_id"]), result["message_id"])] = result
            return result
        if method in ("editMessageText", "editMessageReplyMarkup"):
            key = (int(params["chat_id"]), int(params["message_id"]))
            shown = dict(self.messages[key])
            if "text" in params:
                shown["text"] = params["text"]
            if params.get("reply_markup"):
                shown["reply_markup"] = params["reply_markup"]
            else:
                shown.pop("reply_markup", None)
            self.messages[key] = shown
            return shown
        if method == "setMyCommands":
            self.commands[str(params.get("language_code") or "")] = list(
                params.get("commands") or []
            )
            return True
        if method == "leaveChat":
            self.left.append(int(params["chat_id"]))
            return True
        if method in ("answerCallbackQuery", "sendChatAction"):
            return True
        return None

    def app(self) -> Starlette:
        async def endpoint(request: Request) -> Response:
            if request.path_params["token"] != self.token:
                return JSONResponse(
                    {"ok": False, "error_code": 401, "description": "Unauthorized"}, 401
                )
            method = request.path_params["method"]
            params = await _params(request)
            if self.down:
                self.calls.append(Call(method, params, 502))
                return JSONResponse(
                    {"ok": False, "error_code": 502, "description": "Bad Gateway"}, 502
                )
            chat = int(params.get("chat_id", 0) or 0)
            if method == "sendMessage" and chat in self.blocked:
                self.calls.append(Call(method, params, 403))
                return JSONResponse(
                    {
                        "ok": False,
                        "error_code": 403,
                        "description": "Forbidden: bot was blocked by the user",
                    },
                    403,
                )
            if (
                method == "sendMessage"
                and self.hold_after is not None
                and len(self.called("sendMessage")) >= self.hold_after
            ):
                self.held += 1
                await self._released.wait()
                self.calls.append(Call(method, params, 502))
                return JSONResponse(
                    {"ok": False, "error_code": 502, "description": "Bad Gateway"}, 502
                )
            if self.too_many.get(method, 0) > 0:
                self.too_many[method] -= 1
                self.calls.append(Call(method, params, 429))
                return JSONResponse(TOO_MANY, 429)
            try:
                self._check(method, params)
            except Refused as exc:
                self.calls.append(Call(method, params, exc.code))
                return JSONResponse(
                    {
                        "ok": False,
                        "error_code": exc.code,
                        "description": exc.description,
                    },
                    exc.code,
                )
            wait = self._flood(method, params)
            if wait is not None:
                self.calls.append(Call(method, params, 429))
                return JSONResponse(
                    {
                        "ok": False,
                        "error_code": 429,
                        "description": f"Too Many Requests: retry after {wait}",
                        "parameters": {"retry_after": wait},
                    },
                    429,
                )
            result = self._result(method, params)
            if result is None:
                self.calls.append(Call(method, params, 404))
                return JSONResponse(
                    {"ok": False, "error_code": 404, "description": "Not Found"}, 404
                )
            self.calls.append(Call(method, params, 200))
            if method == "getUpdates" and not result:
                # Long polling: hold the request a little, as Telegram does.
                await asyncio.sleep(0.2)
            return JSONResponse({"ok": True, "result": result})

        return Starlette(
            routes=[
                Route("/bot{token}/{method}", endpoint, methods=["GET", "POST"]),
            ]
        )


def _callback_data(message: dict[str, Any]) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return [str(b.get("callback_data")) for row in rows for b in row]


async def _params(request: Request) -> dict[str, Any]:
    """Read Bot API parameters: JSON body, or form fields holding JSON values."""
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await request.json()
        return dict(body) if isinstance(body, dict) else {}
    form = await request.form()
    params: dict[str, Any] = dict(request.query_params)
    for key, value in form.multi_items():
        if not isinstance(value, str):
            continue
        # PTB sends strings as they are and objects/arrays JSON-encoded.
        if value[:1] in ("{", "["):
            try:
                params[key] = json.loads(value)
                continue
            except ValueError:
                pass
        params[key] = value
    return params
