"""Guidance for every question the assistant can reach, in every nation (issue 14).

Every reachable subtopic x nation either has a page filed under it, or the reply
says honestly that no page is on record for that exact question before offering
the topic's general pages.
"""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from actions.resources import _guidance, guidance_reply
from bot.directory.service import guidance_for
from scripts.eval_directory import NATIONS, coverage_cells, reachable_subtopics

pytestmark = pytest.mark.integration

HONEST = "I don't have an official guidance page on record for that exact question"


def test_every_reachable_cell_has_a_page_or_an_honest_reply(
    directory_session: Session,
) -> None:
    pairs = reachable_subtopics()
    assert len(pairs) >= 28
    empty = []
    for topic, subtopic in pairs:
        for nation in NATIONS:
            items, specific = _guidance(
                directory_session, topic=topic, subtopic=subtopic, nation=nation
            )
            reply = guidance_reply(
                items, nation=nation, topic=topic, subtopic=subtopic, specific=specific
            )
            if specific:
                assert not reply.startswith(HONEST)
                continue
            empty.append((topic, subtopic, nation))
            assert reply.startswith(HONEST), (topic, subtopic, nation)
            # what follows, if anything, is the topic's general pages for the nation
            assert all(nation in n for *_, n in items)
    cells = coverage_cells(directory_session)
    counted = {
        (t, s, n) for (t, s), c in cells.items() for n in NATIONS if not c.get(n)
    }
    assert set(empty) == counted  # the coverage table and the replies agree
    assert len(counted) <= 8, counted


def test_annual_return_gets_the_annual_return_page(directory_session: Session) -> None:
    england = guidance_for(
        directory_session,
        topic="governance",
        subtopic="annual_return",
        nation="England",
    )
    assert england.specific
    assert england.specific[0].title == "Prepare a charity annual return"
    assert "Charity Commission" in england.specific[0].publisher
    scotland = guidance_for(
        directory_session,
        topic="governance",
        subtopic="annual_return",
        nation="Scotland",
    )
    assert scotland.specific and all("OSCR" in r.publisher for r in scotland.specific)


def test_volunteer_mileage_and_scottish_volunteering(
    directory_session: Session,
) -> None:
    expenses = guidance_for(
        directory_session, topic="volunteering", subtopic="expenses", nation="England"
    )
    assert any("mileage" in r.title.lower() for r in expenses.specific)
    checks = guidance_for(
        directory_session, topic="volunteering", subtopic="checks", nation="Scotland"
    )
    assert any("Volunteer Scotland" in r.publisher for r in checks.specific)


def test_pages_for_the_nation_come_before_uk_wide_ones(
    directory_session: Session,
) -> None:
    found = guidance_for(
        directory_session, topic="governance", subtopic="trustees", nation="Scotland"
    )
    assert found.specific
    sizes = [len(r.nations) for r in found.specific]
    assert sizes == sorted(sizes)
