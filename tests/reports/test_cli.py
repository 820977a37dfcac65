"""`frontdoor report`: the three formats, the organisation's scope, suppression."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.reports.conftest import Script

pytestmark = pytest.mark.integration

PERIOD = ["report", "--from", "2026-11-01", "--to", "2026-11-30"]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*PERIOD, *args])
    return result.exit_code, result.output


def test_json_is_suppressed_unless_exact(scripted: Script) -> None:
    code, out = run("--format", "json", "--organisation", "lio900")
    assert code == 0, out
    shared = json.loads(out)
    assert shared["enquiries"] == "<5" and shared["suppressed"] is True
    code, out = run("--format", "json", "--organisation", "lio900", "--exact")
    assert json.loads(out)["enquiries"] == 4
    assert json.loads(run("--format", "json")[1])["enquiries"] == 7


def test_csv_and_html_to_a_file(scripted: Script, tmp_path: Path) -> None:
    code, out = run("--format", "csv")
    assert code == 0 and out.splitlines()[0] == "section,key,value"
    assert "total,enquiries,7" in out.splitlines()
    target = tmp_path / "report.html"
    code, _ = run("--format", "html", "--output", str(target))
    html = target.read_text()
    assert code == 0 and "<style>" in html and "<svg" in html
    assert 'data-figure="handed_over">5<' in html


def test_mistakes_say_what_to_do(scripted: Script) -> None:
    code, out = run("--format", "pdf")
    assert code == 2 and "html, csv or json" in out
    code, out = run("--organisation", "nope")
    assert code == 1 and "no organisation" in out
    result = CliRunner().invoke(app, ["report", "--from", "2026-11-31", "--to", "x"])
    assert result.exit_code == 2 and "not a date" in result.output
