"""Issue 16 in the console: a Welsh conversation is marked and can be filtered,
and its canned replies are in Welsh (links still only the directory's)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.db.models import Adviser as AdviserRow
from bot.db.models import Conversation, Message, MessageType
from bot.db.session import session_scope
from tests.console.conftest import Adviser, make_conversation, resource

pytestmark = pytest.mark.integration


def _welsh(db_url: str, cid: str) -> None:
    with session_scope(db_url) as s:
        conversation = s.get(Conversation, cid)
        assert conversation is not None
        conversation.language = "cy"


async def test_a_welsh_conversation_is_marked_filtered_and_answered_in_welsh(
    adviser: Adviser, db_url: str, directory: dict[str, str]
) -> None:
    english = make_conversation(db_url)
    welsh = make_conversation(db_url)
    _welsh(db_url, welsh)
    queue = (await adviser.client.get("/console/")).text
    assert queue.count('class="language-tag" lang="cy"') == 1
    only_welsh = (await adviser.client.get("/console/?language=cy")).text
    assert f'data-conversation="{welsh}"' in only_welsh
    assert f'data-conversation="{english}"' not in only_welsh
    assert '<option value="cy" selected' in only_welsh
    only_english = (await adviser.client.get("/console/?language=en")).text
    assert f'data-conversation="{welsh}"' not in only_english
    # anything else is no filter at all
    both = (await adviser.client.get("/console/?language=fr")).text
    assert f'data-conversation="{welsh}"' in both
    assert f'data-conversation="{english}"' in both

    # an adviser who answers in Welsh is offered the Welsh conversations
    assert "Only Welsh conversations" not in queue
    with session_scope(db_url) as s:
        row = s.get(AdviserRow, adviser.id)
        assert row is not None
        row.languages = "cy,en"
    queue = (await adviser.client.get("/console/")).text
    assert 'href="/console/?language=cy">Only Welsh conversations' in queue

    await adviser.post(f"/console/conversations/{welsh}/claim")
    page = (await adviser.client.get(f"/console/conversations/{welsh}")).text
    assert "(Welsh: answer in Welsh)" in page
    assert "(Cymraeg)" in page  # the canned replies' labels
    r = await adviser.post(
        f"/console/conversations/{welsh}/reply", {"canned": "resource:res014"}
    )
    assert r.status_code == 303
    with session_scope(db_url) as s:
        sent = s.scalars(
            select(Message.content).where(
                Message.conversation_id == welsh,
                Message.message_type == MessageType.OUTGOING,
            )
            .order_by(Message.id)
        ).all()
    url = resource("res014")["url"]
    assert sent[-1] == (
        "Dylai'r canllawiau hyn gan NCVO helpu: Funding and fundraising (guidance "
        f"for trustees) (tudalen Saesneg). {url}"
    )
