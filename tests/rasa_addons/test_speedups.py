"""rasa_addons/speedups.py: Rasa's answers, faster (run in the Rasa environment)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_event_types_resolve_as_rasas_own_loop_does() -> None:
    result = subprocess.run(
        [str(ROOT / ".venv-rasa" / "bin" / "python"),
         str(Path(__file__).with_name("speedups_probe.py"))],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={"PATH": "/usr/bin:/bin", "PYTHONWARNINGS": "ignore",
             "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("PROBE-JSON "))
    report = json.loads(line.removeprefix("PROBE-JSON "))
    assert report["names"] > 20
    assert report["all_same"] is True
    assert report["late_found"] is True  # a class defined after the table
    assert report["topic"] is None
    assert report["default"] is True
    assert report["errors"] == ["Unknown event name 'no_such_event'."]
    assert report["round_trip"] == "SlotSet"
    # action calls keep their connection (one per endpoint object, not per call)
    kept = report["kept"]
    assert kept["answers"] == [{"echo": 0}, {"echo": 1}, {"echo": 2}]
    assert kept["status"] == 449  # an error answer still raises, as before
    assert kept["again"] == {"echo": 4}
    assert kept["session_open"] is True
    assert kept["after_close"] == {"echo": 5}  # a closed session is replaced
    # the first endpoint's four calls on one connection, the second endpoint's
    # own, and the one after the close: 3 (it was 6, one per call)
    assert kept["connections"] == 3
    # debug-log arguments are not deep-copied: in Rasa 3.6.21 every deepcopy of
    # these modules is inside a structlog debug call (a Rasa upgrade that adds
    # another use fails here), and `copy.copy` stays the real one
    logs = report["log_copies"]
    assert {k: v["sites"] for k, v in logs.items()} == {
        "processor": 6, "rule": 1, "memo": 3}
    for name, found in logs.items():
        assert found["all_debug"] is True, name
        assert found["other_uses"] == [], name
        assert found["passed_as_is"] is True, name
        assert found["copy_kept"] is True, name
