"""The phrase floor: risky messages match it, safety-worded policy questions don't."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.domain import risk_phrases
from bot.domain.risk_phrases import (
    PHRASES_FILE,
    PhraseFloor,
    compile_floor,
    normalise,
    read_patterns,
)

pytestmark = pytest.mark.unit

HERE = Path(__file__).parent


def _lines(name: str) -> list[str]:
    text = (HERE / name).read_text(encoding="utf-8")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and ln[0] != "#"]


RISKY = _lines("risky.txt")
NOT_URGENT = _lines("not_urgent.txt")
PATTERNS = read_patterns(PHRASES_FILE.read_text(encoding="utf-8"))


def test_the_test_sets_are_big_enough_and_apart() -> None:
    assert len(RISKY) >= 20 and len(NOT_URGENT) >= 20
    assert len(set(RISKY)) == len(RISKY) and len(set(NOT_URGENT)) == len(NOT_URGENT)
    assert not set(map(str.lower, RISKY)) & set(map(str.lower, NOT_URGENT))


@pytest.mark.parametrize("text", RISKY)
def test_a_risky_message_matches_the_floor(text: str) -> None:
    assert risk_phrases.match(text) is not None, text


@pytest.mark.parametrize("text", NOT_URGENT)
def test_safety_wording_that_is_not_an_emergency_does_not_match(text: str) -> None:
    assert risk_phrases.match(text) is None, (text, risk_phrases.match(text))


def test_every_pattern_earns_its_place() -> None:
    """Each line of the phrase file matches at least one risky message."""
    idle = [
        p
        for p in PATTERNS
        if not any(compile_floor([p]).search(normalise(t)) for t in RISKY)
    ]
    assert idle == [], "add a message to tests/domain/risky.txt for each of these"


def test_each_pattern_compiles_on_its_own() -> None:
    # Rasa's classifier joins the same lines into one expression: a line that
    # only compiles together with its neighbours would break it.
    for pattern in PATTERNS:
        re.compile(pattern)


def test_case_apostrophes_and_spacing_do_not_matter() -> None:
    for text in (
        "THERE IS A FIRE IN THE HALL",
        "there\u2019s a fire in the hall",
        "theres   a fire in\nthe hall",
    ):
        assert risk_phrases.match(text) is not None, text


def test_matches_on_word_boundaries_only() -> None:
    floor = PhraseFloor(["on fire"])
    assert floor.match("the shed is on fire") == "on fire"
    assert floor.match("bonfire night grant") is None
    assert floor.match("a moon fireworks show") is None


def test_hypotheticals_in_a_policy_question_are_guarded() -> None:
    assert risk_phrases.match("there's a fire in the kitchen") == "there's a fire"
    assert risk_phrases.match("what do we do if there's a fire in the kitchen") is None
    assert risk_phrases.match("unconscious bias training") is None
    assert risk_phrases.match("he was unconscious when we found him") is not None


def test_the_match_is_the_words_that_fired() -> None:
    assert risk_phrases.match("Help, he's not breathing!") == "not breathing"
    assert risk_phrases.match("How do we apply for a grant?") is None
    assert risk_phrases.match("") is None


def test_reading_a_phrase_file(tmp_path: Path) -> None:
    path = tmp_path / "phrases.txt"
    path.write_text("# a comment\n\n  not breathing  \n   # indented comment\nfire\n")
    floor = PhraseFloor.from_file(path)
    assert floor.patterns == ["not breathing", "fire"]
    assert floor.match("FIRE!") == "FIRE"


def test_an_empty_phrase_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "phrases.txt"
    path.write_text("# nothing but comments\n")
    with pytest.raises(ValueError, match="no patterns"):
        PhraseFloor.from_file(path)


def test_the_project_floor_is_read_once() -> None:
    assert risk_phrases.get_floor() is risk_phrases.get_floor()
    assert risk_phrases.get_floor().patterns == PATTERNS
