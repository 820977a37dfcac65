"""The Rasa project as Rasa itself checks it: data validation and test stories."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
MODEL = ROOT / "models" / "frontdoor.tar.gz"

pytestmark = pytest.mark.e2e


def run_rasa(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RASA), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "RASA_TELEMETRY_ENABLED": "false",
        },
    )


def test_rasa_data_validates_without_warnings(tmp_path: Path) -> None:
    result = run_rasa("data", "validate", "--fail-on-warnings", tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_every_dialogue_flow_is_predicted(tmp_path: Path) -> None:
    out = tmp_path / "results"
    result = run_rasa(
        "test",
        "core",
        "--stories",
        "tests/rasa/test_stories.yml",
        "--model",
        str(MODEL),
        "--fail-on-prediction-errors",
        "--out",
        str(out),
        tmp_path=tmp_path,
    )
    failed = out / "failed_test_stories.yml"
    detail = failed.read_text() if failed.exists() else result.stderr[-3000:]
    assert result.returncode == 0, detail
    assert "Correct:" in result.stdout + result.stderr
