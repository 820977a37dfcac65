"""Console fixtures: a migrated database on each backend, the console app, advisers,
conversations, and a signed-in HTTP client."""

from __future__ import annotations

import csv
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from starlette.applications import Starlette
from starlette.routing import Mount

from bot.console import auth
from bot.console.routes import console_routes
from bot.db.base import utcnow
from bot.db.models import (
    Conversation,
    ConversationStatus,
    Handoff,
    LocalAuthority,
    Message,
    MessageType,
    Nation,
    Organisation,
    OrganisationArea,
    Resource,
)
from bot.db.repositories import advisers as repo
from bot.db.session import session_scope
from bot.settings import DIRECTORY_DATA_DIR, get_settings

BASE = "http://testserver"
PASSWORD = "correct horse battery staple"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
# Real guidance pages from data/directory/resources.csv (never invented here):
# res014 NCVO, funding incl. grants, England only; res003 CC20, funding (general),
# England and Wales; res013 Knowledge Hub DBS checks, volunteering, Wales only.
RESOURCE_IDS = ("res003", "res013", "res014")


def real_resources(*ids: str) -> list[dict[str, Any]]:
    """Return the directory's own rows for ``ids``, shaped as the importer stores
    them (topic and tags from resource_topics.csv)."""
    with (DIRECTORY_DATA_DIR / "resource_topics.csv").open(newline="") as f:
        tags = {r["resource_id"]: r for r in csv.DictReader(f)}
    with (DIRECTORY_DATA_DIR / "resources.csv").open(newline="") as f:
        rows = {r["id"]: r for r in csv.DictReader(f) if r["id"] in ids}
    assert sorted(rows) == sorted(ids), f"not in resources.csv: {ids}"
    return [
        {
            "id": r["id"],
            "topic": tags[r["id"]]["topic"],
            "tags": _split(tags[r["id"]]["tags"]),
            "source_topic": r["topic"],
            "source_subtopic": r["subtopic"],
            "title": r["title"],
            "publisher": r["publisher"],
            "url": r["url"].strip(),
            "nations": _split(r["nations"]),
            "summary": r["summary"],
        }
        for r in (rows[i] for i in ids)
    ]


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


def resource(resource_id: str) -> dict[str, Any]:
    """Return one real directory resource row (title, publisher, url...)."""
    return real_resources(resource_id)[0]


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2 parameters: the tests hash many passwords."""
    monkeypatch.setattr(
        auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    )
    auth._dummy_hash.cache_clear()


@pytest.fixture
def db_url(migrated_db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A migrated database (SQLite and PostgreSQL) that the console is pointed at."""
    monkeypatch.setenv("DATABASE_URL", migrated_db_url)
    monkeypatch.setenv("PUBLIC_URL", "http://testserver")
    get_settings.cache_clear()
    yield migrated_db_url
    get_settings.cache_clear()


@pytest.fixture
def directory(db_url: str) -> dict[str, str]:
    """A tiny directory: a fictional county (Testshire) with two districts and its
    fictional LIO, a real Welsh council area with a fictional CVC, and guidance
    pages copied from the real directory (RESOURCE_IDS)."""
    with session_scope(db_url) as s:
        s.add_all(
            [
                LocalAuthority(
                    code="E07000001",
                    name="Northdale",
                    la_type="Non-metropolitan district",
                    nation=Nation.ENGLAND,
                    county_code="E10000001",
                    county_name="Testshire",
                ),
                LocalAuthority(
                    code="E07000002",
                    name="Southdale",
                    la_type="Non-metropolitan district",
                    nation=Nation.ENGLAND,
                    county_code="E10000001",
                    county_name="Testshire",
                ),
                LocalAuthority(
                    code="W06000001",
                    name="Isle of Anglesey",
                    la_type="Unitary authority",
                    nation=Nation.WALES,
                ),
            ]
        )
        s.flush()
        s.add_all(
            [
                Organisation(
                    id="lio900",
                    name="Testshire CVS",
                    kind="CVS",
                    nation=Nation.ENGLAND,
                    website="https://testshire-cvs.example.org",
                    email="hello@testshire-cvs.example.org",
                    confidence="high",
                ),
                Organisation(
                    id="lio901",
                    name="Testshire Cymru CVC",
                    kind="CVC",
                    nation=Nation.WALES,
                    website="https://testshire-cymru.example.org",
                    confidence="high",
                ),
            ]
        )
        s.flush()
        s.add_all(
            [
                OrganisationArea(organisation_id="lio900", lad_code="E07000001"),
                OrganisationArea(organisation_id="lio900", lad_code="E07000002"),
                OrganisationArea(organisation_id="lio901", lad_code="W06000001"),
                *(Resource(**row) for row in real_resources(*RESOURCE_IDS)),
            ]
        )
    return {"lio": "lio900", "lad": "E07000001", "county": "E10000001"}


def make_adviser(
    db_url: str,
    username: str = "alex",
    *,
    name: str = "Alex Adviser",
    password: str = PASSWORD,
    organisation_id: str | None = None,
) -> int:
    """Create an adviser and return their id."""
    with session_scope(db_url) as s:
        adviser = repo.create_adviser(
            s,
            username=username,
            display_name=name,
            password_hash=auth.hash_password(password),
            organisation_id=organisation_id,
        )
        return adviser.id


