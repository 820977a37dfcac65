"""'Is this wrong?' in a real browser (issue 14): a person reports the entry the
assistant named, and the report reaches the operators' queue with the area."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect
from sqlalchemy import select

from bot.db.models import DirectoryReport
from bot.db.session import session_scope
from tests.e2e.conftest import ADVISER_PASSWORD, REPLY_TIMEOUT_MS, E2EStack, send

pytestmark = [pytest.mark.e2e]


def test_is_this_wrong_reaches_the_operators_queue_with_the_area(
    stack: E2EStack, page: Page
) -> None:
    page.goto(stack.gateway_url + "/")
    page.locator(".fd-launcher").click()
    send(page, "How can we find a grant for our community garden?")
    bot = page.locator(".fd-msg--bot")
    expect(bot.last).to_contain_text(
        "Where is your group based", timeout=REPLY_TIMEOUT_MS
    )
    send(page, "Doncaster")
    answer = page.locator(".fd-msg--bot", has_text="Doncaster CVS")
    # the closed body is named as closed, with what the data has instead
    expect(answer).to_contain_text("closed in March 2017", timeout=REPLY_TIMEOUT_MS)
    expect(answer).to_contain_text("What we have on record instead")
    expect(answer).to_contain_text("last checked November 2026")
    expect(answer).to_contain_text("less sure this listing is current")
    report = answer.get_by_role("button", name="Is this wrong?")
    # the button stays with its message after the later replies arrive
    expect(page.locator(".fd-log")).to_contain_text(
        "talk to a human adviser", timeout=REPLY_TIMEOUT_MS
    )
    expect(report).to_be_visible()
    report.click()
    expect(report).to_be_disabled()
    expect(bot.last).to_contain_text(
        "passed this to the people who keep the directory", timeout=REPLY_TIMEOUT_MS
    )
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    cid = page.evaluate(
        "JSON.parse(localStorage.getItem('frontdoor:' + location.origin))"
        ".conversationId"
    )
    with session_scope(stack.database_url) as s:
        rows = list(
            s.scalars(
                select(DirectoryReport).where(DirectoryReport.conversation_id == cid)
            )
        )
        assert rows and {r.lad_code for r in rows} == {"E08000017"}
        assert {r.organisation_id for r in rows} >= {"lio234"}

    # An operator (a national admin) sees it in the directory's report queue.
    username = "dir-operator"
    stack.create_adviser(username, display_name="Dee Operator")
    page.goto(stack.console_url + "/")
    page.wait_for_url("**/console/login**")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(ADVISER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(stack.console_url + "/")
    page.get_by_role("link", name="Directory").click()
    page.get_by_role("link", name="Reports from people").click()
    row = page.locator("tr", has_text="Voluntary Action Doncaster")
    expect(row).to_contain_text("Doncaster (E08000017)")
    expect(row).to_contain_text("web")
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    row.get_by_role("button", name="Dealt with").click()
    expect(page.locator(".notice")).to_contain_text("dealt with")
