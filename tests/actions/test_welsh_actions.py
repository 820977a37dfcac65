"""The actions answer in the conversation's language (the gateway's metadata)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.directory import ActionFindLio
from actions.forms import ActionAskLocation, ValidateLocationForm
from actions.handoff import ActionHandoff
from actions.resources import ActionSuggestResources
from bot.db.models import Resource
from bot.db.session import get_sessionmaker
from bot.i18n import text
from tests.actions.test_actions import DOMAIN, db, texts, tracker

pytestmark = pytest.mark.integration
__all__ = ["db"]


def welsh(message: str, **kwargs: Any) -> Tracker:
    t = tracker(message, **kwargs)
    t.latest_message["metadata"]["language"] = "cy"
    return t


async def test_asks_where_in_welsh(db: str) -> None:
    d = CollectingDispatcher()
    await ActionAskLocation().run(d, welsh("x"), DOMAIN)
    assert d.messages[0]["text"] == text("actions.ask_location", "cy")
    assert [b["title"] for b in d.messages[0]["buttons"]] == ["Hepgor"]
    assert d.messages[0]["buttons"][0]["payload"] == "/skip_location"


async def test_a_place_not_found_in_welsh(db: str) -> None:
    d = CollectingDispatcher()
    await ValidateLocationForm().validate_location("asdfgh", d, welsh("asdfgh"), DOMAIN)
    assert texts(d) == text("actions.place_not_found", "cy", place="asdfgh")
    assert texts(d).endswith("o'r enw “asdfgh”.")


async def test_the_local_organisation_in_welsh(db: str) -> None:
    d = CollectingDispatcher()
    slots = {
        "location_status": "resolved",
        "lad_code": "W06000002",
        "place_name": "Caernarfon",
        "topic": "funding",
    }
    await ActionFindLio().run(d, welsh("x", slots=slots), DOMAIN)
    reply = texts(d)
    assert reply.startswith("Y sefydliad cymorth lleol ar gyfer Caernarfon (Gwynedd):")
    assert "Mantell Gwynedd" in reply
    assert "y Cyngor Gwirfoddol Sirol" in reply


async def test_guidance_in_welsh_says_the_pages_are_english(db: str) -> None:
    d = CollectingDispatcher()
    slots = {"topic": "volunteering", "subtopic": "checks"}
    await ActionSuggestResources().run(d, welsh("x", slots=slots), DOMAIN)
    reply = texts(d)
    lines = reply.splitlines()
    assert lines[0].startswith("Canllawiau swyddogol")
    assert all("tudalen Saesneg" in line for line in lines[1:])
    urls = re.findall(r"https?://[^\s)]+", reply)
    with get_sessionmaker(db)() as s:
        known = set(s.scalars(select(Resource.url)))
    assert urls and set(urls) <= known


async def test_hand_over_in_welsh(db: str) -> None:
    d = CollectingDispatcher()
    t = welsh("ga i siarad â pherson", intent="request_human", sender="conv-cy-1")
    await ActionHandoff().run(d, t, DOMAIN)
    assert texts(d) == text("actions.handed_over", "cy")
