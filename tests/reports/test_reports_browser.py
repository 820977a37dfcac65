"""The Reports page and the printable report in a real browser: no CSP
violations, axe-core clean, the printout as a PDF, and the screenshots in
docs/screenshots (reports-page.png, reports-printable.png)."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect, sync_playwright
from starlette.applications import Starlette
from starlette.routing import Mount

from bot.console import auth
from bot.console.routes import console_routes
from bot.db.models import ConversationFacts, ReferralFact
from bot.db.repositories import advisers as adviser_repo
from bot.db.session import session_scope
from bot.settings import PROJECT_ROOT
from tests.console.conftest import PASSWORD
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.reports.conftest import seeded
from tests.support.servers import serve_in_thread

pytestmark = [pytest.mark.e2e]

SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


SUBTOPICS = {
    "funding": ("grants", "fundraising", "gift_aid"),
    "governance": ("trustees", "constitution", "accounts"),
    "volunteering": ("recruiting", "dbs_checks", "expenses"),
}
AREAS = (  # district, organisation routed to, weight
    ("E07000001", "lio900", 9),
    ("E07000002", "lio900", 6),
    ("W06000001", "lio901", 5),
    ("E07000003", "lio990", 3),
)
REASONS = ("asked_for_person", "accepted_offer", "accepted_offer", "bot_unavailable")


def demo_month(url: str) -> int:
    """October 2026 as the facts keep it after the retention sweep took the
    conversations (for the screenshots); returns how many."""
    rng = random.Random(15)
    rows = []
    for n in range(160):
        day = rng.randint(1, 31)
        hour = rng.choice((9, 10, 11, 12, 13, 14, 15, 16, 19, 21))
        started = datetime(2026, 10, day, hour, rng.randint(0, 59), tzinfo=UTC)
        lad, org, _ = rng.choices(AREAS, weights=[a[2] for a in AREAS])[0]
        topic = rng.choices((*SUBTOPICS, None), weights=(6, 4, 3, 1))[0]
        row = ConversationFacts(
            conversation_id=f"demo-{n:04d}",
            started_at=started,
            channel=rng.choices(("web", "telegram"), weights=(4, 1))[0],
            topic=topic,
            subtopic=rng.choice(SUBTOPICS[topic]) if topic else None,
            lad_code=lad,
            organisation_id=org,
            fallback=lad == "E07000003",
            started_out_of_hours=hour >= 17,
        )
        if rng.random() < 0.45 or topic is None:
            over = started + timedelta(minutes=rng.randint(0, 3))
            row.handed_over_at = over
            row.handover_reason = rng.choice(REASONS)
            row.handover_out_of_hours = hour >= 17
            wait = rng.randint(6 * 60, 15 * 60) if hour >= 17 else rng.randint(2, 90)
            row.first_reply_at = over + timedelta(minutes=wait)
            took = timedelta(minutes=rng.randint(5, 240))
            row.resolved_at = row.first_reply_at + took
            row.outcome = rng.choices(
                ("answered", "referred_to_lio", "no_reply"), weights=(7, 2, 1)
            )[0]
        elif rng.random() < 0.5:
            row.assistant_accepted_at = started + timedelta(minutes=3)
        if row.outcome in ("answered", "referred_to_lio") or row.assistant_accepted_at:
            row.rating_asked_at = row.resolved_at or row.assistant_accepted_at
            if rng.random() < 0.6:
                row.rating = rng.choices((1, 2, 3, 4, 5), weights=(1, 1, 3, 6, 8))[0]
                row.rated_at = row.rating_asked_at
        if rng.random() < 0.2:
            row.min_confidence = round(rng.uniform(0.2, 0.59), 2)
            row.min_confidence_intent = topic or "nlu_fallback"
        rows.append(row)
    referrals = [
        ReferralFact(
            conversation_id=f"demo-{n:04d}",
            from_organisation_id=source,
            to_organisation_id=target,
            referred_at=datetime(2026, 10, 1 + n, 11, tzinfo=UTC),
        )
        for n, (source, target) in enumerate(
            [("lio990", "lio900")] * 7 + [("lio900", "lio901")] * 5
        )
    ]
    with session_scope(url) as s:
        s.add_all(rows + referrals)
    return len(rows)


@pytest.fixture(scope="module")
def console_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The console alone, on loopback, over the scripted month (SQLite)."""
    with seeded("sqlite", Path(tmp_path_factory.mktemp("browser"))) as script:
        with session_scope(script.url) as s:
            for username, org in (("team", None), ("lee", "lio900")):
                adviser_repo.create_adviser(
                    s,
                    username=username,
                    display_name=f"{username.capitalize()} Adviser",
                    password_hash=auth.hash_password(PASSWORD),
                    organisation_id=org,
                )
        demo_month(script.url)
        app = Starlette(routes=[Mount("/console", routes=console_routes())])
        with serve_in_thread(app) as url:
            yield url + "/console"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.add_init_script(WATCH)
    yield page
    context.close()


def sign_in(page: Page, console_url: str, username: str) -> None:
    page.goto(console_url + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()


def shot(page: Page, name: str) -> None:
    """Save docs/screenshots/NAME.png if missing or UPDATE_SCREENSHOTS=1."""
    path = SCREENSHOTS / f"{name}.png"
    if path.exists() and os.environ.get("UPDATE_SCREENSHOTS") != "1":
        page.screenshot(full_page=True)  # still rendered: a broken page fails
        return
    page.screenshot(path=str(path), full_page=True)


def no_axe_violations(page: Page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def test_reports_page_and_printable_report(page: Page, console_url: str) -> None:
    sign_in(page, console_url, "team")
    page.get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Reports", exact=True)).to_be_visible()
    page.get_by_label("From").fill("2026-11-01")
    page.get_by_label("To").fill("2026-11-30")
    page.get_by_role("button", name="Show report").click()
    expect(page.locator('[data-figure="enquiries"]')).to_have_text("7")
    expect(page.locator('[data-figure="handed_over"]')).to_have_text("5")
    expect(page.locator("figure.chart svg").first).to_be_visible()
    expect(page.get_by_role("heading", name="By organisation")).to_be_visible()
    no_axe_violations(page)

    page.get_by_role("link", name="Printable report").click()
    expect(page.get_by_role("heading", name="Method")).to_be_visible()
    expect(page.locator('[data-figure="enquiries"]')).to_have_text("7")
    expect(page.locator('[data-figure="referred_on"]')).to_have_text("<5")
    expect(page.locator("table.figures").first).to_contain_text("<5")
    no_axe_violations(page)
    assert page.evaluate("window.__csp") == []

    # the screenshots: October, as the facts keep it after the retention sweep
    page.goto(f"{console_url}/reports?from=2026-10-01&to=2026-10-31")
    expect(page.locator('[data-figure="enquiries"]')).to_have_text("160")
    shot(page, "reports-page")
    page.get_by_role("link", name="Printable report").click()
    expect(page.get_by_role("heading", name="Method")).to_be_visible()
    no_axe_violations(page)
    shot(page, "reports-printable")
    pdf = page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF")
    pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    assert 1 <= pages <= 6, pages
    assert page.evaluate("window.__csp") == []


def test_a_local_organisation_cannot_choose_another(
    page: Page, console_url: str
) -> None:
    sign_in(page, console_url, "lee")
    query = "from=2026-11-01&to=2026-11-30&organisation=lio901"
    page.goto(f"{console_url}/reports?{query}")
    expect(page.locator('[data-figure="enquiries"]')).to_have_text("4")
    expect(page.locator("#report-organisation")).to_have_count(0)
    assert page.evaluate("window.__csp") == []
