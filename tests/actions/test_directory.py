"""The LIO answer (issue 14): closed bodies, last checked, and "Is this wrong?"."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.directory import ActionFindLio, month_year
from actions.resources import ActionSuggestResources
from bot.db.session import get_sessionmaker
from bot.directory.reports import parse_payload
from bot.directory.resolver import clear_resolvers
from bot.settings import get_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def db(directory_db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the actions at the throwaway database."""
    monkeypatch.setenv("DATABASE_URL", directory_db_url)
    get_settings.cache_clear()
    clear_resolvers()
    yield directory_db_url
    get_settings.cache_clear()
    clear_resolvers()


def tracker(slots: dict[str, Any], sender: str = "conv-dir") -> Tracker:
    return Tracker(
        sender_id=sender,
        slots=slots,
        latest_message={"text": "x", "intent": {"name": "funding"}, "metadata": {}},
        events=[{"event": "user", "text": "x"}],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


async def find_lio(lad: str, place: str) -> list[dict[str, Any]]:
    d = CollectingDispatcher()
    slots = {"location_status": "resolved", "lad_code": lad, "place_name": place}
    await ActionFindLio().run(d, tracker(slots), {})
    return d.messages


async def test_a_closed_lio_is_named_with_what_the_data_has_instead(db: str) -> None:
    messages = await find_lio("E08000017", "Doncaster")
    reply = "\n".join(m["text"] for m in messages)
    lines = reply.splitlines()
    assert lines[0].startswith("Doncaster CVS (the council for voluntary service)")
    assert "closed in March 2017, as announced." in lines[0]
    assert lines[1] == "What we have on record instead:"
    assert "Voluntary Action Doncaster" in lines[2]
    assert "https://www.voluntaryactiondoncaster.org.uk" in lines[2]
    # low confidence, said so; and when the entry was last checked
    assert "less sure this listing is current" in lines[2]
    assert "(last checked November 2026)" in lines[2]


async def test_the_answer_carries_is_this_wrong_for_the_entries_shown(
    db: str,
) -> None:
    messages = await find_lio("E06000052", "Truro")
    buttons = messages[-1]["buttons"]
    assert [b["title"] for b in buttons] == ["Is this wrong?"]
    ids = parse_payload(buttons[0]["payload"])
    assert ids and all(i.startswith("lio") for i in ids)


async def test_a_superseded_code_in_the_slot_is_answered_and_stored_current(
    db: str,
) -> None:
    from bot.db.models import Conversation

    messages = await find_lio("E08000016", "Barnsley")
    assert "Barnsley" in messages[-1]["text"]
    with get_sessionmaker(db)() as s:
        conv = s.get(Conversation, "conv-dir")
        assert conv is not None and conv.lad_code == "E08000038"


def test_month_year_in_both_languages() -> None:
    from datetime import date

    assert month_year(date(2026, 11, 25)) == "November 2026"
    assert month_year(date(2026, 11, 25), "cy") == "Tachwedd 2026"


async def test_a_subtopic_without_a_page_says_so(
    db: str,
) -> None:
    d = CollectingDispatcher()
    slots = {
        "topic": "volunteering",
        "subtopic": "finding_opportunities",
        "location_status": "resolved",
        "nation": "Wales",
    }
    await ActionSuggestResources().run(d, tracker(slots), {})
    reply = d.messages[-1]["text"]
    assert reply.startswith(
        "I don't have an official guidance page on record for that exact question"
    )
    assert "adviser can help" in reply
