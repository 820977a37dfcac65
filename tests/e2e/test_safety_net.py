"""The safety net through the real stack (Rasa, action server, gateway), on both
channels: the widget's HTTP API and the Telegram webhook with the fake Bot API.

In every state (with the bot, queued, assigned, resolved and reopened, out of
adviser hours, Rasa down) a message that may mean someone is at risk gets the
one emergency text and nothing else, and the conversation is handed over as
urgent or raised to urgent, once. Policy wording is not urgent.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.db.models import ConversationStatus
from bot.domain import risk_phrases
from bot.domain.safety import emergency_text
from bot.gateway.hours import DAYS
from bot.gateway.turns import BOT_UNAVAILABLE_TEXT
from bot.runner import Stack, build_stack, free_port, start
from tests.e2e.conftest import E2EStack
from tests.e2e.people import (
    ASK_PERSON,
    CHANNELS,
    FLOOR,
    FLOOR_AGAIN,
    MODEL_ONLY,
    POLICY,
    SENTINEL,
    Console,
    Person,
    adviser_console,
    closing_people,
    new_person,
    queued,
)


@pytest.fixture(scope="module")
def console(stack: E2EStack) -> Iterator[Console]:
    yield from adviser_console(stack)


@pytest.fixture
def people(stack: E2EStack, console: Console) -> Iterator[list[Person]]:
    yield from closing_people(stack, console)


pytestmark = pytest.mark.e2e


def test_the_sentences_reach_the_parts_they_are_meant_to() -> None:
    assert risk_phrases.match(FLOOR) is not None
    assert risk_phrases.match(FLOOR_AGAIN) is not None
    assert risk_phrases.match(MODEL_ONLY) is None  # the model alone must hear it
    assert risk_phrases.match(POLICY) is None
    assert risk_phrases.match(SENTINEL) is None


# ---------------------------------------------------------------- with the bot


@pytest.mark.parametrize("channel", CHANNELS)
def test_bot_state_phrase_gets_the_emergency_text_and_an_urgent_handover(
    stack: E2EStack, people: list[Person], channel: str
) -> None:
    person = new_person(people, stack, channel)
    assert person.exchange(FLOOR) == [emergency_text(None)]
    person.assert_urgent(ConversationStatus.QUEUED)
    assert person.handoffs() == ["urgent"]
    message = person.message(FLOOR)
    assert message.urgent
    told = person.message(emergency_text(None))
    assert told.urgent and told.sender == "bot"


@pytest.mark.parametrize("channel", CHANNELS)
def test_bot_state_model_hears_what_no_phrase_says(
    stack: E2EStack, people: list[Person], channel: str
) -> None:
    person = new_person(people, stack, channel)
    # Rasa's rule hands over as urgent; its own copy of the text is dropped.
    assert person.exchange(MODEL_ONLY) == [emergency_text(None)]
    person.assert_urgent(ConversationStatus.QUEUED)
    assert person.handoffs() == ["urgent"]
    message = person.message(MODEL_ONLY)
    assert (message.intent, message.urgent) == ("report_risk", True)


@pytest.mark.parametrize(
    ("channel", "place", "nation"),
    [("web", "Edinburgh", "Scotland"), ("telegram", "Belfast", "Northern Ireland")],
)
def test_after_guidance_a_disclosure_gets_the_text_for_the_nation_and_no_guidance(
    stack: E2EStack, people: list[Person], channel: str, place: str, nation: str
) -> None:
    person = new_person(people, stack, channel)
    asked = person.exchange("How do we apply for a grant for our youth club?")
    assert any("Where is your group based" in t for t in asked), asked
    guidance = person.exchange(place)
    assert any("http" in t for t in guidance), guidance  # the guidance links
    said = person.exchange(FLOOR)
    assert said == [emergency_text(nation)]
    assert "http" not in said[0]
    person.assert_urgent(ConversationStatus.QUEUED)
    assert person.handoffs() == ["urgent"]


@pytest.mark.parametrize("channel", CHANNELS)
def test_policy_wording_is_answered_as_a_question(
    stack: E2EStack, people: list[Person], channel: str
) -> None:
    person = new_person(people, stack, channel)
    said = person.exchange(POLICY)
    assert said and emergency_text(None) not in said
    conversation = person.conversation()
    assert not conversation.urgent
    assert "urgent" not in person.handoffs()
    assert not person.message(POLICY).urgent


# --------------------------------------------------------------- with advisers


@pytest.mark.parametrize("channel", CHANNELS)
def test_queued_phrase_raises_to_urgent_once(
    stack: E2EStack, people: list[Person], channel: str
) -> None:
    person = new_person(people, stack, channel)
    queued(person)
    assert person.exchange(FLOOR) == [emergency_text(None)]
    person.assert_urgent(ConversationStatus.QUEUED)
    # Again: the emergency text was the last thing said, so it is not repeated.
    assert person.exchange(FLOOR_AGAIN, answered=False) == []
    assert person.handoffs() == ["asked_for_person"]
    person.assert_urgent(ConversationStatus.QUEUED)
    assert person.message(FLOOR_AGAIN).urgent


@pytest.mark.parametrize("channel", CHANNELS)
def test_queued_model_hears_it_through_nlu_alone(
    stack: E2EStack, people: list[Person], channel: str
) -> None:
    person = new_person(people, stack, channel)
    queued(person)
    assert person.exchange(MODEL_ONLY) == [emergency_text(None)]
    person.assert_urgent(ConversationStatus.QUEUED)
    assert person.handoffs() == ["asked_for_person"]
    message = person.message(MODEL_ONLY)
    assert (message.intent, message.urgent) == ("report_risk", True)


@pytest.mark.parametrize("channel", CHANNELS)
def test_queued_policy_wording_and_small_talk_stay_quiet(
    stack: E2EStack, people: list[Person], channel: str
) -> None:
    person = new_person(people, stack, channel)
    queued(person)
    assert person.exchange(POLICY, answered=False) == []
    assert person.exchange("thanks, I'll wait", answered=False) == []
    assert not person.conversation().urgent
    message = person.message(POLICY)
    assert message.intent is not None and message.intent != "report_risk"
    assert not message.urgent


@pytest.mark.parametrize("channel", CHANNELS)
def test_assigned_raises_to_urgent_and_repeats_the_text_only_after_the_adviser(
    stack: E2EStack, people: list[Person], console: Console, channel: str
) -> None:
    person = new_person(people, stack, channel)
    queued(person)
    assert person.conversation_id is not None
    console.claim(person.conversation_id)
    assert person.exchange(FLOOR) == [emergency_text(None)]
    person.assert_urgent(ConversationStatus.ASSIGNED)
    assert person.conversation().assignee_id == console.adviser.id
    assert person.exchange(FLOOR_AGAIN, answered=False) == []
    console.reply(person.conversation_id, "I'm here. Is anyone hurt right now?")
    again = "yes he has hit her and he's still there with a knife"
    assert person.exchange(again) == [emergency_text(None)]
    assert person.handoffs() == ["asked_for_person"]
    person.assert_urgent(ConversationStatus.ASSIGNED)
    said = [m.content for m in person.messages() if m.sender == "bot"]
    assert said.count(emergency_text(None)) == 2


@pytest.mark.parametrize("channel", CHANNELS)
def test_resolved_phrase_hands_over_again_as_urgent(
    stack: E2EStack, people: list[Person], console: Console, channel: str
) -> None:
    person = new_person(people, stack, channel)
    queued(person)
    assert person.conversation_id is not None
    console.claim(person.conversation_id)
    console.resolve(person.conversation_id)
    assert person.conversation().status is ConversationStatus.RESOLVED
    assert person.exchange(FLOOR) == [emergency_text(None)]
    person.assert_urgent(ConversationStatus.QUEUED)
    assert person.handoffs() == ["asked_for_person", "urgent"]


@pytest.mark.parametrize("channel", CHANNELS)
def test_reopened_model_hears_it_in_the_bots_turn(
    stack: E2EStack, people: list[Person], console: Console, channel: str
) -> None:
    person = new_person(people, stack, channel)
    queued(person)
    assert person.conversation_id is not None
    console.resolve(person.conversation_id)
    # Reopened: the bot answers again, and asks where the group is.
    asked = person.exchange("How do we recruit more volunteers?")
    assert any("Where is your group based" in t for t in asked), asked
    assert person.conversation().status is ConversationStatus.BOT
    # Rasa's rule for a risk while it waits for a place: no place asked again.
    assert person.exchange(MODEL_ONLY) == [emergency_text(None)]
    person.assert_urgent(ConversationStatus.QUEUED)
    assert person.handoffs() == ["asked_for_person", "urgent"]


# ------------------------------------------------- another gateway on the stack


def _second_gateway(
    stack: E2EStack, tmp: Path, *, rasa_port: int, **env: str
) -> Iterator[Stack]:
    main = stack.services.service("gateway").env
    keep = (
        "ENVIRONMENT",
        "SESSION_SECRET",
        "ADVISER_HOURS",
        "WIDGET_RATE_LIMIT_PER_MINUTE",
        "WIDGET_ALLOWED_ORIGINS",
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_WEBHOOK_SECRET",
        "TELEGRAM_BASE_URL",
        "TELEGRAM_MODE",
        "TELEGRAM_PRIVACY_NOTICE",
        "LOG_LEVEL",
    )
    port = free_port()
    services = build_stack(
        database_url=stack.database_url,
        rasa_token=stack.rasa_token,
        log_dir=tmp,
        rasa_port=rasa_port,
        action_port=stack.services.action_port,
        gateway_port=port,
        with_rasa=False,
        with_actions=False,
        extra_env={
            **{k: main[k] for k in keep},
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
            **env,
        },
    )
    start(services, timeout=120)
    try:
        yield services
    finally:
        services.stop()


def _closed_all_day() -> str:
    """Adviser hours that are not today, in the advisers' time zone."""
    today = datetime.now(ZoneInfo("Europe/London")).weekday()
    return f"{DAYS[(today + 3) % 7].capitalize()} 09:00-10:00"


