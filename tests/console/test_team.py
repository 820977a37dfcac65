"""Admins manage their organisation's advisers in the console (issue 13): the
list, adding (a new account with a one-time password, or an existing one), role
changes, removal, the audit log, and the first sign-in on an initial password."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from bot.db.models import Adviser, AdviserMembership, AdviserRole, AuditEntry
from bot.db.repositories import access
from bot.db.session import session_scope
from tests.console.conftest import (
    BASE,
    csrf_from,
    make_adviser,
    make_conversation,
    sign_in,
)

pytestmark = pytest.mark.integration

INITIAL = re.compile(r'<code id="initial-password">([^<]+)</code>')


def _admin(db_url: str, username: str, organisation_id: str) -> int:
    adviser_id = make_adviser(
        db_url, username, name=username.title(), organisation_id=organisation_id
    )
    with session_scope(db_url) as s:
        access.add_membership(
            s,
            adviser_id=adviser_id,
            organisation_id=organisation_id,
            role=AdviserRole.ADMIN,
        )
    return adviser_id


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


async def _post(
    c: httpx.AsyncClient, csrf: str, path: str, **fields: str
) -> httpx.Response:
    return await c.post(
        "/console" + path,
        data={"csrf_token": csrf, **fields},
        headers={"Origin": BASE},
    )


def _roles(db_url: str, adviser_id: int) -> dict[str | None, AdviserRole]:
    with session_scope(db_url) as s:
        return {
            m.organisation_id: m.role
            for m in access.memberships_of(s, adviser_id=adviser_id)
        }


def _audit(db_url: str) -> list[tuple[str, str, str | None, str | None]]:
    with session_scope(db_url) as s:
        return [
            (e.action, e.actor, e.organisation_id, e.detail)
            for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]


async def test_admin_adds_an_adviser_who_must_choose_a_password_then_sees_only_theirs(
    app: Starlette, db_url: str, directory: dict[str, str]
) -> None:
    _admin(db_url, "ada", "lio900")
    theirs = make_conversation(db_url)  # Northdale: lio900
    other = make_conversation(
        db_url, lad_code="W06000001", organisation_id="lio901", place_name="Anglesey"
    )
    async with _client(app) as c:
        csrf = await sign_in(c, "ada")
        page = await c.get("/console/advisers")
        assert page.status_code == 200
        assert "Ada" in page.text and "Testshire CVS" in page.text
        # lio901 is not one of ada's organisations: not offered
        assert 'value="lio901"' not in page.text
        added = await _post(
            c,
            csrf,
            "/advisers",
            username="newbie",
            name="Nia Newbie",
            organisation="lio900",
            role="adviser",
            languages="cy",
        )
        assert added.status_code == 201, added.text
        found = INITIAL.search(added.text)
        assert found is not None
        password = found.group(1)
        assert len(password) >= 12
        listed = await c.get("/console/advisers")
        assert "Nia Newbie" in listed.text
        assert "has not chosen a password yet" in listed.text
        assert password not in listed.text  # shown once
    with session_scope(db_url) as s:
        newbie = s.scalar(select(Adviser).where(Adviser.username == "newbie"))
        assert newbie is not None and newbie.must_change_password
        assert newbie.languages == "cy"
        assert password not in newbie.password_hash
        newbie_id = newbie.id
    assert _roles(db_url, newbie_id) == {"lio900": AdviserRole.ADVISER}
    assert _audit(db_url) == [
        ("adviser_added", "ada", "lio900", "newbie as adviser (new account)")
    ]

    async with _client(app) as c:
        login = await c.get("/console/login")
        signed = await c.post(
            "/console/login",
            data={
                "username": "newbie",
                "password": password,
                "csrf_token": csrf_from(login.text),
            },
            headers={"Origin": BASE},
        )
        assert signed.status_code == 303
        # nothing but the password page until they choose their own
        queue = await c.get("/console/", headers={"Accept": "text/html"})
        assert queue.status_code == 303
        assert queue.headers["location"] == "/console/password"
        opened = await c.get(f"/console/conversations/{theirs}")
        assert opened.status_code == 403
        form = await c.get("/console/password")
        assert form.status_code == 200
        csrf = csrf_from(form.text)
        same = await _post(
            c,
            csrf,
            "/password",
            current_password=password,
            new_password=password,
            new_password_again=password,
        )
        assert same.status_code == 400
        mine = "a password of my own choosing"
        short = await _post(
            c,
            csrf,
            "/password",
            current_password=password,
            new_password="short",
            new_password_again="short",
        )
        assert short.status_code == 400
        wrong = await _post(
            c,
            csrf,
            "/password",
            current_password="not the password",
            new_password=mine,
            new_password_again=mine,
        )
        assert wrong.status_code == 400
        done = await _post(
            c,
            csrf,
            "/password",
            current_password=password,
            new_password=mine,
            new_password_again=mine,
        )
        assert done.status_code == 303
        queue = await c.get("/console/")
        assert queue.status_code == 200
        assert theirs in queue.text and other not in queue.text
        assert (await c.get(f"/console/conversations/{other}")).status_code == 404
    with session_scope(db_url) as s:
        newbie = s.get(Adviser, newbie_id)
        assert newbie is not None and not newbie.must_change_password
        assert newbie.last_sign_in_at is not None
    # the initial password no longer works; their own does
    async with _client(app) as c:
        await sign_in(c, "newbie", mine)


async def test_roles_existing_accounts_removal_and_the_audit_log(
    app: Starlette, db_url: str, directory: dict[str, str]
) -> None:
    ada = _admin(db_url, "ada", "lio900")
    wyn = _admin(db_url, "wyn", "lio901")
    sam = make_adviser(db_url, "sam", name="Sam Second", organisation_id="lio901")
    nat = make_adviser(db_url, "nat", name="Nat National")  # national, every area
    async with _client(app) as c:
        csrf = await sign_in(c, "ada")
        # an existing account joins lio900 (its lio901 place stays)
        joined = await _post(
            c, csrf, "/advisers", username="sam", organisation="lio900", role="adviser"
        )
        assert joined.status_code == 303
        assert _roles(db_url, sam) == {
            "lio900": AdviserRole.ADVISER,
            "lio901": AdviserRole.ADVISER,
        }
        again = await _post(
            c, csrf, "/advisers", username="sam", organisation="lio900", role="adviser"
        )
        assert again.status_code == 400
        # adviser -> admin in lio900 only
        raised = await _post(
            c, csrf, f"/advisers/{sam}/role", organisation="lio900", role="admin"
        )
        assert raised.status_code == 303
        assert _roles(db_url, sam)["lio900"] is AdviserRole.ADMIN
        assert _roles(db_url, sam)["lio901"] is AdviserRole.ADVISER
        # national only by a national user
        national = await _post(
            c, csrf, f"/advisers/{sam}/role", organisation="lio900", role="national"
        )
        assert national.status_code == 403
        # not in lio901, whatever the form says
        foreign = await _post(
            c, csrf, f"/advisers/{sam}/role", organisation="lio901", role="admin"
        )
        assert foreign.status_code == 404
        # never their own role (no admin locks themselves out)
        own = await _post(
            c, csrf, f"/advisers/{ada}/role", organisation="lio900", role="adviser"
        )
        assert own.status_code == 400
        # national advisers (no organisation) are not ada's to see or change
        listed = await c.get("/console/advisers")
        assert "Nat National" not in listed.text and "Wyn" not in listed.text
        assert "Sam Second" in listed.text
        gone = await _post(c, csrf, f"/advisers/{sam}/remove", organisation="lio900")
        assert gone.status_code == 303
        assert _roles(db_url, sam) == {"lio901": AdviserRole.ADVISER}
        audit_page = await c.get("/console/audit")
        assert "Changed an adviser&#39;s role" in audit_page.text
        assert "sam: adviser to admin" in audit_page.text
        assert "Removed an adviser" in audit_page.text
    assert _audit(db_url) == [
        ("adviser_added", "ada", "lio900", "sam as adviser"),
        ("role_changed", "ada", "lio900", "sam: adviser to admin"),
        ("adviser_removed", "ada", "lio900", "sam (was admin)"),
    ]
    # lio901's admin reads none of lio900's changes ...
    async with _client(app) as c:
        await sign_in(c, "wyn")
        page = await c.get("/console/audit")
        assert "Removed an adviser" not in page.text
        assert "sam: adviser to admin" not in page.text
    # ... a national adviser reads them, and may give the national role
    async with _client(app) as c:
        csrf = await sign_in(c, "nat")
        assert "sam: adviser to admin" in (await c.get("/console/audit")).text
        made = await _post(
            c, csrf, f"/advisers/{wyn}/role", organisation="lio901", role="national"
        )
        assert made.status_code == 303
    assert _roles(db_url, wyn) == {"lio901": AdviserRole.NATIONAL}
    assert _roles(db_url, nat) == {None: AdviserRole.NATIONAL}
    # lio901's (former) admin cannot touch a national role now held in lio901
    with session_scope(db_url) as s:
        access.add_membership(
            s, adviser_id=sam, organisation_id="lio901", role=AdviserRole.ADMIN
        )
    async with _client(app) as c:
        csrf = await sign_in(c, "sam")
        take = await _post(
            c, csrf, f"/advisers/{wyn}/role", organisation="lio901", role="adviser"
        )
        assert take.status_code == 403
        drop = await _post(c, csrf, f"/advisers/{wyn}/remove", organisation="lio901")
        assert drop.status_code == 403
    with session_scope(db_url) as s:
        rows = s.scalars(
            select(AdviserMembership).where(AdviserMembership.adviser_id == wyn)
        ).all()
        assert [r.role for r in rows] == [AdviserRole.NATIONAL]


async def test_removed_from_their_last_organisation_the_adviser_sees_nothing(
    app: Starlette, db_url: str, directory: dict[str, str]
) -> None:
    _admin(db_url, "ada", "lio900")
    tess = make_adviser(db_url, "tess", name="Tess", organisation_id="lio900")
    conversation_id = make_conversation(db_url)
    async with _client(app) as tess_client, _client(app) as ada_client:
        await sign_in(tess_client, "tess")
        assert conversation_id in (await tess_client.get("/console/")).text
        csrf = await sign_in(ada_client, "ada")
        gone = await _post(
            ada_client, csrf, f"/advisers/{tess}/remove", organisation="lio900"
        )
        assert gone.status_code == 303
        # their session ended with their last organisation
        assert (await tess_client.get("/console/")).status_code == 401
    with session_scope(db_url) as s:
        left = s.get(Adviser, tess)
        assert left is not None and left.organisation_id is None
    async with _client(app) as c:
        await sign_in(c, "tess")
        assert conversation_id not in (await c.get("/console/")).text
        assert (
            await c.get(f"/console/conversations/{conversation_id}")
        ).status_code == 404
