"""`frontdoor directory coverage|import` and `frontdoor locate` on the full data."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.directory.resolver import clear_resolvers
from bot.settings import get_settings

pytestmark = pytest.mark.integration

runner = CliRunner()


@pytest.fixture
def cli_db(directory_db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("DATABASE_URL", directory_db_url)
    get_settings.cache_clear()
    clear_resolvers()
    yield directory_db_url
    get_settings.cache_clear()
    clear_resolvers()


def test_coverage_lists_the_nine_areas_without_a_local_row(cli_db: str) -> None:
    result = runner.invoke(app, ["directory", "coverage"])
    assert result.exit_code == 0, result.output
    assert "9 council areas with no local organisation on record:" in result.output
    for line in ("England: Newham (E09000025)", "Wales: Carmarthenshire (W06000010)"):
        assert line in result.output
    assert "not verified for 12 months" in result.output


def test_locate_names_a_closed_body_and_reads_old_codes(cli_db: str) -> None:
    result = runner.invoke(app, ["locate", "a choir in Doncaster"])
    assert result.exit_code == 0, result.output
    assert "closed: Doncaster CVS [CVS] in March 2017" in result.output
    assert "low confidence, last checked November 2026]" in result.output
    result = runner.invoke(app, ["locate", "our council code is E08000016"])
    assert result.exit_code == 0, result.output
    assert "Barnsley (E08000038)" in result.output
    # the LAD column holds the current code; the old one only as the matched text
    row = next(line for line in result.output.splitlines() if "Barnsley" in line)
    assert "E08000038" in row