@pytest.fixture(scope="module")
def out_of_hours(
    stack: E2EStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A second gateway on the same Rasa and database, outside adviser hours."""
    yield from (
        s.gateway_url
        for s in _second_gateway(
            stack,
            tmp_path_factory.mktemp("closed"),
            rasa_port=stack.services.rasa_port,
            ADVISER_HOURS=_closed_all_day(),
        )
    )


@pytest.fixture(scope="module")
def rasa_down(
    stack: E2EStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A second gateway whose Rasa address answers nothing (connection refused)."""
    yield from (
        s.gateway_url
        for s in _second_gateway(
            stack, tmp_path_factory.mktemp("no-rasa"), rasa_port=free_port()
        )
    )


@pytest.mark.parametrize("channel", CHANNELS)
def test_out_of_hours_the_emergency_text_comes_first_then_the_hours(
    stack: E2EStack, people: list[Person], out_of_hours: str, channel: str
) -> None:
    person = new_person(people, stack, channel, out_of_hours)
    said = person.exchange(FLOOR)
    assert said[0] == emergency_text(None)
    assert len(said) == 2 and said[1].startswith("Our advisers work ")
    person.assert_urgent(ConversationStatus.QUEUED)
    assert person.handoffs() == ["urgent"]
    # Queued out of hours (told the hours once), then a disclosure: the text only.
    other = new_person(people, stack, channel, out_of_hours)
    told = other.exchange(ASK_PERSON)
    assert told[-1].startswith("Our advisers work ")
    assert other.exchange(MODEL_ONLY) == [emergency_text(None)]
    other.assert_urgent(ConversationStatus.QUEUED)
    assert other.handoffs() == ["asked_for_person"]


@pytest.mark.parametrize("channel", CHANNELS)
def test_rasa_down_the_phrase_floor_still_fires(
    stack: E2EStack, people: list[Person], rasa_down: str, channel: str
) -> None:
    person = new_person(people, stack, channel, rasa_down)
    started = time.monotonic()
    assert person.exchange(FLOOR) == [emergency_text(None)]
    assert time.monotonic() - started < 10
    person.assert_urgent(ConversationStatus.QUEUED)
    assert person.handoffs() == ["urgent"]
    # Queued because the bot was down, then a disclosure while waiting.
    other = new_person(people, stack, channel, rasa_down)
    assert other.exchange("How do we register as a charity?") == [BOT_UNAVAILABLE_TEXT]
    assert other.handoffs() == ["bot_unavailable"]
    assert other.exchange(FLOOR) == [emergency_text(None)]
    other.assert_urgent(ConversationStatus.QUEUED)
    assert other.handoffs() == ["bot_unavailable"]
