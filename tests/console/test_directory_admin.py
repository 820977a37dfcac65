"""The operators' directory pages (issue 14): who may use them, edits and undo,
additions, closures, coverage and the queue of "Is this wrong?" reports."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from bot.console import auth
from bot.db.models import (
    AdviserRole,
    DirectoryReport,
    Organisation,
    OrganisationEdit,
)
from bot.db.repositories import advisers
from bot.db.session import session_scope
from bot.directory.edits import snapshot
from tests.console.conftest import BASE, PASSWORD, Adviser, sign_in

pytestmark = pytest.mark.integration


async def _signed_in(
    app: Starlette, db_url: str, username: str, role: AdviserRole, org: str | None
) -> Adviser:
    """Sign in a new adviser with one role (national when ``org`` is None)."""
    with session_scope(db_url) as s:
        adviser_id = advisers.create_adviser(
            s,
            username=username,
            display_name=username.title(),
            password_hash=auth.hash_password(PASSWORD),
            organisation_id=org,
            role=role if org else None,
        ).id
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
    return Adviser(adviser_id, client, await sign_in(client, username))


@pytest.fixture
async def national(
    app: Starlette, db_url: str, directory: dict[str, str]
) -> AsyncIterator[Adviser]:
    """A national admin: may change every organisation and add new ones."""
    a = await _signed_in(app, db_url, "nadia", AdviserRole.NATIONAL, None)
    yield a
    await a.client.aclose()


@pytest.fixture
async def lio_admin(
    app: Starlette, db_url: str, directory: dict[str, str]
) -> AsyncIterator[Adviser]:
    """An admin of Testshire CVS (lio900) only."""
    a = await _signed_in(app, db_url, "olly", AdviserRole.ADMIN, "lio900")
    yield a
    await a.client.aclose()


async def test_plain_advisers_cannot_use_the_directory_pages(
    app: Starlette, db_url: str, directory: dict[str, str]
) -> None:
    plain = await _signed_in(app, db_url, "pat", AdviserRole.ADVISER, "lio900")
    try:
        for path in ("/console/directory", "/console/directory/organisations/lio900"):
            assert (await plain.client.get(path)).status_code == 403
        r = await plain.post(
            "/console/directory/organisations/lio900/edit", {"name": "X"}
        )
        assert r.status_code == 403
        queue = await plain.client.get("/console/")
        assert "/console/directory" not in queue.text  # no link in the menu
    finally:
        await plain.client.aclose()
    with session_scope(db_url) as s:
        assert s.scalars(select(OrganisationEdit)).all() == []


async def test_search_flags_entries_not_verified_for_a_year(national: Adviser) -> None:
    page = await national.client.get("/console/directory", params={"q": "testshire"})
    assert page.status_code == 200
    assert "Testshire CVS" in page.text and "Testshire Cymru CVC" in page.text
    assert "not verified for 12 months" in page.text  # the fixture rows were never
    by_area = await national.client.get("/console/directory", params={"q": "Southdale"})
    assert "Testshire CVS" in by_area.text and "Cymru" not in by_area.text


async def test_edit_then_undo_from_the_page(national: Adviser, db_url: str) -> None:
    r = await national.post(
        "/console/directory/organisations/lio900/edit",
        {
            "name": "Testshire CVS",
            "kind": "CVS",
            "website": "https://testshire-cvs.example.org",
            "phone": "01632 960002",
            "email": "hello@testshire-cvs.example.org",
            "lad_codes": "E07000001",
            "confidence": "medium",
            "last_verified": "2026-11-30",
            "active": "yes",
        },
    )
    assert r.status_code == 303 and r.headers["location"].endswith("?done=saved")
    page = await national.client.get(r.headers["location"])
    assert "Saved. The change is recorded" in page.text
    assert "nadia" in page.text and "Phone: 01632 960002" in page.text
    with session_scope(db_url) as s:
        snap = snapshot(s, "lio900")
        assert snap["phone"] == "01632 960002" and snap["lad_codes"] == ["E07000001"]
        assert snap["confidence"] == "medium" and snap["last_verified"] == "2026-11-30"
        edit = s.scalars(select(OrganisationEdit)).one()
        assert edit.actor == "nadia"
        assert edit.before["lad_codes"] == ["E07000001", "E07000002"]
        edit_id = edit.id
    r = await national.post(f"/console/directory/edits/{edit_id}/revert")
    assert r.status_code == 303 and r.headers["location"].endswith("?done=undone")
    with session_scope(db_url) as s:
        snap = snapshot(s, "lio900")
        assert snap["phone"] is None and snap["lad_codes"] == ["E07000001", "E07000002"]


async def test_a_bad_value_is_shown_and_nothing_is_saved(
    national: Adviser, db_url: str
) -> None:
    r = await national.post(
        "/console/directory/organisations/lio900/edit",
        {"website": "testshire-cvs.example.org"},
    )
    assert r.status_code == 303 and "error=" in r.headers["location"]
    page = await national.client.get(r.headers["location"])
    assert "Not saved: website" in page.text
    with session_scope(db_url) as s:
        assert s.scalars(select(OrganisationEdit)).all() == []


async def test_add_then_close_with_a_successor(national: Adviser, db_url: str) -> None:
    r = await national.post(
        "/console/directory/new",
        {
            "name": "Testshire Volunteer Centre",
            "kind": "volunteer centre",
            "nation": "England",
            "website": "",
            "lad_codes": "E07000001 E07000002",
            "confidence": "low",
            "last_verified": "2026-11-30",
        },
    )
    assert r.status_code == 303 and "?done=added" in r.headers["location"]
    new_id = r.headers["location"].split("/organisations/")[1].split("?")[0]
    r = await national.post(
        "/console/directory/organisations/lio900/close",
        {"successor_id": new_id, "closed_note": "in 2026"},
    )
    assert r.status_code == 303
    with session_scope(db_url) as s:
        old = s.get(Organisation, "lio900")
        assert old is not None and not old.active and old.successor_id == new_id
        assert old.closed_note == "in 2026"
        actions = [e.action for e in s.scalars(select(OrganisationEdit))]
        assert sorted(actions) == ["add", "close"]
    page = await national.client.get("/console/directory/organisations/lio900")
    assert "closed" in page.text and "Testshire Volunteer Centre" in page.text


async def test_an_organisations_admin_edits_only_their_own(
    lio_admin: Adviser, db_url: str
) -> None:
    own = await lio_admin.post(
        "/console/directory/organisations/lio900/edit", {"confidence": "medium"}
    )
    assert own.status_code == 303
    other = await lio_admin.post(
        "/console/directory/organisations/lio901/edit", {"confidence": "low"}
    )
    assert other.status_code == 403
    assert (await lio_admin.client.get("/console/directory/new")).status_code == 403
    page = await lio_admin.client.get("/console/directory/organisations/lio901")
    assert page.status_code == 200 and "Save changes" not in page.text


async def test_coverage_and_reports_pages(national: Adviser, db_url: str) -> None:
    with session_scope(db_url) as s:
        s.add(
            DirectoryReport(
                organisation_id="lio900",
                conversation_id="conv-x",
                lad_code="E07000002",
                place_name="Southdale village",
                channel="web",
            )
        )
    page = await national.client.get("/console/directory/reports")
    assert "Testshire CVS" in page.text and "Southdale (" in page.text
    assert "Southdale village" in page.text
    with session_scope(db_url) as s:
        report_id = s.scalars(select(DirectoryReport.id)).one()
    r = await national.post(f"/console/directory/reports/{report_id}/resolve")
    assert r.status_code == 303
    assert "No open reports" in (await national.client.get(r.headers["location"])).text
    with session_scope(db_url) as s:
        row = s.get(DirectoryReport, report_id)
        assert (
            row is not None and row.status == "resolved" and row.resolved_by == "nadia"
        )
    coverage = await national.client.get("/console/directory/coverage")
    assert coverage.status_code == 200
    assert "no local organisation on record" in coverage.text


async def test_the_queue_filter_reads_an_old_council_code_as_its_successor(
    national: Adviser, db_url: str
) -> None:
    from bot.db.models import LadCodeChange
    from tests.console.conftest import make_conversation

    with session_scope(db_url) as s:
        s.add(
            LadCodeChange(
                old_code="E07000099",
                old_name="Old Southdale",
                current_code="E07000002",
                current_name="Southdale",
            )
        )
    south = make_conversation(db_url, lad_code="E07000002", organisation_id=None)
    north = make_conversation(db_url, lad_code="E07000001")
    page = await national.client.get("/console/", params={"area": "E07000099"})
    assert page.status_code == 200
    assert south in page.text and north not in page.text
