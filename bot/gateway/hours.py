"""Adviser hours ("Mon-Fri 09:00-17:00" in Europe/London): open now, and when next."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.i18n import text

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)
_SEGMENT = re.compile(
    r"^\s*(?P<d1>[a-z]{3})[a-z]*(?:\s*-\s*(?P<d2>[a-z]{3})[a-z]*)?\s+"
    r"(?P<t1>\d{1,2}:\d{2})\s*-\s*(?P<t2>\d{1,2}:\d{2})\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class AdviserHours:
    """Opening windows per weekday (0 = Monday), in one time zone."""

    spec: str
    windows: tuple[tuple[tuple[time, time], ...], ...]
    tz: ZoneInfo

    @classmethod
    def parse(cls, spec: str, tz: str = "Europe/London") -> AdviserHours:
        """Parse ``"Mon-Fri 09:00-17:00; Sat 10:00-12:00"``; ValueError if malformed."""
        days: list[list[tuple[time, time]]] = [[] for _ in DAYS]
        for part in filter(None, (p.strip() for p in re.split(r"[;,]", spec))):
            m = _SEGMENT.match(part)
            if not m:
                raise ValueError(f"cannot read adviser hours {part!r}")
            d1 = DAYS.index(m["d1"].lower())
            d2 = DAYS.index((m["d2"] or m["d1"]).lower())
            start, end = (
                time.fromisoformat(m["t1"].zfill(5)),
                time.fromisoformat(m["t2"].zfill(5)),
            )
            if end <= start:
                raise ValueError(f"adviser hours end before they start: {part!r}")
            day = d1
            while True:
                days[day].append((start, end))
                if day == d2:
                    break
                day = (day + 1) % 7
        return cls(
            spec=spec,
            windows=tuple(tuple(sorted(w)) for w in days),
            tz=ZoneInfo(tz),
        )

    def is_open(self, now: datetime) -> bool:
        """Return whether advisers are working at ``now`` (an aware datetime)."""
        local = now.astimezone(self.tz)
        return any(
            start <= local.time() < end for start, end in self.windows[local.weekday()]
        )

    def next_opening(self, now: datetime) -> datetime | None:
        """Return when advisers next start work after ``now`` (local time)."""
        local = now.astimezone(self.tz)
        for offset in range(8):
            day = (local + timedelta(days=offset)).date()
            for start, _end in self.windows[day.weekday()]:
                opening = datetime.combine(day, start, tzinfo=self.tz)
                if opening > local:
                    return opening
        return None

    def describe_next_opening(self, now: datetime, language: str | None = None) -> str:
        """Return e.g. "tomorrow (Tuesday) at 09:00" or "on Monday at 09:00"."""
        opening = self.next_opening(now)
        if opening is None:
            return text("gateway.when_available", language)
        local_today = now.astimezone(self.tz).date()
        at = opening.strftime("%H:%M")
        day = text(f"gateway.days.{DAYS[opening.weekday()]}", language)
        days_ahead = (opening.date() - local_today).days
        if days_ahead == 0:
            return text("gateway.today_at", language, at=at)
        if days_ahead == 1:
            return text("gateway.tomorrow_at", language, day=day, at=at)
        return text("gateway.on_day_at", language, day=day, at=at)

    def describe(self, language: str | None = None) -> str:
        """The hours as configured, with the day names in ``language``."""

        def day(m: re.Match[str]) -> str:
            key = m.group(0)[:3].lower()
            return text(f"gateway.day_abbreviations.{key}", language)

        return re.sub(r"\b(?:%s)[a-z]*\b" % "|".join(DAYS), day, self.spec, flags=re.I)


def out_of_hours_notice(
    hours: AdviserHours, now: datetime, language: str | None = None
) -> str:
    """Return what the person is told when handed over outside adviser hours."""
    return text(
        "gateway.out_of_hours",
        language,
        hours=hours.describe(language) if language == "cy" else hours.spec,
        when=hours.describe_next_opening(now, language),
    )
