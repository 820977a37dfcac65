"""The handoff state machine: every legal move, every illegal one refused."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

import bot.domain.handoff as handoff
from bot.domain.handoff import (
    MOVES,
    IllegalTransition,
    Status,
    Transition,
    activity_text,
    allowed,
    bot_should_answer,
    ends_hand_over,
    next_status,
)

pytestmark = pytest.mark.unit

EXPECTED = {
    (Status.BOT, Transition.HAND_OVER): Status.QUEUED,
    (Status.QUEUED, Transition.CLAIM): Status.ASSIGNED,
    (Status.QUEUED, Transition.RESOLVE): Status.RESOLVED,
    (Status.QUEUED, Transition.HAND_BACK): Status.BOT,
    (Status.ASSIGNED, Transition.RELEASE): Status.QUEUED,
    (Status.ASSIGNED, Transition.RESOLVE): Status.RESOLVED,
    (Status.ASSIGNED, Transition.HAND_BACK): Status.BOT,
    (Status.RESOLVED, Transition.REOPEN): Status.BOT,
    (Status.RESOLVED, Transition.HAND_OVER): Status.QUEUED,
    (Status.QUEUED, Transition.ASSIGN): Status.ASSIGNED,
    (Status.ASSIGNED, Transition.ASSIGN): Status.ASSIGNED,
    (Status.QUEUED, Transition.TRANSFER): Status.QUEUED,
    (Status.ASSIGNED, Transition.TRANSFER): Status.QUEUED,
}


@pytest.mark.parametrize(("start", "move"), sorted(EXPECTED))
def test_each_legal_move_reaches_its_status(start: Status, move: Transition) -> None:
    assert next_status(start, move) is EXPECTED[(start, move)]


ILLEGAL = sorted(set(itertools.product(Status, Transition)) - set(EXPECTED))


@pytest.mark.parametrize(("start", "move"), ILLEGAL)
def test_every_other_move_is_refused(start: Status, move: Transition) -> None:
    with pytest.raises(IllegalTransition) as refused:
        next_status(start, move)
    assert (refused.value.current, refused.value.transition) == (start, move)
    assert start.value in str(refused.value) and move.value in str(refused.value)


def test_the_table_is_exactly_the_expected_one() -> None:
    assert MOVES == EXPECTED
    assert len(ILLEGAL) == len(Status) * len(Transition) - len(EXPECTED) == 19


def test_allowed_lists_the_moves_out_of_each_status() -> None:
    assert allowed(Status.BOT) == [Transition.HAND_OVER]
    assert set(allowed(Status.ASSIGNED)) == {
        Transition.RELEASE,
        Transition.RESOLVE,
        Transition.HAND_BACK,
        Transition.ASSIGN,
        Transition.TRANSFER,
    }
    assert Transition.CLAIM not in allowed(Status.ASSIGNED)  # no double claim


def test_who_answers_and_what_ends_a_hand_over() -> None:
    assert [s for s in Status if bot_should_answer(s)] == [Status.BOT, Status.RESOLVED]
    assert {t for t in Transition if ends_hand_over(t)} == {
        Transition.RESOLVE,
        Transition.HAND_BACK,
    }


def test_activity_lines_name_the_adviser_and_outcome() -> None:
    assert activity_text(Transition.CLAIM, adviser="Jo") == (
        "Adviser Jo picked up the conversation"
    )
    assert activity_text(Transition.RESOLVE, adviser="Jo", outcome="no reply") == (
        "Adviser Jo resolved the conversation (no reply)"
    )
    assert activity_text(Transition.ASSIGN, adviser="Jo", to="Sam") == (
        "Adviser Jo assigned the conversation to Sam"
    )
    assert activity_text(Transition.ASSIGN, adviser="Jo", to="Jo") == (
        "Adviser Jo took the conversation over"
    )
    assert activity_text(Transition.TRANSFER, adviser="Jo", to="Kent CVS") == (
        "Adviser Jo transferred the conversation to Kent CVS"
    )
    assert all(t in handoff.ACTIVITY_TEXT for t in Transition)


def test_the_domain_module_owns_its_enums_and_imports_no_orm() -> None:
    source = Path(handoff.__file__).read_text()
    assert not re.search(r"^\s*(from|import) (bot\.db|sqlalchemy)", source, re.M)
    from bot.db.models import ConversationStatus

    assert ConversationStatus is Status  # the models re-use the domain's enum


def test_the_diagram_shows_every_move() -> None:
    diagram = (Path(handoff.__file__).parent / "handoff.mmd").read_text()
    for (start, move), end in EXPECTED.items():
        assert re.search(
            rf"^\s*{start.value} --> {end.value}: {move.value}\b", diagram, re.M
        ), (start, move)
