"""`frontdoor advisers add|list|deactivate`: passwords prompted or on stdin."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from bot.console import auth
from bot.db.models import Adviser, AdviserSession
from bot.db.repositories import advisers as repo
from bot.db.session import session_scope

pytestmark = pytest.mark.integration

runner = CliRunner()
GOOD = "a long enough passphrase"


def _advisers(db_url: str) -> list[Adviser]:
    with session_scope(db_url) as s:
        return list(s.scalars(select(Adviser)))


def test_add_prompts_twice_and_stores_an_argon2_hash(
    db_url: str, directory: dict[str, str]
) -> None:
    result = runner.invoke(
        app,
        [
            "advisers",
            "add",
            "Alex",
            "--name",
            "Alex Adviser",
            "--organisation",
            "lio900",
        ],
        input=f"{GOOD}\n{GOOD}\n",
    )
    assert result.exit_code == 0, result.output
    assert GOOD not in result.output  # the prompt hides the password
    [adviser] = _advisers(db_url)
    assert adviser.username == "alex"
    assert adviser.display_name == "Alex Adviser"
    assert adviser.organisation_id == "lio900"
    assert adviser.password_hash.startswith("$argon2id$")
    assert auth.verify_password(adviser.password_hash, GOOD)


def test_add_reads_the_password_from_stdin(db_url: str) -> None:
    result = runner.invoke(
        app,
        ["advisers", "add", "sam", "--name", "Sam", "--password-stdin"],
        input=f"{GOOD}\n",
    )
    assert result.exit_code == 0, result.output
    [adviser] = _advisers(db_url)
    assert adviser.organisation_id is None
    assert auth.verify_password(adviser.password_hash, GOOD)


def test_short_password_is_refused(db_url: str) -> None:
    result = runner.invoke(
        app,
        ["advisers", "add", "sam", "--name", "Sam", "--password-stdin"],
        input="short pass\n",
    )
    assert result.exit_code == 2
    assert "at least 12 characters" in result.output
    assert _advisers(db_url) == []


def test_mismatched_confirmation_asks_again(db_url: str) -> None:
    result = runner.invoke(
        app,
        ["advisers", "add", "sam", "--name", "Sam"],
        input=f"{GOOD}\nsomething else entirely\n{GOOD}\n{GOOD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output.lower() or "match" in result.output.lower()
    assert len(_advisers(db_url)) == 1


def test_empty_stdin_is_refused_not_defaulted(db_url: str) -> None:
    result = runner.invoke(
        app, ["advisers", "add", "sam", "--name", "Sam", "--password-stdin"], input=""
    )
    assert result.exit_code == 2
    assert _advisers(db_url) == []


def test_duplicate_username_and_unknown_organisation(
    db_url: str, directory: dict[str, str]
) -> None:
    args = ["advisers", "add", "sam", "--name", "Sam", "--password-stdin"]
    assert runner.invoke(app, args, input=f"{GOOD}\n").exit_code == 0
    again = runner.invoke(app, args, input=f"{GOOD}\n")
    assert again.exit_code == 1 and "already exists" in again.output
    unknown = runner.invoke(
        app,
        [
            "advisers",
            "add",
            "kim",
            "--name",
            "Kim",
            "--organisation",
            "lio999",
            "--password-stdin",
        ],
        input=f"{GOOD}\n",
    )
    assert unknown.exit_code == 2 and "no organisation" in unknown.output
    assert len(_advisers(db_url)) == 1


def test_list_and_deactivate_ends_sessions(db_url: str) -> None:
    runner.invoke(
        app,
        ["advisers", "add", "sam", "--name", "Sam Second", "--password-stdin"],
        input=f"{GOOD}\n",
    )
    [adviser] = _advisers(db_url)
    with session_scope(db_url) as s:
        auth.new_session(s, adviser_id=adviser.id, ttl=auth.IDLE_TTL)
    listed = runner.invoke(app, ["advisers", "list"])
    assert listed.exit_code == 0 and "Sam Second" in listed.output
    assert "argon2" not in listed.output
    result = runner.invoke(app, ["advisers", "deactivate", "sam"])
    assert result.exit_code == 0
    with session_scope(db_url) as s:
        assert s.scalars(select(AdviserSession)).all() == []
        found = repo.find_adviser(s, username="sam")
        assert found is not None and not found.active
    assert runner.invoke(app, ["advisers", "deactivate", "nobody"]).exit_code == 1


def test_there_is_no_default_account(db_url: str) -> None:
    assert _advisers(db_url) == []


def test_add_with_language_skills(db_url: str) -> None:
    """Issue 16: an adviser's languages (en by default; cy,en for Welsh too)."""
    result = runner.invoke(
        app,
        ["advisers", "add", "ffion", "--name", "Ffion", "--password-stdin",
         "--languages", "cy, en"],
        input=f"{GOOD}\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [adviser] = _advisers(db_url)
    assert adviser.languages == "cy,en"
    listed = runner.invoke(app, ["advisers", "list"])
    assert "cy,en" in listed.output
    bad = runner.invoke(
        app,
        ["advisers", "add", "jo", "--name", "Jo", "--password-stdin",
         "--languages", "fr"],
        input=f"{GOOD}\n",
    )  # fmt: skip
    assert bad.exit_code == 2 and "--languages" in bad.output
