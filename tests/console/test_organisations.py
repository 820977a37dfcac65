"""Access by organisation: routing, the scoped queue and events, the audit log."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from typer.testing import CliRunner

from bot.cli import app as cli_app
from bot.console.events import _ScopeFilter
from bot.db.models import (
    AdviserRole,
    AuditEntry,
    Conversation,
    LadCodeChange,
    LocalAuthority,
    Nation,
    Organisation,
)
from bot.db.repositories import access
from bot.db.session import session_scope
from bot.gateway.events import status_event
from tests.console.conftest import BASE, make_adviser, make_conversation, sign_in

pytestmark = pytest.mark.integration


@pytest.fixture
def areas(directory: dict[str, str], db_url: str) -> dict[str, str]:
    """The console's tiny directory plus an English district no LIO covers and the
    national fallback bodies (ids and names as in the real directory: lio001 NCVO,
    lio002 NAVCA, lio004 WCVA; no contact details)."""
    with session_scope(db_url) as s:
        s.add(
            LocalAuthority(
                code="E07000003",
                name="Westdale",
                la_type="Non-metropolitan district",
                nation=Nation.ENGLAND,
            )
        )
        for oid, name, nation in (
            ("lio001", "NCVO", Nation.ENGLAND),
            ("lio002", "NAVCA", Nation.ENGLAND),
            ("lio004", "WCVA", Nation.WALES),
        ):
            s.add(
                Organisation(
                    id=oid,
                    name=name,
                    kind="national body",
                    is_national=True,
                    nation=nation,
                    confidence="high",
                )
            )
    return {"covered": "E07000001", "uncovered": "E07000003", "welsh": "W06000001"}


def _conversation(db_url: str, lad: str | None, org: str | None = None) -> str:
    return make_conversation(
        db_url, lad_code=lad, organisation_id=org, organisation_names=[]
    )


def test_routing_by_council_area_with_the_national_body_as_fallback(
    db_url: str, areas: dict[str, str]
) -> None:
    covered = _conversation(db_url, areas["covered"], "lio900")
    uncovered = _conversation(db_url, areas["uncovered"])
    welsh = _conversation(db_url, areas["welsh"])
    nowhere = _conversation(db_url, None)
    ids = {
        "lio900": make_adviser(db_url, "a900", organisation_id="lio900"),
        "lio901": make_adviser(db_url, "a901", organisation_id="lio901"),
        "lio002": make_adviser(db_url, "a002", organisation_id="lio002"),
        "lio004": make_adviser(db_url, "a004", organisation_id="lio004"),
        "national": make_adviser(db_url),  # no organisation: every area
    }
    expected = {
        "lio900": {covered},
        "lio901": {welsh},
        "lio002": {uncovered, nowhere},
        "lio004": {nowhere},
        "national": {covered, uncovered, welsh, nowhere},
    }
    with session_scope(db_url) as s:
        routed = {
            cid: access.routed_organisations(s, s.get(Conversation, cid))  # type: ignore[arg-type]
            for cid in (covered, uncovered, welsh, nowhere)
        }
        assert routed[covered] == ["lio900"]
        assert routed[uncovered] == ["lio001", "lio002"]
        assert routed[welsh] == ["lio901"]
        assert set(routed[nowhere]) >= {"lio001", "lio002", "lio004"}
        for who, adviser_id in ids.items():
            scope = access.scope_for(s, adviser_id)
            seen = set(s.scalars(select(Conversation.id).where(access.visible(scope))))
            assert seen == expected[who], who
            for cid in routed:
                assert access.can_see(s, scope, cid) is (cid in expected[who])
                # the SQL filter and the per-conversation rule agree
                if who != "national":
                    assert (cid in seen) is (who in routed[cid]), (who, cid)
        # no membership at all: nothing (fails closed)
        assert not access.can_see(s, access.Scope(adviser_id=999), covered)
    # a conversation stored with a superseded council code is routed as its
    # successor's (issue 14's code history)
    with session_scope(db_url) as s:
        s.add(
            LadCodeChange(
                old_code="E07000099",
                old_name="Old Northdale",
                current_code="E07000001",
                current_name="Northdale",
            )
        )
    renamed = _conversation(db_url, "E07000099")
    with session_scope(db_url) as s:
        assert access.can_see(s, access.scope_for(s, ids["lio900"]), renamed)
        assert not access.can_see(s, access.scope_for(s, ids["lio002"]), renamed)
        conversation = s.get(Conversation, renamed)
        assert conversation is not None
        assert access.routed_organisations(s, conversation) == ["lio900"]


async def _client(app: Starlette, username: str) -> httpx.AsyncClient:
    c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
    await sign_in(c, username)
    return c


@pytest.fixture
async def clients(
    app: Starlette, db_url: str, areas: dict[str, str]
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    make_adviser(db_url, "ann", name="Ann Adviser", organisation_id="lio900")
    make_adviser(db_url, "wyn", name="Wyn Other", organisation_id="lio901")
    make_adviser(db_url, "nia", name="Nia National")
    with session_scope(db_url) as s:
        boss = make_adviser(db_url, "bea", name="Bea Admin", organisation_id="lio900")
        access.add_membership(
            s, adviser_id=boss, organisation_id="lio900", role=AdviserRole.ADMIN
        )
    made = {u: await _client(app, u) for u in ("ann", "wyn", "nia", "bea")}
    yield made
    for c in made.values():
        await c.aclose()


async def test_queue_shows_each_adviser_only_their_organisations(
    db_url: str, areas: dict[str, str], clients: dict[str, httpx.AsyncClient]
) -> None:
    northdale = _conversation(db_url, areas["covered"], "lio900")
    anglesey = _conversation(db_url, areas["welsh"])
    for who, sees, not_seen in (
        ("ann", {northdale}, {anglesey}),
        ("wyn", {anglesey}, {northdale}),
        ("nia", {northdale, anglesey}, set()),
    ):
        for path in ("/console/", "/console/queue/items"):
            page = (await clients[who].get(path)).text
            assert all(c in page for c in sees), (who, path)
            assert not any(c in page for c in not_seen), (who, path)
        opened = await clients[who].get(f"/console/conversations/{anglesey}")
        assert opened.status_code == (200 if anglesey in sees else 404)
    # the organisation filter offers only the adviser's own LIOs
    wyn_queue = (await clients["wyn"].get("/console/")).text
    assert "Testshire Cymru CVC" in wyn_queue and "Testshire CVS" not in wyn_queue


async def test_queue_events_pass_on_only_the_advisers_conversations(
    db_url: str, areas: dict[str, str]
) -> None:
    northdale = _conversation(db_url, areas["covered"], "lio900")
    anglesey = _conversation(db_url, areas["welsh"])
    wyn = make_adviser(db_url, "wyn", organisation_id="lio901")
    with session_scope(db_url) as s:
        scope = access.scope_for(s, wyn)
    scoped = _ScopeFilter(scope)
    assert await scoped.allows(status_event(anglesey, "queued"))
    assert not await scoped.allows(status_event(northdale, "queued"))
    assert not await scoped.allows({"type": "status"})
    assert not await _ScopeFilter(None).allows(status_event(anglesey, "queued"))


async def test_opening_a_transcript_is_audited_and_admins_read_the_log(
    db_url: str, areas: dict[str, str], clients: dict[str, httpx.AsyncClient]
) -> None:
    northdale = _conversation(db_url, areas["covered"], "lio900")
    assert (
        await clients["ann"].get(f"/console/conversations/{northdale}")
    ).status_code == 200
    # the live refreshes are not openings
    await clients["ann"].get(f"/console/conversations/{northdale}/messages")
    with session_scope(db_url) as s:
        [entry] = s.scalars(select(AuditEntry)).all()
        assert (entry.action, entry.actor, entry.conversation_id) == (
            "transcript_opened",
            "ann",
            northdale,
        )
    # a plain adviser has no audit log; the admin of lio900 and a national role
    # read the entry; the admin of another organisation does not
    assert (await clients["ann"].get("/console/audit")).status_code == 403
    assert "Audit log" not in (await clients["ann"].get("/console/")).text
    for who in ("bea", "nia"):
        page = await clients[who].get("/console/audit")
        assert page.status_code == 200, who
        assert northdale in page.text and "Opened the transcript" in page.text
    with session_scope(db_url) as s:
        other = make_adviser(db_url, "olu", organisation_id="lio901")
        access.add_membership(
            s, adviser_id=other, organisation_id="lio901", role=AdviserRole.ADMIN
        )
        scope = access.scope_for(s, other)
        from bot.privacy import audit

        assert audit.entries_for(s, scope) == []


def test_cli_adds_advisers_with_organisations_and_roles(
    db_url: str, areas: dict[str, str]
) -> None:
    runner = CliRunner()
    pw = "a long enough passphrase\n"
    ok = runner.invoke(
        cli_app,
        [
            "advisers",
            "add",
            "bea",
            "--name",
            "Bea",
            "--organisation",
            "lio900",
            "--organisation",
            "lio901",
            "--role",
            "admin",
            "--password-stdin",
        ],
        input=pw,
    )
    assert ok.exit_code == 0, ok.output
    assert "admin of lio900, lio901" in ok.output
    plain = runner.invoke(
        cli_app,
        ["advisers", "add", "nia", "--name", "Nia", "--password-stdin"],
        input=pw,
    )
    assert plain.exit_code == 0 and "every area" in plain.output
    bad_role = runner.invoke(
        cli_app,
        ["advisers", "add", "x", "--name", "X", "--role", "owner", "--password-stdin"],
        input=pw,
    )
    assert bad_role.exit_code == 2 and "--role must be one of" in bad_role.output
    needs_org = runner.invoke(
        cli_app,
        ["advisers", "add", "x", "--name", "X", "--role", "admin", "--password-stdin"],
        input=pw,
    )
    assert needs_org.exit_code == 2 and "needs --organisation" in needs_org.output
    granted = runner.invoke(
        cli_app, ["advisers", "grant", "nia", "--organisation", "lio002"]
    )
    assert granted.exit_code == 0, granted.output
    listed = runner.invoke(cli_app, ["advisers", "list"])
    assert "lio900 (admin)" in listed.output and "lio901 (admin)" in listed.output
    assert "every area (national)" in listed.output
    with session_scope(db_url) as s:
        from bot.db.repositories import advisers as repo

        bea = repo.find_adviser(s, username="bea")
        nia = repo.find_adviser(s, username="nia")
        assert bea is not None and nia is not None
        scope = access.scope_for(s, bea)
        assert scope.admin_of == {"lio900", "lio901"} and not scope.everything
        assert access.scope_for(s, nia).everything
    # every change is in the audit log, once per organisation, for its admins
    gone = runner.invoke(cli_app, ["advisers", "deactivate", "bea"])
    assert gone.exit_code == 0, gone.output
    with session_scope(db_url) as s:
        from bot.db.models import AuditEntry

        entries = [
            (e.action, e.organisation_id, e.detail, e.actor.startswith("cli:"))
            for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
    assert entries == [
        ("adviser_added", "lio900", "bea as admin (command line)", True),
        ("adviser_added", "lio901", "bea as admin (command line)", True),
        ("adviser_added", None, "nia as national (command line)", True),
        ("role_changed", "lio002", "nia now adviser (command line)", True),
        ("adviser_deactivated", "lio900", "bea (command line)", True),
        ("adviser_deactivated", "lio901", "bea (command line)", True),
    ]
