"""The console's Reports page, printable report and downloads: scoped, and
suppressed wherever the figures leave the organisation's own advisers."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from bot.console import auth
from bot.console.routes import console_routes
from bot.db.models import AdviserRole
from bot.db.repositories import advisers as adviser_repo
from bot.db.session import session_scope
from tests.console.conftest import BASE, PASSWORD, sign_in
from tests.reports.conftest import Script

pytestmark = pytest.mark.integration

NOVEMBER = "from=2026-11-01&to=2026-11-30"
ADVISERS = {  # username: (organisation, role)
    "lee": ("lio900", None),
    "wyn": ("lio901", None),
    "nia": ("lio990", AdviserRole.NATIONAL),
    "team": (None, None),  # no organisation: a national role (issue 13)
}


@pytest.fixture(scope="module")
def console(scripted: Script) -> Script:
    """Advisers of a local organisation, a Welsh one, a national body, the team."""
    with session_scope(scripted.url) as s:
        for username, (org, role) in ADVISERS.items():
            adviser_repo.create_adviser(
                s,
                username=username,
                display_name=username.capitalize(),
                password_hash=auth.hash_password(PASSWORD),
                organisation_id=org,
                role=role,
            )
    return scripted


@pytest.fixture
async def as_adviser(console: Script) -> AsyncIterator[object]:
    app = Starlette(routes=[Mount("/console", routes=console_routes())])
    clients: list[httpx.AsyncClient] = []

    async def signed_in(username: str) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE
        )
        clients.append(client)
        await sign_in(client, username)
        return client

    yield signed_in
    for client in clients:
        await client.aclose()


def figure(html: str, name: str) -> str:
    marker = f'data-figure="{name}">'
    start = html.index(marker) + len(marker)
    return html[start : html.index("<", start)].strip()


async def test_a_local_organisation_sees_its_own_areas_exactly(as_adviser) -> None:
    lee = await as_adviser("lee")
    page = await lee.get(f"/console/reports?{NOVEMBER}")
    assert page.status_code == 200
    assert figure(page.text, "enquiries") == "4"  # exact on the page
    assert 'name="organisation"' not in page.text  # no other organisation
    # asking for another organisation's areas still shows its own
    other = await lee.get(f"/console/reports?{NOVEMBER}&organisation=lio901")
    assert figure(other.text, "enquiries") == "4"
    assert "Northdale (E07000001)" in page.text and "Anglesey" not in page.text
    assert "<svg" in page.text and 'aria-current="page">Reports' in page.text
    assert "least sure about</h2>" not in page.text  # the team's list only


async def test_what_is_shared_shows_counts_under_five_as_lt5(as_adviser) -> None:
    lee = await as_adviser("lee")
    printable = await lee.get(f"/console/reports/print?{NOVEMBER}")
    assert printable.status_code == 200
    assert printable.headers["content-security-policy"].startswith("default-src")
    assert figure(printable.text, "enquiries") == "&lt;5"
    assert "Method" in printable.text and "<style" not in printable.text
    css = await lee.get("/console/reports/report.css")
    assert css.headers["content-type"].startswith("text/css")
    data = (await lee.get(f"/console/reports/report.json?{NOVEMBER}")).json()
    assert data["enquiries"] == "<5" and data["scope"]["organisation"] == "lio900"
    download = await lee.get(f"/console/reports/report.csv?{NOVEMBER}")
    assert "attachment" in download.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(download.text)))
    assert ["total", "enquiries", "<5"] in rows


async def test_national_body_and_team_see_all_and_compare(as_adviser) -> None:
    nia = await as_adviser("nia")
    page = await nia.get(f"/console/reports?{NOVEMBER}")
    assert figure(page.text, "enquiries") == "7"
    assert "By organisation" in page.text and "Testshire Cymru CVC" in page.text
    team = await as_adviser("team")
    wales = await team.get(f"/console/reports?{NOVEMBER}&organisation=lio901")
    assert figure(wales.text, "enquiries") == "2"  # c4, and c2 referred to it
    everything = json.loads(
        (await team.get(f"/console/reports/report.json?{NOVEMBER}")).text
    )
    assert everything["enquiries"] == 7 and everything["handed_over"] == 5
    # the team sees the wording of the questions the assistant was unsure of
    assert "least sure about</h2>" in (
        await team.get(f"/console/reports?{NOVEMBER}")
    ).text


async def test_bad_input_is_answered_plainly(as_adviser) -> None:
    team = await as_adviser("team")
    backwards = await team.get("/console/reports?from=2026-11-30&to=2026-11-01")
    assert backwards.status_code == 200 and "wrong way round" in backwards.text
    assert figure(backwards.text, "enquiries") == "7"
    unknown = await team.get(f"/console/reports?{NOVEMBER}&organisation=nope")
    assert "no such organisation" in unknown.text
    junk = await team.get("/console/reports?from=yesterday&to=%00")
    assert junk.status_code == 200


async def test_reports_need_a_signed_in_adviser(console: Script) -> None:
    app = Starlette(routes=[Mount("/console", routes=console_routes())])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE
    ) as anonymous:
        for path in ("/reports", "/reports/print", "/reports/report.csv"):
            response = await anonymous.get(f"/console{path}")
            assert response.status_code in (302, 303, 401, 403)
