"""A small Telegram Bot API on loopback for python-telegram-bot to talk to.

It speaks the Bot API's HTTP protocol (``POST /bot<token>/<method>``, form or JSON
parameters, ``{"ok": ..., "result": ...}`` answers) for the methods the gateway
uses, records every call, and can answer 429 ``retry_after`` to test the rate
limiter. Point PTB's ``base_url`` at ``<url>/bot``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
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
    _message_ids: itertools.count[int] = field(
        default_factory=lambda: itertools.count(1)
    )
    _update_ids: itertools.count[int] = field(
        default_factory=lambda: itertools.count(900000)
    )

    def answer_429(self, method: str, times: int) -> None:
        """Answer the next ``times`` calls of ``method`` with 429 retry_after 1."""
        self.too_many[method] = times

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

    def callback_update(
        self, chat_id: int, data: str, *, update_id: int | None = None
    ) -> dict[str, Any]:
        """Return a callback query update (a tap on an inline button)."""
        user = {"id": chat_id, "is_bot": False, "first_name": "Sam"}
        return {
            "update_id": update_id or self.next_update_id(),
            "callback_query": {
                "id": f"cq{self.next_update_id()}",
                "from": user,
                "chat_instance": "ci-1",
                "data": data,
                "message": {
                    "message_id": next(self._message_ids),
                    "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private", "first_name": "Sam"},
                    "from": BOT_USER,
                    "text": "Hello! What can I help with?",
                },
            },
        }

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
            if "reply_markup" in params:
                result["reply_markup"] = params["reply_markup"]
            return result
        if method in (
            "answerCallbackQuery",
            "editMessageReplyMarkup",
            "sendChatAction",
        ):
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
            if self.too_many.get(method, 0) > 0:
                self.too_many[method] -= 1
                self.calls.append(Call(method, params, 429))
                return JSONResponse(TOO_MANY, 429)
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
