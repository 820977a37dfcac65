"""TriageClassifier inside real Rasa: output keys, phrase floor, loud failures."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
CHECK = Path(__file__).parent / "rasa_side" / "triage_classifier_check.py"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("triage")
    result = subprocess.run(  # noqa: S603 (fixed argv)
        [str(PYTHON), str(CHECK), str(work)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={"PATH": "/usr/bin:/bin", "HOME": str(work), "PYTHONPATH": str(ROOT),
             "TF_CPP_MIN_LOG_LEVEL": "3", "RASA_TELEMETRY_ENABLED": "false"},
    )
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, result.stdout[-2000:] + result.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


def test_a_topic_question_gets_its_topic_and_subtopic(seen: dict) -> None:
    assert seen["topic"]["intent"] == "funding"
    assert seen["topic"]["subtopic"] == "funding/gift_aid"
    assert seen["topic"]["triage"]["urgent"] is False


def test_a_person_request_inside_a_topic_keeps_the_topic(seen: dict) -> None:
    got = seen["person_in_topic"]
    assert got["intent"] == "request_human"
    assert got["triage"]["person"] is True and got["triage"]["topic"] == "funding"


def test_the_phrase_floor_makes_a_message_urgent(seen: dict) -> None:
    got = seen["floor"]
    assert got["intent"] == "report_risk"
    assert got["triage"]["urgent"] is True and got["triage"]["risk_rule"] is True


def test_the_phrase_file_is_in_the_fingerprint(seen: dict) -> None:
    assert seen["fingerprint_follows_the_file"] is True


def test_training_fails_loudly_without_the_phrase_file(seen: dict) -> None:
    assert seen["missing_file"] != "trained"
    assert "risk phrase file" in seen["missing_file"]
