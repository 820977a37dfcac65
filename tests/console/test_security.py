"""Table-driven checks over every console route: login, CSRF and security headers."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select
from starlette.routing import Mount, Route

from bot.console import auth
from bot.console.headers import CONTENT_SECURITY_POLICY
from bot.console.routes import console_routes
from bot.db.models import Conversation, ConversationStatus, Message, MessageType
from bot.db.session import session_scope
from tests.console.conftest import (
    BASE,
    Adviser,
    csrf_from,
    make_conversation,
    post_login,
)

pytestmark = pytest.mark.integration

PUBLIC = {"console_login_page", "console_login"}
EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _cases() -> Iterator[tuple[str, str, str]]:
    """Yield (route name, method, path template) for every route and method."""
    for route in console_routes():
        if isinstance(route, Mount):
            continue
        assert isinstance(route, Route)
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                yield route.name, method, route.path


CASES = list(_cases())
POST_CASES = [c for c in CASES if c[1] == "POST"]


def _path(template: str, conversation_id: str) -> str:
    path = template.replace("{conversation_id:str}", conversation_id)
    path = path.replace("{message_id:str}", "1").replace("{reply_id:str}", "1")
    path = path.replace("{adviser_id:str}", "1")
    return "/console" + path.replace("{path:path}", "no/such/page")


def _check_headers(response: httpx.Response) -> None:
    assert response.headers["content-security-policy"] == EXPECTED_CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-frame-options"] == "DENY"


def test_the_table_covers_every_route() -> None:
    routes = console_routes()
    names = {r.name for r in routes}
    assert {
        "console_queue",
        "console_conversation",
        "console_claim",
        "console_release",
        "console_resolve",
        "console_hand_back",
        "console_reply",
        "console_retry_delivery",
        "console_note",
        "console_logout",
        "console_queue_events",
        "console_events",
        "console_not_found",
        "console_static",
        # issue 10 (console)
        "console_correct_triage",
        "console_email_reply",
        "console_assign",
        "console_take_over",
        "console_transfer",
        "console_availability",
        "console_search",
        "console_saved_replies",
        "console_add_saved_reply",
        "console_delete_saved_reply",
        # issue 13: admins manage their organisation's advisers; own password
        "console_advisers",
        "console_add_adviser",
        "console_adviser_role",
        "console_remove_adviser",
        "console_password_page",
        "console_change_password",
    } <= names
    # the only routes open without signing in are the login page and its form
    open_routes = {
        r.name
        for r in routes
        if isinstance(r, Route) and not auth.login_required(r.endpoint)
    }
    assert open_routes == PUBLIC
    assert CONTENT_SECURITY_POLICY == EXPECTED_CSP


@pytest.mark.parametrize(("name", "method", "template"), CASES)
@pytest.mark.parametrize("accept", ["*/*", "text/html"])
async def test_every_route_needs_login(
    client: httpx.AsyncClient,
    db_url: str,
    directory: dict[str, str],
    name: str,
    method: str,
    template: str,
    accept: str,
) -> None:
    conversation_id = make_conversation(db_url)
    # a visitor session (from the login page) with its valid CSRF token
    page = await client.get("/console/login")
    token = csrf_from(page.text)
    path = _path(template, conversation_id)
    response = await client.request(
        method,
        path,
        headers={"Accept": accept, "Origin": BASE},
        data={"csrf_token": token, "text": "x", "outcome": "answered"}
        if method == "POST"
        else None,
    )
    _check_headers(response)
    if name in PUBLIC:
        assert response.status_code in (200, 400), response.text
        return
    if response.status_code == 303:
        assert response.headers["location"].startswith("/console/login")
    else:
        assert response.status_code in (401, 403), (name, response.status_code)
    # nothing changed
    with session_scope(db_url) as s:
        conv = s.get(Conversation, conversation_id)
        assert conv is not None and conv.status is ConversationStatus.QUEUED
        notes = s.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.message_type != MessageType.INCOMING)
            .where(Message.message_type != MessageType.OUTGOING)
        )
        assert notes == 0


@pytest.mark.parametrize(
    ("name", "method", "template"), [c for c in CASES if c[0] not in PUBLIC]
)
async def test_every_route_refuses_a_made_up_cookie(
    client: httpx.AsyncClient, name: str, method: str, template: str
) -> None:
    client.cookies.set(auth.COOKIE_NAME, "forged-session-token", domain="testserver")
    response = await client.request(method, _path(template, "abc"))
    assert response.status_code in (401, 403)


def _bad_requests(token: str) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    """(what, form fields, headers) that must all be refused with 403."""
    return [
        ("no token", {}, {"Origin": BASE}),
        ("empty token", {"csrf_token": ""}, {"Origin": BASE}),
        ("wrong token", {"csrf_token": token[:-2] + "xx"}, {"Origin": BASE}),
        ("foreign origin", {"csrf_token": token}, {"Origin": "https://evil.example"}),
        ("null origin", {"csrf_token": token}, {"Origin": "null"}),
        (
            "foreign referer, no origin",
            {"csrf_token": token},
            {"Referer": "https://evil.example/page"},
        ),
        (
            "port differs",
            {"csrf_token": token},
            {"Origin": "http://testserver:8080"},
        ),
    ]


@pytest.mark.parametrize(("name", "method", "template"), POST_CASES)
async def test_every_post_route_needs_the_csrf_token_and_our_origin(
    adviser: Adviser,
    db_url: str,
    directory: dict[str, str],
    fake_resume: list[str],
    name: str,
    method: str,
    template: str,
) -> None:
    conversation_id = make_conversation(db_url)
    path = _path(template, conversation_id)
    fields = {"text": "hello", "outcome": "answered", "username": "alex"}
    for what, extra, headers in _bad_requests(adviser.csrf):
        response = await adviser.client.post(
            path, data={**fields, **extra}, headers=headers
        )
        assert response.status_code == 403, (name, what, response.status_code)
        _check_headers(response)
    with session_scope(db_url) as s:
        conv = s.get(Conversation, conversation_id)
        assert conv is not None and conv.status is ConversationStatus.QUEUED
        assert (
            s.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.conversation_id == conversation_id)
            )
            == 3
        )
    assert fake_resume == []
    # and with the token (as a field, or as the header) and our origin it passes
    ok = await adviser.client.post(
        path,
        data=fields,
        headers={"Origin": BASE, "X-CSRF-Token": adviser.csrf},
    )
    assert ok.status_code != 403, name


async def test_login_form_needs_the_csrf_token_and_our_origin(
    client: httpx.AsyncClient, db_url: str
) -> None:
    from tests.console.conftest import PASSWORD, make_adviser

    make_adviser(db_url)
    page = await client.get("/console/login")
    token = csrf_from(page.text)
    for what, extra, headers in _bad_requests(token):
        r = await client.post(
            "/console/login",
            data={"username": "alex", "password": PASSWORD, **extra},
            headers=headers,
        )
        assert r.status_code == 403, what
    # a login POST without ever having loaded the form has no session: refused
    async with httpx.AsyncClient(transport=client._transport, base_url=BASE) as fresh:
        r = await post_login(fresh, token)
        assert r.status_code == 403
    # the CSRF token of one session does not work with another session
    async with httpx.AsyncClient(transport=client._transport, base_url=BASE) as other:
        await other.get("/console/login")
        r = await post_login(other, token)
        assert r.status_code == 403


async def test_csrf_token_changes_at_login(
    client: httpx.AsyncClient, db_url: str
) -> None:
    from tests.console.conftest import make_adviser, sign_in

    make_adviser(db_url)
    page = await client.get("/console/login")
    before = csrf_from(page.text)
    after = await sign_in(client)
    assert before != after


async def test_headers_on_static_files_errors_and_405(
    adviser: Adviser, client: httpx.AsyncClient
) -> None:
    for c, method, path, status in (
        (client, "GET", "/console/static/console.css", 200),
        (client, "GET", "/console/static/console.js", 200),
        (client, "GET", "/console/static/missing.css", 404),
        (client, "GET", "/console/login", 200),
        (adviser.client, "GET", "/console/no/such/page", 404),
        (adviser.client, "GET", "/console/logout", 405),
        (adviser.client, "GET", "/console/conversations/nope", 404),
        (adviser.client, "GET", "/console/", 200),
    ):
        r = await c.request(method, path)
        assert r.status_code == status, path
        _check_headers(r)
    css = await client.get("/console/static/console.css")
    assert css.headers["content-type"].startswith("text/css")


def test_templates_never_mark_text_safe() -> None:
    from bot.console.views import TEMPLATE_DIR, templates

    assert templates.env.autoescape is not False
    for path in TEMPLATE_DIR.glob("*.html"):
        text = path.read_text()
        assert not re.search(r"\|\s*safe\b", text), path.name
        assert "autoescape false" not in text, path.name
        # no inline script, style or event handler: the CSP would block them
        assert "<script>" not in text and "style=" not in text, path.name
        assert not re.search(r"\son[a-z]+\s*=", text), path.name


async def test_console_works_inside_the_gateway_app(db_url: str) -> None:
    from bot.gateway.app import create_app

    app = create_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE
    ) as c:
        page = await c.get("/console/login")
        assert page.status_code == 200
        _check_headers(page)
        assert (await c.get("/console/")).status_code == 401
        bare = await c.get("/console")
        assert bare.status_code in (307, 308, 401)


CONVERSATION_CASES = [c for c in CASES if "{conversation_id" in c[2]]


@pytest.mark.parametrize(("name", "method", "template"), CONVERSATION_CASES)
async def test_every_conversation_route_is_404_for_another_organisation(
    app: object,
    db_url: str,
    directory: dict[str, str],
    fake_resume: list[str],
    name: str,
    method: str,
    template: str,
) -> None:
    """An adviser of one organisation gets the same 404 as for a conversation
    that does not exist, whatever the URL, and nothing changes."""
    from bot.db.models import AuditEntry
    from tests.console.conftest import make_adviser, sign_in

    # Northdale is covered by lio900; "wyn" advises lio901 (Anglesey) only
    conversation_id = make_conversation(db_url)
    make_adviser(db_url, "wyn", name="Wyn Other", organisation_id="lio901")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url=BASE,
    ) as c:
        csrf = await sign_in(c, "wyn")
        fields = {"csrf_token": csrf, "text": "hello", "outcome": "answered"}
        for target in (conversation_id, "no-such-conversation"):
            response = await c.request(
                method,
                _path(template, target),
                headers={"Origin": BASE, "Accept": "text/html"},
                data=fields if method == "POST" else None,
            )
            assert response.status_code == 404, (name, target, response.status_code)
            _check_headers(response)
            if target == conversation_id:
                shown = response.text
            else:
                assert response.text == shown  # the two cannot be told apart
        queue = await c.get("/console/")
        assert conversation_id not in queue.text
    with session_scope(db_url) as s:
        conv = s.get(Conversation, conversation_id)
        assert conv is not None and conv.status is ConversationStatus.QUEUED
        assert conv.assignee_id is None
        count = select(func.count()).select_from(Message)
        assert s.scalar(count.where(Message.conversation_id == conversation_id)) == 3
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 0
    assert fake_resume == []


TEAM_CASES = [c for c in CASES if c[2].startswith("/advisers")]


def test_every_adviser_management_route_is_in_the_table() -> None:
    assert sorted(name for name, _, _ in TEAM_CASES) == [
        "console_add_adviser",
        "console_adviser_role",
        "console_advisers",
        "console_remove_adviser",
    ]


@pytest.mark.parametrize(("name", "method", "template"), TEAM_CASES)
async def test_every_adviser_route_is_scoped_to_the_admins_organisations(
    app: object,
    db_url: str,
    directory: dict[str, str],
    name: str,
    method: str,
    template: str,
) -> None:
    """An admin of lio901 gets 404 for lio900's adviser and cannot grant a role
    in lio900, whatever the form says; a plain adviser gets 403; nothing changes
    and nothing is audited."""
    from bot.db.models import Adviser as AdviserRow
    from bot.db.models import AdviserMembership, AdviserRole, AuditEntry
    from bot.db.repositories import access
    from tests.console.conftest import make_adviser, sign_in

    target = make_adviser(db_url, "tess", name="Tess Target", organisation_id="lio900")
    make_adviser(db_url, "wyn", name="Wyn Admin", organisation_id="lio901")
    make_adviser(db_url, "pat", name="Pat Plain", organisation_id="lio901")
    with session_scope(db_url) as s:
        wyn = s.scalar(select(AdviserRow.id).where(AdviserRow.username == "wyn"))
        assert wyn is not None
        access.add_membership(
            s, adviser_id=wyn, organisation_id="lio901", role=AdviserRole.ADMIN
        )

    def memberships() -> list[tuple[int, str | None, AdviserRole]]:
        with session_scope(db_url) as s:
            return sorted(
                s.execute(
                    select(
                        AdviserMembership.adviser_id,
                        AdviserMembership.organisation_id,
                        AdviserMembership.role,
                    )
                ).tuples()
            )

    before = memberships()
    path = "/console" + template.replace("{adviser_id:str}", str(target))
    for username, expected in (("wyn", 404), ("pat", 403)):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
            base_url=BASE,
        ) as c:
            csrf = await sign_in(c, username)
            for organisation in ("lio900", "lio901", "", "no-such-org"):
                if (username, organisation, name) == (
                    "wyn",
                    "lio901",
                    "console_add_adviser",
                ):
                    continue  # into wyn's own organisation is allowed (test_team)
                fields = {
                    "csrf_token": csrf,
                    "organisation": organisation,
                    "role": "admin",
                    "username": "tess",  # an existing account, into lio900
                    "name": "Tess Target",
                }
                response = await c.request(
                    method,
                    path,
                    headers={"Origin": BASE, "Accept": "text/html"},
                    data=fields if method == "POST" else None,
                )
                _check_headers(response)
                if method == "GET":
                    if username == "pat":
                        assert response.status_code == 403
                    else:  # the list: lio901's advisers only
                        assert response.status_code == 200
                        assert "Wyn Admin" in response.text
                        assert "Tess Target" not in response.text
                    break
                assert response.status_code == expected, (
                    name,
                    username,
                    organisation,
                    response.status_code,
                )
    assert memberships() == before
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 0
