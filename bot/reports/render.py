"""The report as JSON, CSV or a printable HTML page (with its charts)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from bot.db.base import utcnow
from bot.reports import charts

TEMPLATE_DIR = Path(__file__).parent / "templates"
CSS_PATH = TEMPLATE_DIR / "report.css"

REASON_TEXT = {
    "asked_for_person": "Asked for a person",
    "other_enquiry": "Other enquiry (outside our topics)",
    "accepted_offer": "Took the offer of an adviser after an answer",
    "urgent": "Urgent: someone may have been at risk",
    "bot_unavailable": "The assistant was unavailable",
    "out_of_hours": "Of these, handed over out of adviser hours",
}
OUTCOME_TEXT = {
    "answered": "Answered",
    "referred_to_lio": "Referred to a local organisation",
    "no_reply": "No reply from the person",
    "duplicate": "Duplicate",
    "other": "Other",
}
CHANNEL_TEXT = {"web": "Website chat", "telegram": "Telegram", "rasa": "Rasa (test)"}

_env = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def to_json(figures: dict[str, Any]) -> str:
    """Return the figures as indented JSON."""
    return json.dumps(figures, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def _rows(prefix: str, value: Any) -> list[tuple[str, str, str]]:
    """Flatten nested figures into (section, key, value) rows."""
    if isinstance(value, dict):
        rows: list[tuple[str, str, str]] = []
        for key, child in value.items():
            if isinstance(child, dict | list):
                rows += _rows(f"{prefix}.{key}" if prefix else str(key), child)
            else:
                rows.append((prefix or "total", str(key), _cell(child)))
        return rows
    if isinstance(value, list):
        rows = []
        for i, child in enumerate(value):
            rows += _rows(f"{prefix}.{i}", child)
        return rows
    return [(prefix, "", _cell(value))]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_csv(figures: dict[str, Any]) -> str:
    """Return the figures as CSV rows: section, key, value (one figure a row)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "key", "value"])
    skip = ("names",)
    for key, value in figures.items():
        if key in skip:
            continue
        if isinstance(value, dict | list):
            for row in _rows(key, value):
                writer.writerow(row)
        else:
            writer.writerow(["total", key, _cell(value)])
    return out.getvalue()


def _council(figures: dict[str, Any], code: str) -> str:
    name = figures.get("names", {}).get("councils", {}).get(code)
    return f"{name} ({code})" if name else code


def _organisation(figures: dict[str, Any], org: str) -> str:
    if org == "none":
        return "No organisation"
    return figures.get("names", {}).get("organisations", {}).get(org) or org


def _subtopic(key: str) -> str:
    topic, _, sub = key.partition("/")
    return f"{topic.capitalize()}: {sub.replace('_', ' ')}"


def chart_set(figures: dict[str, Any]) -> dict[str, Markup]:
    """Return the report's charts."""
    weeks = list(figures["by_week"].items())
    months = list(figures["by_month"].items())
    first = figures["first_reply_minutes"]
    resolution = figures["resolution_minutes"]
    return {
        "volume": charts.columns(
            "Enquiries by week" if len(months) <= 3 else "Enquiries by month",
            weeks if len(months) <= 3 else months,
        ),
        "topics": charts.bars(
            "Enquiries by topic",
            [(t.capitalize(), n) for t, n in figures["by_topic"].items()],
        ),
        "subtopics": charts.bars(
            "Enquiries by subtopic",
            [(_subtopic(t), n) for t, n in figures["by_subtopic"].items()][:12],
        ),
        "councils": charts.bars(
            "Enquiries by council area",
            [(_council(figures, c), n) for c, n in figures["by_council"].items()][:15],
        ),
        "channels": charts.bars(
            "Enquiries by channel",
            [(CHANNEL_TEXT.get(c, c), n) for c, n in figures["by_channel"].items()],
        ),
        "reasons": charts.bars(
            "Why conversations were handed over",
            [
                (REASON_TEXT.get(r, r), n)
                for r, n in figures["handover_reasons"].items()
                if r != "out_of_hours"
            ],
        ),
        "times": charts.paired(
            "Time to first reply and to resolution",
            [
                (
                    "First reply, in hours",
                    first["in_hours"]["median"],
                    first["in_hours"]["p90"],
                ),
                (
                    "First reply, out of hours",
                    first["out_of_hours"]["median"],
                    first["out_of_hours"]["p90"],
                ),
                (
                    "Resolution, in hours",
                    resolution["in_hours"]["median"],
                    resolution["in_hours"]["p90"],
                ),
                (
                    "Resolution, out of hours",
                    resolution["out_of_hours"]["median"],
                    resolution["out_of_hours"]["p90"],
                ),
            ],
        ),
        "ratings": charts.bars(
            "Ratings (1 = not at all, 5 = very much)",
            [(f"{s}", n) for s, n in figures["ratings"]["by_score"].items()],
            unit="ratings",
        ),
    }


def context(figures: dict[str, Any]) -> dict[str, Any]:
    """Return what the report templates need (figures, charts, labels)."""
    return {
        "f": figures,
        "charts": chart_set(figures),
        "reason_text": REASON_TEXT,
        "outcome_text": OUTCOME_TEXT,
        "council": lambda code: _council(figures, code),
        "organisation": lambda org: _organisation(figures, org),
        "generated": utcnow().strftime("%d %B %Y, %H:%M UTC"),
    }


def body(figures: dict[str, Any]) -> Markup:
    """Return the report's body (headline figures, charts, tables, method note)."""
    html = _env.get_template("_report_body.html").render(**context(figures))
    return Markup(html)  # noqa: S704 - rendered by an autoescaping template


def to_html(figures: dict[str, Any], *, stylesheet: str | None = None) -> str:
    """Return the printable report as one HTML document.

    ``stylesheet`` links a style sheet (the console serves one under its strict
    CSP); without it the styles are inlined, so the file stands alone.
    """
    return _env.get_template("report.html").render(
        body=body(figures),
        f=figures,
        stylesheet=stylesheet,
        inline_css=Markup(CSS_PATH.read_text(encoding="utf-8"))  # noqa: S704
        if stylesheet is None
        else None,
    )


def render(figures: dict[str, Any], fmt: str) -> str:
    """Return the report in ``fmt`` (json, csv or html)."""
    if fmt == "json":
        return to_json(figures)
    if fmt == "csv":
        return to_csv(figures)
    if fmt == "html":
        return to_html(figures)
    raise ValueError(f"unknown format {fmt!r}")
