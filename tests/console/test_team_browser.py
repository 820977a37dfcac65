"""An admin adds an adviser in a real browser (keyboard only, axe-clean); the new
adviser signs in on the initial password, chooses their own and sees only their
organisation's conversations (issue 13)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright
from starlette.applications import Starlette

from bot.db.models import AdviserRole
from bot.db.repositories import access
from bot.db.session import session_scope
from tests.console.conftest import PASSWORD, make_adviser, make_conversation
from tests.console.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.servers import serve

pytestmark = [pytest.mark.e2e]


@pytest.fixture
async def server(app: Starlette) -> AsyncIterator[str]:
    async with serve(app) as url:
        yield url


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


async def _axe_clean(page: Page, name: str) -> None:
    results = await Axe().run(page)
    assert results.violations_count == 0, f"{name}:\n{results.generate_report()}"


async def _sign_in(page: Page, server: str, username: str, password: str) -> None:
    await page.goto(f"{server}/console/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def _tab_to(page: Page, label: str, limit: int = 60) -> None:
    """Press Tab until the focused element is the one labelled ``label``."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        found = await page.evaluate(
            "(() => { const e = document.activeElement;"
            " return (e.labels && e.labels[0] ? e.labels[0].textContent : '')"
            " + '|' + (e.textContent || ''); })()"
        )
        labelled, _, text = found.partition("|")
        if labelled.strip() == label or text.strip() == label:
            return
    pytest.fail(f"{label!r} is not reachable by Tab")


async def test_admin_adds_an_adviser_who_signs_in_and_sees_only_their_organisation(
    server: str, browser: Browser, db_url: str, directory: dict[str, str]
) -> None:
    admin = make_adviser(db_url, "ada", name="Ada Admin", organisation_id="lio900")
    with session_scope(db_url) as s:
        access.add_membership(
            s, adviser_id=admin, organisation_id="lio900", role=AdviserRole.ADMIN
        )
    make_adviser(db_url, "wyn", name="Wyn Other", organisation_id="lio901")
    theirs = make_conversation(db_url)  # Northdale, covered by lio900
    other = make_conversation(
        db_url, lad_code="W06000001", organisation_id="lio901", place_name="Anglesey"
    )

    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await _sign_in(page, server, "ada", PASSWORD)
    await page.wait_for_url(f"{server}/console/")
    await page.get_by_role("link", name="Advisers").click()
    await page.wait_for_url(f"{server}/console/advisers")
    await _axe_clean(page, "advisers")
    assert await page.get_by_role("cell", name="Wyn Other").count() == 0

    # the add form, by keyboard only
    await _tab_to(page, "Username")
    await page.keyboard.type("nia")
    await page.keyboard.press("Tab")
    await page.keyboard.type("Nia Newydd")
    await _tab_to(page, "Add the adviser")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{server}/console/advisers")
    await page.get_by_role("heading", name="Adviser added").wait_for()
    await _axe_clean(page, "adviser added")
    password = (await page.locator("#initial-password").text_content() or "").strip()
    assert len(password) >= 12
    await page.get_by_role("link", name="Back to the advisers").click()
    row = page.get_by_role("row", name="Nia Newydd")
    await row.wait_for()
    assert "Testshire CVS" in (await row.text_content() or "")
    assert "never" in (await row.text_content() or "")
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url("**/console/login?notice=signed_out")

    # the new adviser: the initial password leads to choosing their own
    await _sign_in(page, server, "nia", password)
    await page.wait_for_url(f"{server}/console/password")
    await _axe_clean(page, "password")
    mine = "our village hall has a new kettle"
    await page.get_by_label("Current password").fill(password)
    await page.get_by_label("New password", exact=True).fill(mine)
    await page.get_by_label("New password again").fill(mine)
    await page.get_by_role("button", name="Save my password").click()
    await page.wait_for_url(f"{server}/console/?notice=password_changed")
    await _axe_clean(page, "queue of the new adviser")
    queue = await page.locator("#queue-live").text_content() or ""
    assert "Northdale" in queue and "Anglesey" not in queue
    assert await page.locator(f'a[href$="/conversations/{theirs}"]').count() >= 1
    assert await page.locator(f'a[href$="/conversations/{other}"]').count() == 0
    response = await page.goto(f"{server}/console/conversations/{other}")
    assert response is not None and response.status == 404
    # not an admin: no Advisers page
    assert await page.get_by_role("link", name="Advisers").count() == 0
    response = await page.goto(f"{server}/console/advisers")
    assert response is not None and response.status == 403
    await context.close()

    # the admin sees the sign-in, and the audit log has the addition
    context = await browser.new_context()
    page = await context.new_page()
    await _sign_in(page, server, "ada", PASSWORD)
    await page.wait_for_url(f"{server}/console/")
    await page.goto(f"{server}/console/advisers")
    row_text = await page.get_by_role("row", name="Nia Newydd").text_content() or ""
    assert "never" not in row_text and "not chosen a password" not in row_text
    await page.goto(f"{server}/console/audit")
    await _axe_clean(page, "audit")
    log = await page.locator("main").text_content() or ""
    assert "Added an adviser" in log and "nia as adviser (new account)" in log
    await context.close()
