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

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
PROBE = Path(__file__).with_name("tracker_store_probe.py")


def probe(db: Path, mode: str) -> dict[str, Any]:
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
