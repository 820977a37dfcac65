"""Bad input on both channels: what is invalid gets a clear 4xx, what is merely
unusual (a NUL byte, a lone surrogate) is cleaned, stored and answered; never a
500, never a lost Telegram update."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import select

from bot.db.models import Message, MessageType
from bot.gateway.channels.telegram import SECRET_HEADER, WEBHOOK_PATH
from tests.gateway.conftest import Harness, HarnessFactory
from tests.gateway.test_telegram import CHAT, SECRET, telegram_gateway

pytestmark = pytest.mark.integration

DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


def _incoming(h: Harness) -> list[str]:
    with h.db() as s:
        return list(
            s.scalars(
                select(Message.content)
                .where(Message.message_type == MessageType.INCOMING)
                .order_by(Message.id)
            )
        )


async def _raw_send(h: Harness, conv: dict[str, Any], text_json: str) -> Any:
    """POST a message whose "text" is given as raw JSON (escapes kept as sent)."""
    body = (
        '{"token": %s, "client_message_id": "raw-%s", "text": %s}'
        % (json.dumps(conv["token"]), abs(hash(text_json)) % 10**8, text_json)
    ).encode()
    return await h.http.post(
        f"/api/widget/conversations/{conv['conversation_id']}/messages",
        content=body,
        headers={"Content-Type": "application/json"},
    )


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ('"hello\\u0000 there"', "hello there"),
        ('"grants \\ud800for a hall"', "grants \ufffdfor a hall"),
        ('"\\udfffminibus\\u0007"', "\ufffdminibus"),
    ],
)
async def test_widget_cleans_nul_and_lone_surrogates(
    gw: Harness, raw: str, stored: str
) -> None:
    conv = await gw.start()
    response = await _raw_send(gw, conv, raw)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"]["text"] == stored
    assert [r["text"] for r in body["replies"]] == [f"Echo: {stored}"]
    assert _incoming(gw) == [stored]
    assert gw.rasa.texts() == [stored]


async def test_widget_refuses_text_that_is_nothing_once_cleaned(gw: Harness) -> None:
    conv = await gw.start()
    response = await _raw_send(gw, conv, '"\\u0000\\u0001"')
    assert response.status_code == 400
    assert _incoming(gw) == []


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT, b"\xff\xfe", b"[]", b"null"])
async def test_widget_refuses_deep_or_non_object_json(gw: Harness, body: bytes) -> None:
    conv = await gw.start()
    for path in (
        "/api/widget/conversations",
        f"/api/widget/conversations/{conv['conversation_id']}/messages",
    ):
        response = await gw.http.post(
            path, content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code in (400, 413), (path, response.status_code)
        assert response.json()["error"]


async def test_widget_refuses_a_huge_body_with_413(gw: Harness) -> None:
    conv = await gw.start()
    response = await gw.http.post(
        f"/api/widget/conversations/{conv['conversation_id']}/messages",
        content=b'{"text": "' + b"x" * 200_000 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    "after", ["9" * 30, "9" * 5000, "-1", "1e9", "²", "0x10", "99999999999"]
)
async def test_history_refuses_ids_that_are_not_message_ids(
    gw: Harness, after: str
) -> None:
    conv = await gw.start()
    response = await gw.http.get(
        f"/api/widget/conversations/{conv['conversation_id']}/messages",
        params={"token": conv["token"], "after": after},
    )
    assert response.status_code == 400
    ok = await gw.http.get(
        f"/api/widget/conversations/{conv['conversation_id']}/messages",
        params={"token": conv["token"], "after": "2147483647"},
    )
    assert ok.status_code == 200 and ok.json()["messages"] == []


async def test_event_stream_ignores_a_huge_last_event_id(gw: Harness) -> None:
    conv = await gw.start()
    async with gw.http.stream(
        "GET",
        f"/api/widget/conversations/{conv['conversation_id']}/events",
        params={"token": conv["token"]},
        headers={"Last-Event-ID": "9" * 5000},
    ) as response:
        assert response.status_code == 200
        first = await asyncio.wait_for(anext(response.aiter_lines()), 5)
        assert first == "retry: 3000"


async def _post_raw(h: Harness, body: bytes) -> Any:
    return await h.http.post(
        WEBHOOK_PATH,
        content=body,
        headers={SECRET_HEADER: SECRET, "Content-Type": "application/json"},
    )


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'"update"',
        b"null",
        b"42",
        b"{}",
        b'{"update_id": "1"}',
        b'{"update_id": true}',
        b'{"update_id": 1e3}',
        b'{"update_id": ' + b"9" * 400 + b"}",
        b"\xff{",
        DEEP,
        DEEP_OBJECT,
    ],
)
async def test_telegram_refuses_what_is_not_an_update(
    start_gateway: HarnessFactory, body: bytes
) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        response = await _post_raw(h, body)
        assert response.status_code == 400
        assert _incoming(h) == []


async def test_telegram_refuses_a_huge_update_with_413(
    start_gateway: HarnessFactory,
) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        update = api.text_update(CHAT, "x" * (2 * 1024 * 1024))
        response = await _post_raw(h, json.dumps(update).encode())
        assert response.status_code == 413


@pytest.mark.parametrize(
    ("escaped", "stored"),
    [("hi\\u0000 there", "hi there"), ("hall \\ud83d hire", "hall \ufffd hire")],
)
async def test_telegram_cleans_stores_and_answers_nul_and_surrogates(
    start_gateway: HarnessFactory, escaped: str, stored: str
) -> None:
    async with telegram_gateway(start_gateway) as (h, api):
        update = api.text_update(CHAT, "PLACEHOLDER")
        raw = json.dumps(update).replace("PLACEHOLDER", escaped).encode()
        response = await _post_raw(h, raw)
        assert response.status_code == 200
        assert _incoming(h) == [stored]  # stored before the 200
        await api.wait_for("sendMessage", 1)
        assert api.sent_texts(CHAT) == [f"Echo: {stored}"]
