"""The queue: oldest first, the hand-over summary, filters by LIO and area."""

from __future__ import annotations

import re

import pytest

from bot.db.models import ConversationStatus
from bot.db.repositories import console as repo
from bot.db.session import session_scope
from tests.console.conftest import Adviser, make_conversation

pytestmark = pytest.mark.integration


def _order(html: str) -> list[str]:
    return re.findall(r'data-conversation="([^"]+)"', html)


async def test_queue_is_oldest_first_with_the_summary(
    adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    newer = make_conversation(db_url, waited_minutes=5, place_name="Newtown")
    older = make_conversation(
        db_url,
        waited_minutes=50,
        reason="risk",
        summary="Reason: someone may be at risk.",
        organisation_names=["Testshire CVS", "NAVCA"],
    )
    make_conversation(db_url, status=ConversationStatus.BOT)  # not in the queue
    page = await adviser.client.get("/console/")
    assert page.status_code == 200
    assert _order(page.text) == [older, newer]
    html = page.text
    for text in (
        "Funding: grants",  # topic / subtopic
        "Northdale",  # place and LAD name
        "E07000001",  # LAD code
        "Testshire",  # county
        "Testshire CVS",  # the LIO
        "Testshire CVS; NAVCA",  # organisations suggested
        "Someone may be at risk: check first",  # reason
        "Can I talk to a person please?",  # the person's own words
        "Where can we find a grant for a minibus?",
        "Waiting 50 min",
        'Waiting, urgent first, then the longest waiting <span class="count">(2)'
        "</span>",
    ):
        assert text in html, text


async def test_filters_by_lio_district_and_county(
    adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    north = make_conversation(db_url, lad_code="E07000001", organisation_id="lio900")
    # the bot found no LIO, but the district is one lio900 covers
    south = make_conversation(db_url, lad_code="E07000002", organisation_id=None)
    wales = make_conversation(
        db_url, lad_code="W06000001", organisation_id="lio901", place_name="Holyhead"
    )
    nowhere = make_conversation(db_url, lad_code=None, organisation_id=None)
    cases = {
        "": {north, south, wales, nowhere},
        "?organisation=lio900": {north, south},
        "?organisation=lio901": {wales},
        "?area=E07000002": {south},
        "?area=E10000001": {north, south},  # the county
        "?area=W06000001&organisation=lio901": {wales},
        "?area=E10000001&organisation=lio901": set(),
        "?area=<script>": {north, south, wales, nowhere},  # not a code: ignored
    }
    for query, expected in cases.items():
        page = await adviser.client.get("/console/" + query)
        assert page.status_code == 200
        assert set(_order(page.text)) == expected, query
        fragment = await adviser.client.get("/console/queue/items" + query)
        assert set(_order(fragment.text)) == expected, query
        assert "<html" not in fragment.text


async def test_filter_choices_list_lios_counties_and_districts(
    adviser: Adviser, directory: dict[str, str]
) -> None:
    page = await adviser.client.get("/console/?area=E10000001")
    html = page.text
    assert '<label for="organisation">' in html and '<label for="area">' in html
    assert '<option value="lio900">Testshire CVS</option>' in html
    assert '<option value="E10000001" selected>Testshire</option>' in html
    assert '<option value="E07000002">Southdale</option>' in html


async def test_my_conversations_are_listed_apart(
    adviser: Adviser, second_adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    mine = make_conversation(
        db_url, status=ConversationStatus.ASSIGNED, assignee_id=adviser.id
    )
    theirs = make_conversation(
        db_url, status=ConversationStatus.ASSIGNED, assignee_id=second_adviser.id
    )
    waiting = make_conversation(db_url)
    html = (await adviser.client.get("/console/")).text
    mine_part, waiting_part = html.split('id="waiting-heading"')
    assert mine in _order(mine_part) and theirs not in html
    assert _order(waiting_part) == [waiting]


def test_repository_queue_on_an_empty_database(db_url: str) -> None:
    with session_scope(db_url) as s:
        assert repo.list_queue(s) == []
        assert repo.filter_choices(s).organisations == []


async def test_conversations_the_retention_sweep_anonymised_leave_the_queue(
    adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    """An old hand-over nobody answered keeps its status for the reports once the
    sweep anonymised it, but has nothing left to answer: off the queue and off
    the adviser's own list (issue 13)."""
    from bot.privacy.erasure import anonymise_conversations

    swept_waiting = make_conversation(db_url, waited_minutes=300 * 24 * 60)
    swept_mine = make_conversation(
        db_url, status=ConversationStatus.ASSIGNED, assignee_id=adviser.id
    )
    waiting = make_conversation(db_url)
    with session_scope(db_url) as s:
        anonymise_conversations(s, [swept_waiting, swept_mine], by="retention sweep")
    html = (await adviser.client.get("/console/")).text
    assert swept_waiting not in html and swept_mine not in html
    assert waiting in html
    with session_scope(db_url) as s:
        assert [i.id for i in repo.list_queue(s)] == [waiting]
        assert repo.count_queue(s) == 1
        assert repo.list_assigned(s, adviser_id=adviser.id) == []
