"""Simulated people for `make bench`: scripted triage conversations over HTTP.

Three ways in, one script: the widget API, the Telegram webhook (replies caught
by a fake Bot API on loopback) and Rasa's own REST webhook (the baseline the
gateway's overhead is measured against). Every loop is bounded by a deadline
and every request by a timeout.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from scripts.nlu_metrics import percentile

REQUEST_TIMEOUT_S = 15.0
TELEGRAM_QUIET_S = 0.25  # a turn's replies are done after this long without one
BOT_UNAVAILABLE = "having trouble right now"

# Topic questions as people type them, some naming their place up front.
QUESTIONS = [
    "how do we claim gift aid on our cake sale money",
    "where can we find a grant for a new minibus",
    "any funding for a community fridge?",
    "is a raffle at our summer fair legal without a licence",
    # (was "can someone look over our lottery application": a request for a
    # person to review it, which the model rightly hands over, leaving the
    # scripted turns after it unanswered)
    "what do lottery funders look for in an application",
    "we want to set up an online donate button, what's easiest",
    "what does our AGM legally need to cover",
    "how many trustees do we need",
    "should we become a CIO or stay unincorporated",
    "when is our annual return due to the charity commission",
    "do we need a safeguarding policy if we only work with adults",
    "one of our trustees has a conflict of interest, what do we do",
    "do our volunteers need a DBS check",
    "can we pay volunteers' petrol money",
    "where can I find volunteers for our food bank",
    "are our volunteers covered by our insurance",
    "can 14 year olds volunteer in our charity shop",
    "how do we keep volunteers from drifting away",
    "we're a food bank in St Ives, Cornwall, any grants for a freezer?",
    "youth football club in Leeds - do coaches need a DBS?",
    "village hall committee near Hexham, how do we switch to a CIO?",
    "we're a choir in Cardiff looking for more volunteers",
    "knit and natter group in Antrim, where can we get a small grant",
    "our lunch club in BT48 needs a new treasurer, how do we find one",
]
PLACES = [
    "Leeds", "we're in Hexham", "TR1 2AA", "Cardiff", "near Oban", "Belfast",
    "Bristol", "M1", "our postcode is PO30 1AE", "Norwich", "Swansea", "York",
]  # fmt: skip
FALLBACK_PLACE = "LS1 4AD"
GREETINGS = ["hi", "hello there", "hiya", "good morning"]
ASK_PERSON = ["can I talk to a person please", "I'd like to speak to an adviser"]
DECLINE = ["no thanks", "no that's fine"]
GOODBYE = ["thanks, bye", "thank you, that's great"]


class BenchError(Exception):
    """A turn that failed: HTTP error, timeout, no reply, or the bot unavailable."""


@dataclass(frozen=True)
class Reply:
    """The bot's messages for one turn and when they came (seconds after sending)."""

    texts: list[str]
    first_s: float
    last_s: float


class Channel(Protocol):
    """One simulated person's way in."""

    name: str

    async def start(self) -> None: ...

    async def say(self, text: str) -> Reply: ...


# ----------------------------------------------------------------- recording


@dataclass
class Turn:
    """One message and its reply."""

    channel: str
    started: float
    latency: float  # seconds to the (first) reply
    last: float  # seconds to the last reply of the turn
    error: str | None = None
    kind: str = ""  # step of the conversation: greeting, question, place, ...


@dataclass
class Recorder:
    """Every turn of one run."""

    turns: list[Turn] = field(default_factory=list)
    conversations: Counter[str] = field(default_factory=Counter)

    def ok(self, channel: str | None = None) -> list[Turn]:
        return [
            t for t in self.turns
            if t.error is None and (channel is None or t.channel == channel)
        ]

    def errors(self) -> Counter[str]:
        return Counter(f"{t.channel}: {t.error}" for t in self.turns if t.error)

    def summary(
        self, channel: str | None, seconds: float, *, kind: str | None = None
    ) -> dict[str, float]:
        """Return count, throughput and latency percentiles (ms) of good turns."""
        good = [t for t in self.ok(channel) if kind is None or t.kind == kind]
        lat = [t.latency * 1000 for t in good]
        last = [t.last * 1000 for t in good]
        n_err = sum(
            1 for t in self.turns
            if t.error and (channel is None or t.channel == channel)
            and (kind is None or t.kind == kind)
        )
        return {
            "turns": len(lat),
            "errors": n_err,
            "msg_per_s": len(lat) / seconds if seconds else 0.0,
            "p50": percentile(lat, 50),
            "p95": percentile(lat, 95),
            "p99": percentile(lat, 99),
            "mean": sum(lat) / len(lat) if lat else float("nan"),
            "max": max(lat) if lat else float("nan"),
            "last_p95": percentile(last, 95),
        }


