"""The safety rules: when a message is urgent, and the one emergency text."""

from __future__ import annotations

import re

import pytest

from bot.db.models import Nation
from bot.domain.safety import RISK_INTENT, RiskCheck, emergency_text

pytestmark = pytest.mark.unit

# The only numbers the emergency text may give: 999, 112, 101, the NSPCC
# helpline and Samaritans.
ALLOWED_NUMBERS = {"999", "112", "101", "0808 800 5000", "116 123"}
NUMBER = re.compile(r"\d[\d ]*\d|\d")


def numbers_in(text: str) -> set[str]:
    return {m.group(0).strip() for m in NUMBER.finditer(text)}


def test_the_floor_or_the_model_makes_a_message_urgent() -> None:
    assert RiskCheck(phrase="not breathing").urgent
    assert RiskCheck(intent=RISK_INTENT).urgent
    assert RiskCheck(phrase="on fire", intent="funding").urgent
    assert not RiskCheck(intent="funding").urgent
    assert not RiskCheck().urgent
    assert RiskCheck(phrase="x").source == "phrase"
    assert RiskCheck(intent=RISK_INTENT).source == "model"
    assert RiskCheck(intent="greet").source is None


@pytest.mark.parametrize("nation", [None, *[n.value for n in Nation], "Atlantis"])
def test_every_wording_gives_the_uk_numbers_and_nothing_else(
    nation: str | None,
) -> None:
    text = emergency_text(nation)
    assert numbers_in(text) == ALLOWED_NUMBERS
    assert "999" in text and "112" in text
    assert "NSPCC helpline on 0808 800 5000" in text
    assert "Samaritans" in text and "116 123" in text
    assert "http" not in text and "www" not in text and "@" not in text
    assert text.splitlines()[0].startswith("If anyone is in immediate danger, call 999")
    assert "passed this conversation to an adviser as urgent" in text


@pytest.mark.parametrize("nation", ["England", "Wales", Nation.ENGLAND])
def test_england_and_wales_name_the_council_safeguarding_team(nation: str) -> None:
    text = emergency_text(nation)
    assert "council's safeguarding team (adult or children's services)" in text
    assert "call the police on 101" in text
    assert "Scotland" not in text and "Northern Ireland" not in text


def test_scotland_names_social_work_and_police_scotland() -> None:
    text = emergency_text(Nation.SCOTLAND)
    assert "council's social work department" in text
    assert "Police Scotland on 101" in text
    assert "safeguarding team" not in text and "PSNI" not in text


def test_northern_ireland_names_the_trust_gateway_team_and_the_psni() -> None:
    text = emergency_text("Northern Ireland")
    assert "Gateway team of your local Health and Social Care Trust" in text
    assert "PSNI on 101" in text
    assert "council's safeguarding team" not in text
    assert "Police Scotland" not in text


@pytest.mark.parametrize("nation", [None, "Atlantis"])
def test_an_unknown_nation_says_where_scotland_and_ni_differ(
    nation: str | None,
) -> None:
    text = emergency_text(nation)
    assert "council's safeguarding team" in text
    assert "In Scotland, that is the council's social work department" in text
    assert "Police Scotland on 101" in text
    assert "Health and Social Care Trust" in text and "PSNI on 101" in text


def test_the_text_is_stable() -> None:
    assert emergency_text(None) == emergency_text(None)
    assert emergency_text("England") == emergency_text(Nation.ENGLAND)
