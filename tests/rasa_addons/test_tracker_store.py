"""Rasa's SQL tracker store with the app's SQLite settings.

rasa_addons/tracker_store.py.

Runs the real store in the Rasa environment, in two processes: one saves a
conversation, a second (as after a restart of Rasa) reads it back.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BACKENDS, create_database

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
PROBE = Path(__file__).with_name("tracker_store_probe.py")


def probe(db: Path | str, mode: str) -> dict[str, Any]:
    result = subprocess.run(
        [str(PYTHON), str(PROBE), str(db), mode],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={"PATH": "/usr/bin:/bin", "PYTHONWARNINGS": "ignore",
             "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("PROBE-JSON "))
    return json.loads(line.removeprefix("PROBE-JSON "))


def test_sqlite_connections_get_the_apps_settings_and_state_survives(
    tmp_path: Path,
) -> None:
    db = tmp_path / "frontdoor.db"
    saved = probe(db, "save")
    assert saved["journal_mode"] == "wal"
    assert saved["synchronous"] == 1  # NORMAL (FULL is 2)
    assert saved["busy_timeout"] == 10_000
    assert saved["pool"] == "SingletonThreadPool"
    # 8 events and the slot, once: the second save of the same tracker adds none
    assert saved["rows"] == 9
    # the gateway's channel reads the saved tracker instead of fetching it again
    assert saved["taken_is_saved"] is True
    assert saved["taken_again"] is None
    assert saved["other_store"] is None
    loaded = probe(db, "load")  # another process, as after a restart
    assert loaded["rows"] == 9
    assert loaded["texts"] == ["hello", "we need a grant for our hall roof"]
    assert loaded["slots"] == {saved["slot"]: "kept"}
    assert loaded["synchronous"] == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_save_adds_only_new_events_and_reads_see_the_latest_session(
    backend: str, tmp_path: Path
) -> None:
    # the store's own statements (built once) must keep SQLTrackerStore's
    # meaning on both backends: a read returns the latest session's events, a
    # full read all of them, and a save writes only what is not stored yet
    reports = {}
    for kind in ("ours", "rasa"):
        url, drop = create_database(backend, tmp_path)
        try:
            # Rasa's environment has psycopg2, named by the dialect alone
            reports[kind] = probe(
                url.replace("postgresql+psycopg://", "postgresql://"),
                f"sessions:{kind}",
            )
        finally:
            drop()
    report = reports["ours"]
    assert report == reports["rasa"]  # Rasa's own store reads and writes the same
    assert report["dialect"] == backend
    assert report["rows"] == report["events"] == 13
    assert report["intents"] == ["funding", "funding", "greet"]
    assert "action_listen" in report["actions"]
    assert report["latest_texts"] == ["a new session"]
    assert report["full_texts"] == ["first question", "second question",
                                    "a new session"]
    assert report["missing"] is None