# ------------------------------------------------------------------ channels


class WidgetChannel:
    """The website widget's JSON API."""

    name = "widget"

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self.http = http
        self.base = base_url.rstrip("/") + "/api/widget/conversations"
        self.cid = ""
        self.token = ""

    async def start(self) -> None:
        r = await self.http.post(self.base, json={})
        if r.status_code not in (200, 201):
            raise BenchError(f"start HTTP {r.status_code}")
        body = r.json()
        self.cid, self.token = body["conversation_id"], body["token"]

    async def say(self, text: str) -> Reply:
        sent = time.perf_counter()
        r = await self.http.post(
            f"{self.base}/{self.cid}/messages",
            json={
                "token": self.token,
                "text": text,
                "client_message_id": secrets.token_hex(8),
            },
        )
        took = time.perf_counter() - sent
        if r.status_code != 200:
            raise BenchError(f"HTTP {r.status_code}")
        texts = [m.get("text") or "" for m in r.json().get("replies") or []]
        return Reply(texts, took, took)


class RasaChannel:
    """Rasa straight, through the project's channel (the gateway's way in, with
    its token in a header; Rasa's open REST channel is not enabled): the same
    load without the gateway."""

    name = "rasa"

    def __init__(self, http: httpx.AsyncClient, rasa_url: str, token: str) -> None:
        self.http = http
        self.url = rasa_url.rstrip("/") + "/webhooks/frontdoor/webhook"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.sender = ""

    async def start(self) -> None:
        self.sender = f"bench-{uuid.uuid4().hex}"

    async def say(self, text: str) -> Reply:
        sent = time.perf_counter()
        body = {"sender": self.sender, "message": text}
        r = await self.http.post(self.url, json=body, headers=self.headers)
        took = time.perf_counter() - sent
        if r.status_code != 200:
            raise BenchError(f"HTTP {r.status_code}")
        messages = r.json().get("messages", [])
        texts = [m.get("text") or "" for m in messages if isinstance(m, dict)]
        return Reply(texts, took, took)


class ReplyBox:
    """Replies the fake Bot API received, per chat, for the Telegram channel."""

    def __init__(self) -> None:
        self.queues: dict[int, asyncio.Queue[tuple[float, str]]] = {}

    def queue(self, chat_id: int) -> asyncio.Queue[tuple[float, str]]:
        return self.queues.setdefault(chat_id, asyncio.Queue())

    def put(self, chat_id: int, text: str) -> None:
        self.queue(chat_id).put_nowait((time.perf_counter(), text))

    def drop(self, chat_id: int) -> None:
        self.queues.pop(chat_id, None)


_chat_ids = itertools.count(70_000_000)


