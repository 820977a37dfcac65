"""The widget in Welsh in a real browser against the real stack (issue 16): the
Cymraeg / English toggle, the widget's own texts in Welsh, and a whole Welsh
conversation: the question, the place, the local organisation, the guidance and
a person; the choice kept over a reload; axe-core finds nothing."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from bot.db.models import ConversationStatus
from bot.i18n import text
from tests.e2e.conftest import REPLY_TIMEOUT_MS, E2EStack, send
from tests.e2e.people import wait_for
from tests.e2e.test_widget_browser import assert_no_axe_violations

pytestmark = [pytest.mark.e2e]


def test_a_whole_welsh_conversation_in_the_widget(stack: E2EStack, page: Page) -> None:
    page.goto(stack.gateway_url + "/")
    page.locator(".fd-launcher").click()
    toggle = page.locator(".fd-language")
    expect(toggle).to_have_text("Cymraeg")
    expect(toggle).to_have_attribute("lang", "cy")
    toggle.click()

    # the widget's own texts in Welsh, English offered back
    expect(page.locator("#frontdoor-widget")).to_have_attribute("lang", "cy")
    expect(toggle).to_have_text("English")
    expect(page.locator(".fd-privacy")).to_contain_text("Cyn i chi ddechrau")
    expect(page.locator(".fd-msg--greeting")).to_contain_text("Shwmae!")
    expect(page.get_by_role("button", name="Cyllid")).to_be_visible()
    expect(page.locator(".fd-send")).to_have_text("Anfon")
    assert_no_axe_violations(page)

    # the question: acknowledged and asked where, in Welsh
    send(page, "Oes modd cael grant i brynu offer i'r côr?")
    bot = page.locator(".fd-msg--bot")
    expect(bot.last).to_contain_text("Ble mae'ch grŵp?", timeout=REPLY_TIMEOUT_MS)
    expect(page.get_by_role("button", name="Hepgor")).to_be_visible()

    # the place: the local organisation and the guidance, in Welsh
    send(page, "Caernarfon")
    log = page.locator(".fd-log")
    expect(log).to_contain_text("Mantell Gwynedd", timeout=REPLY_TIMEOUT_MS)
    # the guidance, in Welsh ("Canllawiau swyddogol..." or "tudalen ganllaw")
    expect(log).to_contain_text(re.compile("anllaw"), timeout=REPLY_TIMEOUT_MS)
    expect(page.get_by_role("button", name="Dim diolch")).to_be_visible()

    # a person
    page.get_by_role("button", name="Siarad â pherson").last.click()
    expect(log).to_contain_text(
        text("actions.handed_over", "cy"), timeout=REPLY_TIMEOUT_MS
    )
    expect(page.locator(".fd-notice")).to_contain_text("ciw")
    # the server's privacy notice (issue 13) in Welsh too
    expect(page.locator(".fd-privacy-summary")).to_have_text(
        text("privacy.title", "cy"), timeout=REPLY_TIMEOUT_MS
    )
    assert_no_axe_violations(page)

    cid = page.evaluate(
        "JSON.parse(localStorage.getItem('frontdoor:' + location.origin))"
        ".conversationId"
    )
    conversation = stack.conversation(cid)
    assert conversation is not None
    assert conversation.status is ConversationStatus.QUEUED
    assert (conversation.language, conversation.language_source) == ("cy", "chosen")

    # the choice outlives a reload; English again with one click, on the server too
    page.reload()
    expect(page.locator("#frontdoor-widget")).to_have_attribute("lang", "cy")
    expect(page.locator(".fd-notice")).to_contain_text("ciw", timeout=REPLY_TIMEOUT_MS)
    page.locator(".fd-language").click()
    expect(page.locator(".fd-notice")).to_contain_text("queue")
    expect(page.locator(".fd-privacy")).to_contain_text("We store what you write")
    expect(page.locator(".fd-privacy-summary")).to_have_text(
        text("privacy.title", "en"), timeout=REPLY_TIMEOUT_MS
    )

    def english() -> bool:
        found = stack.conversation(cid)
        return found is not None and found.language == "en"

    wait_for("the conversation in English", english)


def test_the_widget_follows_a_person_who_writes_in_welsh(
    stack: E2EStack, page: Page
) -> None:
    page.goto(stack.gateway_url + "/")
    page.locator(".fd-launcher").click()
    expect(page.locator(".fd-send")).to_have_text("Send")
    send(page, "Shwmae, dw i eisiau gwybod am wirfoddoli gyda'r banc bwyd")
    expect(page.locator(".fd-send")).to_have_text("Anfon", timeout=REPLY_TIMEOUT_MS)
    expect(page.locator("#frontdoor-widget")).to_have_attribute("lang", "cy")
    # the bot's answer is Welsh too (the gateway sent the language to Rasa)
    expect(page.locator(".fd-msg--bot").last).to_contain_text(
        re.compile("Cwestiwn am|Ble mae'ch grŵp|Shwmae"), timeout=REPLY_TIMEOUT_MS
    )
    assert_no_axe_violations(page)
