"""The rating question in the widget, in a real browser against the real stack
(Rasa's own "No thanks" after an answer): the five quick replies, the score kept
once, the optional comment, and nothing of it sent to Rasa's dialogue."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect
from sqlalchemy import select

from bot.db.models import ConversationFacts, Message, MessageType
from bot.db.session import session_scope
from bot.i18n import text
from tests.e2e.conftest import REPLY_TIMEOUT_MS, E2EStack, send

pytestmark = [pytest.mark.e2e]


def test_rating_after_the_answer_is_taken(stack: E2EStack, page: Page) -> None:
    page.goto(stack.gateway_url + "/")
    page.locator(".fd-launcher").click()
    send(page, "How can we find a grant for our community garden?")
    bot = page.locator(".fd-msg--bot")
    expect(bot.last).to_contain_text(
        "Where is your group based", timeout=REPLY_TIMEOUT_MS
    )
    send(page, "Truro")
    expect(page.get_by_role("button", name="No thanks")).to_be_visible(
        timeout=REPLY_TIMEOUT_MS
    )
    page.get_by_role("button", name="No thanks").click()
    expect(bot.last).to_contain_text(text("ratings.question"), timeout=REPLY_TIMEOUT_MS)
    replies = page.locator(".fd-reply")
    expect(replies).to_have_count(5)
    assert Axe().run(page).violations_count == 0

    page.get_by_role("button", name="4", exact=True).click()
    expect(bot.last).to_contain_text(text("ratings.thanks"), timeout=REPLY_TIMEOUT_MS)
    page.get_by_role("button", name=text("ratings.add_comment")).click()
    expect(bot.last).to_contain_text(
        text("ratings.comment_prompt"), timeout=REPLY_TIMEOUT_MS
    )
    send(page, "The guidance links were just what we needed")
    expect(bot.last).to_contain_text(
        text("ratings.comment_thanks"), timeout=REPLY_TIMEOUT_MS
    )
    assert page.evaluate("window.__csp") == []

    cid = page.evaluate(
        "JSON.parse(localStorage.getItem('frontdoor:' + location.origin))"
        ".conversationId"
    )
    with session_scope(stack.database_url) as s:
        facts = s.get(ConversationFacts, cid)
        assert facts is not None
        assert (facts.rating, facts.topic, facts.handed_over_at) == (4, "funding", None)
        assert facts.assistant_accepted_at is not None
        comment = s.scalars(
            select(Message).where(
                Message.conversation_id == cid,
                Message.message_type == MessageType.INCOMING,
                Message.intent == "rating_comment",
            )
        ).one()
        assert comment.content == "The guidance links were just what we needed"
