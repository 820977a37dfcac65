"""The conversation's language (issue 16): detected from the person's messages,
kept in the database, sent to Rasa with each message, and the gateway's own texts
(the apology, the out-of-hours notice, the emergency text, the email thanks)
said in it."""

from __future__ import annotations

import pytest

from bot.db.models import Conversation
from bot.domain.safety import emergency_text
from bot.i18n import text
from tests.gateway.conftest import OUT_OF_HOURS, Harness, HarnessFactory

pytestmark = pytest.mark.integration

WELSH = "Oes grantiau ar gael i glybiau ieuenctid yn yr ardal?"


def _language(h: Harness, cid: str) -> tuple[str, str]:
    with h.db() as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        return conversation.language, conversation.language_source


async def test_the_language_follows_clear_messages_and_goes_to_rasa(
    gw: Harness,
) -> None:
    conv = await gw.start()
    cid = conv["conversation_id"]
    await gw.send(conv, "hello")
    assert _language(gw, cid) == ("en", "detected")
    body = (await gw.send(conv, WELSH)).json()
    assert body["language"] == "cy"  # the widget follows it
    assert _language(gw, cid) == ("cy", "detected")
    # a place name alone leaves it as it is
    await gw.send(conv, "Cardiff")
    assert _language(gw, cid) == ("cy", "detected")
    await gw.send(conv, "Can we claim Gift Aid on raffle tickets?")
    assert _language(gw, cid) == ("en", "detected")
    sent = [r["metadata"]["language"] for r in gw.rasa.received]
    assert sent == ["en", "cy", "cy", "en"]


async def test_welsh_apology_and_hours_when_rasa_is_down(
    start_gateway: HarnessFactory,
) -> None:
    async with start_gateway(rasa_up=False) as h:
        h.set_time(OUT_OF_HOURS)
        conv = await h.start()
        body = (await h.send(conv, WELSH)).json()
        texts = [r["text"] for r in body["replies"]]
        assert texts[0] == text("gateway.bot_unavailable", "cy")
        assert texts[1].startswith("Mae ein cynghorwyr yn gweithio Llun-Gwe")
        assert "ddydd Llun am 09:00" in texts[1]


async def test_welsh_emergency_text_and_email_thanks(gw: Harness) -> None:
    gw.set_time(OUT_OF_HOURS)
    conv = await gw.start()
    body = (await gw.send(conv, "Mae'r gegin ar dân ac mae plant yn yr adeilad")).json()
    texts = [r["text"] for r in body["replies"]]
    assert texts[0] == emergency_text(None, "cy")
    assert "ffoniwch 999" in texts[0]
    mail = (await gw.send(conv, "fy e-bost yw sam@afon.example diolch")).json()
    assert [r["text"] for r in mail["replies"]] == [
        text("gateway.email_thanks", "cy", email="sam@afon.example")
    ]


async def test_the_toggle_chooses_the_language_and_it_stays(gw: Harness) -> None:
    conv = await gw.start(language="cy")
    cid = conv["conversation_id"]
    assert conv["language"] == "cy"
    assert _language(gw, cid) == ("cy", "chosen")
    # chosen: an English message does not switch it
    await gw.send(conv, "Can we claim Gift Aid on raffle tickets?")
    assert _language(gw, cid) == ("cy", "chosen")
    assert gw.rasa.received[-1]["metadata"]["language"] == "cy"
    url = f"/api/widget/conversations/{cid}/language"
    toggled = await gw.http.post(url, json={"token": conv["token"], "language": "en"})
    assert toggled.status_code == 200 and toggled.json() == {"language": "en"}
    assert _language(gw, cid) == ("en", "chosen")
    resumed = await gw.start(conversation_id=cid, token=conv["token"])
    assert resumed["language"] == "en"
    bad = await gw.http.post(url, json={"token": conv["token"], "language": "fr"})
    assert bad.status_code == 400
    forged = await gw.http.post(url, json={"token": "x" * 40, "language": "cy"})
    assert forged.status_code == 403
    assert _language(gw, cid) == ("en", "chosen")


async def test_iaith_on_telegram_chooses_welsh_and_it_stays(
    start_gateway: HarnessFactory,
) -> None:
    """/iaith (the Telegram channel's command) over the Bot API fake: the
    conversation's language is chosen, an English message does not switch it
    back, Rasa hears the language, and the gateway's own texts are Welsh."""
    from tests.gateway.test_telegram import CHAT, post_update, telegram_gateway
    from tests.gateway.test_telegram_commands import conversation, sent

    async with telegram_gateway(start_gateway) as (h, api):
        await post_update(h, api.text_update(CHAT, "/iaith"))
        [answer] = await sent(api, 1)
        assert answer == text("telegram.language_set", "cy")
        conv = conversation(h)
        assert (conv.language, conv.language_source) == ("cy", "chosen")
        await post_update(h, api.text_update(CHAT, "Can we claim Gift Aid on raffles?"))
        await sent(api, 2)
        assert conversation(h).language == "cy"
        assert h.rasa.received[-1]["metadata"]["language"] == "cy"
        h.rasa.status_code = 503  # the bot down: the apology in Welsh
        await post_update(h, api.text_update(CHAT, "and what about legacies?"))
        texts = await sent(api, 3)
        assert text("gateway.bot_unavailable", "cy") in texts