class TelegramChannel:
    """Telegram updates posted to the gateway's webhook, as Telegram would."""

    name = "telegram"

    def __init__(
        self,
        http: httpx.AsyncClient,
        gateway_url: str,
        secret: str,
        box: ReplyBox,
        make_update: Callable[[int, str], dict[str, Any]],
    ) -> None:
        self.http = http
        self.url = gateway_url.rstrip("/") + "/telegram/webhook"
        self.headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
        self.box = box
        self.make_update = make_update
        self.chat_id = 0

    async def start(self) -> None:
        if self.chat_id:
            self.box.drop(self.chat_id)
        self.chat_id = next(_chat_ids)  # a new chat: a new conversation

    async def say(self, text: str) -> Reply:
        queue = self.box.queue(self.chat_id)
        while not queue.empty():  # late replies of an earlier turn
            queue.get_nowait()
        sent = time.perf_counter()
        r = await self.http.post(
            self.url, json=self.make_update(self.chat_id, text), headers=self.headers
        )
        if r.status_code != 200:
            raise BenchError(f"webhook HTTP {r.status_code}")
        remaining = REQUEST_TIMEOUT_S - (time.perf_counter() - sent)
        try:
            at, first = await asyncio.wait_for(queue.get(), max(0.1, remaining))
        except TimeoutError as exc:
            raise BenchError("no reply") from exc
        replies, last_at = [first], at
        while True:
            try:
                last_at, more = await asyncio.wait_for(queue.get(), TELEGRAM_QUIET_S)
            except TimeoutError:
                break
            replies.append(more)
        return Reply(replies, at - sent, last_at - sent)


# -------------------------------------------------------------------- people


def _asks_place(replies: list[str]) -> bool:
    text = " ".join(replies).lower()
    return "where is your group" in text or "which one do you mean" in text or (
        "couldn't find a place" in text
    )


async def _turn(
    channel: Channel, text: str, rec: Recorder, kind: str, *, expect_reply: bool = True
) -> list[str] | None:
    """Send one message; record its latency (or error); None if it failed."""
    started = time.perf_counter()
    try:
        reply = await asyncio.wait_for(channel.say(text), REQUEST_TIMEOUT_S + 1)
        if expect_reply and not reply.texts:
            raise BenchError("no reply")
        if any(BOT_UNAVAILABLE in r for r in reply.texts):
            raise BenchError("bot unavailable")
    except (BenchError, httpx.HTTPError, TimeoutError) as exc:
        took = time.perf_counter() - started
        error = str(exc) or type(exc).__name__
        rec.turns.append(Turn(channel.name, started, took, took, error, kind))
        return None
    # the first reply is what the person waits for
    rec.turns.append(
        Turn(channel.name, started, reply.first_s, reply.last_s, None, kind)
    )
    return reply.texts


async def converse(
    channel: Channel, rng: random.Random, rec: Recorder, pause: Callable[[], float],
    deadline: float,
) -> None:
    """One triage conversation: topic question, place, answer, maybe a person."""
    try:
        await asyncio.wait_for(channel.start(), REQUEST_TIMEOUT_S)
    except (BenchError, httpx.HTTPError, TimeoutError) as exc:
        rec.turns.append(Turn(channel.name, time.perf_counter(), 0.0, 0.0,
                              f"start: {exc}"))
        return
    rec.conversations[channel.name] += 1

    async def say(text: str, kind: str) -> list[str] | None:
        if time.perf_counter() >= deadline:
            return None
        replies = await _turn(channel, text, rec, kind)
        wait = pause()
        if wait:
            # never cut the pause short: past the deadline the person just stops
            await asyncio.sleep(min(wait, max(0.0, deadline - time.perf_counter())))
        return replies

    if rng.random() < 0.3 and await say(rng.choice(GREETINGS), "greeting") is None:
        return
    replies = await say(rng.choice(QUESTIONS), "question")
    if replies is None:
        return
    for place in (rng.choice(PLACES), FALLBACK_PLACE):
        if not _asks_place(replies):
            break
        replies = await say(place, "place")
        if replies is None:
            return
    roll = rng.random()
    if roll < 0.25:
        await say(rng.choice(ASK_PERSON), "ask for a person")  # the bot is silent now
        return
    if roll < 0.65 and await say(rng.choice(DECLINE), "decline") is None:
        return
    await say(rng.choice(GOODBYE), "thanks")


async def person(
    make_channel: Callable[[int], Channel], seed: int, rec: Recorder,
    pause: Callable[[], float], deadline: float,
) -> None:
    """Hold conversations one after another until the deadline."""
    rng = random.Random(seed)  # noqa: S311 (a reproducible script, not security)
    for n in itertools.count():
        if time.perf_counter() >= deadline:
            return
        await converse(make_channel(n), rng, rec, pause, deadline)
