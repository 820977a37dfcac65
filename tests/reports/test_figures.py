"""Report figures against the scripted conversations, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Any

import pytest

from bot.db.models import ConversationFacts
from bot.db.repositories import access
from bot.db.session import session_scope
from bot.reports import figures as fig
from bot.reports.render import render
from tests.reports.conftest import Script

pytestmark = pytest.mark.integration

NOVEMBER = {"start": date(2026, 11, 1), "end": date(2026, 11, 30)}


def build(script: Script, organisation: str | None = None, **period: date) -> Any:
    with session_scope(script.url) as s:
        return fig.build(s, organisation_id=organisation, **(period or NOVEMBER))


def test_every_figure_of_the_scripted_month(scripted: Script) -> None:
    f = build(scripted)
    assert f["enquiries"] == 7  # December's is left out; erased c1 still counted
    assert f["answered_by_assistant"] == 2 and f["handed_over"] == 5
    assert f["assistant_accepted"] == 1
    assert f["handover_reasons"] == {
        "asked_for_person": 1,
        "other_enquiry": 1,
        "accepted_offer": 1,
        "urgent": 1,
        "bot_unavailable": 1,
        "out_of_hours": 1,
    }
    assert f["by_topic"] == {
        "funding": 3,
        "none": 2,
        "governance": 1,
        "volunteering": 1,
    }
    assert f["by_subtopic"] == {
        "funding/grants": 2,
        "governance/trustees": 1,
        "volunteering/dbs_checks": 1,
    }
    assert f["by_council"] == {
        "E07000001": 3,
        "E07000002": 1,
        "E07000003": 1,
        "W06000001": 1,
    }
    assert f["unknown_area"] == 1
    assert f["by_channel"] == {"web": 6, "telegram": 1}
    assert f["by_week"] == {"2026-W45": 7} and f["by_month"] == {"2026-11": 7}
    # first replies 10, 30, 780 (overnight) and 2 minutes after the hand-over
    first = f["first_reply_minutes"]
    assert (first["median"], first["p90"], first["count"]) == (20.0, 780.0, 4)
    assert (first["in_hours"]["median"], first["in_hours"]["p90"]) == (10.0, 30.0)
    assert first["out_of_hours"] == {"median": 780.0, "p90": 780.0, "count": 1}
    resolution = f["resolution_minutes"]
    assert (resolution["median"], resolution["p90"]) == (50.0, 810.0)
    assert f["outcomes"] == {"answered": 3, "referred_to_lio": 1}
    assert f["unresolved"] == 1
    # asked after c1, c2, c3 (resolved) and c4 (took the answer); never c6 (urgent)
    assert f["ratings"] == {
        "asked": 4,
        "responses": 3,
        "mean": 4.0,
        "by_score": {"1": 0, "2": 0, "3": 1, "4": 1, "5": 1},
    }
    assert f["fallback_areas"] == {"E07000003": 1} and f["fallback_enquiries"] == 1
    assert f["out_of_hours"] == 1
    assert f["least_confident"] == [
        {"intent": "nlu_fallback", "conversations": 1, "lowest_confidence": 0.31},
        {"intent": "funding", "conversations": 1, "lowest_confidence": 0.42},
    ]
    assert f["names"]["councils"]["E07000003"] == "Westdale"
    # c2 was referred from Testshire CVS to the Welsh CVC (and is theirs since)
    assert f["referred_on"] == 1
    assert f["referrals"]["by_organisation"] == {
        "lio900": {"sent": 1, "received": 0},
        "lio901": {"sent": 0, "received": 1},
    }
    assert set(f["by_organisation"]) == {"lio900", "lio901", "lio990", "none"}
    assert f["by_organisation"]["lio900"]["enquiries"] == 3
    assert f["by_organisation"]["lio900"]["referrals_sent"] == 1
    assert f["by_organisation"]["lio901"]["referrals_received"] == 1


def test_the_facts_hold_no_text_and_survive_the_conversation(scripted: Script) -> None:
    with session_scope(scripted.url) as s:
        row = s.get(ConversationFacts, scripted.ids["c1"])
        assert row is not None and row.rating == 5 and row.outcome == "answered"
    columns = {c.name: c.type for c in ConversationFacts.__table__.columns}
    banned = {"text", "content", "email", "contact_email", "place_name"}
    assert not banned & set(columns)


def test_an_organisation_sees_its_own_areas(scripted: Script) -> None:
    own = build(scripted, "lio900")
    assert own["enquiries"] == 4  # c1, c2, c3, c6: Northdale and Southdale
    assert set(own["by_council"]) == {"E07000001", "E07000002"}
    assert own["by_organisation"] == {}
    assert (own["referrals"]["sent"], own["referrals"]["received"]) == (1, 0)
    wales = build(scripted, "lio901")
    # c4 in its area, and c2 referred to it
    assert wales["enquiries"] == 2
    assert wales["by_council"] == {"W06000001": 1, "E07000002": 1}
    assert (wales["referrals"]["sent"], wales["referrals"]["received"]) == (0, 1)
    assert wales["ratings"]["mean"] == 3.5
    # the console's rule: a body sees what is routed to it, not its directory rows
    assert build(scripted, "lio990")["enquiries"] == 1  # c5, routed to it
    everything = build(scripted)
    assert everything["enquiries"] == 7 and everything["scope"]["all_areas"] is True
    assert "lio901" in everything["by_organisation"]
    # an adviser of two organisations sees both; a national role sees all
    with session_scope(scripted.url) as s:
        both = fig.adviser_scope(
            s, access.Scope(1, organisation_ids=frozenset({"lio900", "lio901"}))
        )
        assert fig.build(s, scope=both, **NOVEMBER)["enquiries"] == 5  # c1-c4, c6
        national = fig.adviser_scope(s, access.Scope(1, everything=True))
        assert fig.build(s, scope=national, **NOVEMBER)["enquiries"] == 7
        nobody = fig.adviser_scope(s, access.Scope(1))
        assert fig.build(s, scope=nobody, **NOVEMBER)["enquiries"] == 0


def test_the_period_is_whole_days(scripted: Script) -> None:
    f = build(scripted, start=date(2026, 11, 3), end=date(2026, 11, 4))
    assert f["enquiries"] == 2  # c3 (Tue evening) and c4 (Wed)
    assert build(scripted, start=date(2026, 12, 1), end=date(2026, 12, 31))[
        "enquiries"
    ] == 1
    with pytest.raises(ValueError):
        build(scripted, start=date(2026, 11, 5), end=date(2026, 11, 4))


def test_counts_under_five_are_suppressed(scripted: Script) -> None:
    exact = build(scripted, "lio900")
    shown = fig.suppress(exact)
    assert shown["enquiries"] == "<5" and shown["suppressed"] is True
    assert shown["by_council"] == {"E07000001": "<5", "E07000002": "<5"}
    assert shown["first_reply_minutes"]["median"] is None  # 4 replies: left out
    assert shown["ratings"]["mean"] is None and shown["ratings"]["responses"] == "<5"
    assert shown["ratings"]["by_score"]["1"] == 0  # zero identifies nobody
    everyone = fig.suppress(build(scripted))
    assert everyone["enquiries"] == 7 and everyone["handed_over"] == 5
    assert everyone["by_channel"] == {"web": 6, "telegram": "<5"}
    for org in everyone["by_organisation"].values():
        assert org["enquiries"] == "<5" or org["enquiries"] >= 5
    # nothing from 1 to 4 is left anywhere in the export
    assert not any(
        isinstance(v, int) and not isinstance(v, bool) and 0 < v < 5
        for v in _numbers(json.loads(render(shown, "json")), ("lowest_confidence",))
    )


def _numbers(node: Any, skip: tuple[str, ...] = ()) -> list[Any]:
    if isinstance(node, dict):
        return [
            v
            for k, child in node.items()
            if k not in skip and k not in ("median", "p90", "mean")
            for v in _numbers(child, skip)
        ]
    if isinstance(node, list):
        return [v for child in node for v in _numbers(child, skip)]
    return [node]


def test_json_csv_and_html(scripted: Script) -> None:
    f = fig.suppress(build(scripted))
    data = json.loads(render(f, "json"))
    for key in (
        "enquiries",
        "by_topic",
        "by_council",
        "handed_over",
        "answered_by_assistant",
        "first_reply_minutes",
        "outcomes",
        "ratings",
        "fallback_areas",
    ):
        assert key in data
    assert {"median", "p90"} <= set(data["first_reply_minutes"])
    assert {"responses", "mean"} <= set(data["ratings"])
    rows = list(csv.reader(io.StringIO(render(f, "csv"))))
    assert rows[0] == ["section", "key", "value"]
    assert ["total", "enquiries", "7"] in rows
    assert ["by_council", "E07000001", "<5"] in rows
    assert ["first_reply_minutes", "median", ""] in rows  # 4 replies: left out
    exact = list(csv.reader(io.StringIO(render(build(scripted), "csv"))))
    assert ["first_reply_minutes", "median", "20.0"] in exact
    assert ["first_reply_minutes.in_hours", "p90", "30.0"] in exact
    html = render(f, "html")
    assert html.startswith("<!doctype html>") and "<svg" in html
    assert 'data-figure="enquiries">7<' in html
    assert "Method" in html and "&lt;5" in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "<script" not in html