_counter = iter(range(1, 10**6))


def make_conversation(
    db_url: str,
    *,
    status: ConversationStatus = ConversationStatus.QUEUED,
    topic: str | None = "funding",
    subtopic: str | None = "grants",
    place_name: str | None = "Northdale",
    lad_code: str | None = "E07000001",
    organisation_id: str | None = "lio900",
    waited_minutes: int = 10,
    channel: str = "web",
    messages: list[tuple[Any, ...]] | None = None,
    reason: str = "asked_for_person",
    summary: str = "Reason: asked for a person.",
    organisation_names: list[str] | None = None,
    assignee_id: int | None = None,
    intent: tuple[str, float] | None = ("ask_funding", 0.87),
) -> str:
    """Create a conversation with messages and a handoff; return its id.

    A message is (type, sender, text) or (type, sender, text, (intent, confidence)).
    """
    cid = f"conv-{next(_counter):06d}-{utcnow().timestamp():.0f}"
    now = utcnow()
    with session_scope(db_url) as s:
        s.add(
            Conversation(
                id=cid,
                channel=channel,
                status=status,
                topic=topic,
                subtopic=subtopic,
                place_name=place_name,
                lad_code=lad_code,
                organisation_id=organisation_id,
                waiting_since=now - timedelta(minutes=waited_minutes),
                assignee_id=assignee_id,
            )
        )
        s.flush()
        msgs = messages or [
            (
                MessageType.INCOMING,
                "person",
                "Where can we find a grant for a minibus?",
            ),
            (MessageType.OUTGOING, "bot", "Here is some guidance on grants."),
            (MessageType.INCOMING, "person", "Can I talk to a person please?"),
        ]
        last = []
        for kind, sender, text, *own_intent in msgs:
            m = Message(
                conversation_id=cid,
                message_type=kind,
                sender=sender,
                content=text,
                channel=channel,
            )
            if kind is MessageType.INCOMING and (own_intent or intent):
                m.intent, m.confidence = own_intent[0] if own_intent else intent
            s.add(m)
            if kind in (MessageType.INCOMING, MessageType.OUTGOING):
                last.append({"sender": sender, "text": text})
        s.add(
            Handoff(
                conversation_id=cid,
                reason=reason,
                topic=topic,
                subtopic=subtopic,
                place_name=place_name,
                lad_code=lad_code,
                organisation_names=organisation_names
                if organisation_names is not None
                else ["Testshire CVS"],
                summary=summary,
                last_messages=last,
            )
        )
    return cid


def csrf_from(html: str) -> str:
    """Return the CSRF token of a rendered console page."""
    found = CSRF_RE.search(html)
    assert found, "no csrf_token field on the page"
    return found.group(1)


@pytest.fixture
def app(db_url: str) -> Starlette:
    """The console alone, mounted as the gateway mounts it."""
    return Starlette(routes=[Mount("/console", routes=console_routes())])


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the console app (not signed in)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE
    ) as c:
        yield c


async def login_form(client: httpx.AsyncClient) -> str:
    """Open the login page (a visitor session); return its CSRF token."""
    page = await client.get("/console/login")
    assert page.status_code == 200
    return csrf_from(page.text)


async def post_login(
    client: httpx.AsyncClient,
    token: str,
    username: str = "alex",
    password: str = PASSWORD,
    **extra: str,
) -> httpx.Response:
    """Send the login form once, from the console's own origin."""
    return await client.post(
        "/console/login",
        data={"username": username, "password": password, "csrf_token": token, **extra},
        headers={"Origin": BASE},
    )


async def sign_in(
    client: httpx.AsyncClient, username: str = "alex", password: str = PASSWORD
) -> str:
    """Sign ``client`` in through the login form; return the new CSRF token."""
    response = await post_login(client, await login_form(client), username, password)
    assert response.status_code == 303, response.text
    queue = await client.get("/console/")
    assert queue.status_code == 200
    return csrf_from(queue.text)


@dataclass
class Adviser:
    id: int
    client: httpx.AsyncClient
    csrf: str

    async def post(
        self, path: str, data: dict[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        """POST a console form as the browser would (token and Origin)."""
        body = {"csrf_token": self.csrf, **(data or {})}
        return await self.client.post(path, data=body, headers={"Origin": BASE}, **kw)


@pytest.fixture
async def adviser(app: Starlette, db_url: str) -> AsyncIterator[Adviser]:
    """A signed-in adviser ("alex")."""
    adviser_id = make_adviser(db_url, organisation_id=None)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE
    ) as c:
        yield Adviser(adviser_id, c, await sign_in(c))


@pytest.fixture
async def second_adviser(app: Starlette, db_url: str) -> AsyncIterator[Adviser]:
    """Another signed-in adviser ("sam")."""
    adviser_id = make_adviser(db_url, "sam", name="Sam Second")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE
    ) as c:
        yield Adviser(adviser_id, c, await sign_in(c, "sam"))


@pytest.fixture
def fake_resume(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replace rasa_client.resume with a recorder."""
    from bot.gateway import rasa_client

    calls: list[str] = []

    async def resume(conversation_id: str) -> None:
        calls.append(conversation_id)

    monkeypatch.setattr(rasa_client, "resume", resume)
    return calls


Factory = Callable[..., str]
