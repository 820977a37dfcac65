"""Adviser hours: parsing, open or not, and when they next open (London time)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.gateway.hours import AdviserHours, out_of_hours_notice

pytestmark = pytest.mark.unit

HOURS = AdviserHours.parse("Mon-Fri 09:00-17:00", "Europe/London")


@pytest.mark.parametrize(
    ("when", "open_"),
    [
        (datetime(2027, 1, 13, 9, 0, tzinfo=UTC), True),  # Wed 09:00 GMT
        (datetime(2027, 1, 13, 16, 59, tzinfo=UTC), True),
        (datetime(2027, 1, 13, 17, 0, tzinfo=UTC), False),
        (datetime(2027, 1, 16, 11, 0, tzinfo=UTC), False),  # Saturday
        # British Summer Time: 08:30 UTC is 09:30 in London.
        (datetime(2027, 7, 14, 8, 30, tzinfo=UTC), True),
        (datetime(2027, 7, 14, 16, 30, tzinfo=UTC), False),
    ],
)
def test_is_open(when: datetime, open_: bool) -> None:
    assert HOURS.is_open(when) is open_


def test_next_opening_descriptions() -> None:
    friday_evening = datetime(2027, 1, 15, 18, 0, tzinfo=UTC)
    assert HOURS.describe_next_opening(friday_evening) == "on Monday at 09:00"
    tuesday_night = datetime(2027, 1, 12, 20, 0, tzinfo=UTC)
    assert HOURS.describe_next_opening(tuesday_night) == "tomorrow (Wednesday) at 09:00"
    early = datetime(2027, 1, 13, 7, 0, tzinfo=UTC)
    assert HOURS.describe_next_opening(early) == "today at 09:00"


def test_several_windows_and_wraparound_days() -> None:
    hours = AdviserHours.parse("Sat-Mon 10:00-12:00; Wed 18:00-20:00")
    assert hours.is_open(datetime(2027, 1, 17, 11, 0, tzinfo=UTC))  # Sunday
    assert not hours.is_open(datetime(2027, 1, 19, 11, 0, tzinfo=UTC))  # Tuesday
    assert hours.is_open(datetime(2027, 1, 13, 19, 0, tzinfo=UTC))  # Wednesday


@pytest.mark.parametrize("spec", ["Mon-Fri", "Funday 09:00-17:00", "Mon 17:00-09:00"])
def test_malformed_hours_are_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        AdviserHours.parse(spec)


def test_notice_says_when_and_invites_email() -> None:
    text = out_of_hours_notice(HOURS, datetime(2027, 1, 16, 11, 0, tzinfo=UTC))
    assert "Monday at 09:00" in text and "email address" in text
