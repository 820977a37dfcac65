"""The Welsh test split (issue 16): frozen, apart from training, and the trained
model meets the issue's targets on it (language detection too)."""

from __future__ import annotations

import hashlib
import json

import pytest

from scripts import eval_language, eval_triage, eval_welsh
from scripts.nlu_data import normalise, read_train

FLOORS = json.loads(eval_triage.FLOORS.read_text(encoding="utf-8"))


@pytest.mark.unit
def test_the_welsh_split_is_frozen() -> None:
    h = hashlib.sha256()
    for path in sorted(eval_language.WELSH_DIR.glob("*.jsonl")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    assert h.hexdigest() == FLOORS["welsh_sha256"]


@pytest.mark.unit
def test_no_welsh_test_message_is_in_training() -> None:
    welsh = eval_welsh.items()
    assert len(welsh) >= 100
    train = {normalise(e.text) for e in read_train()}
    assert not {normalise(e.text) for e in welsh} & train
    # Welsh training data exists for every intent the split uses
    trained_welsh = {e.intent for e in read_train() if e.kind.startswith("welsh")}
    assert {e.intent for e in welsh} <= trained_welsh


@pytest.mark.e2e
def test_the_trained_model_meets_the_welsh_targets() -> None:
    nlu = eval_welsh.run()
    assert nlu.errors == 0
    assert eval_welsh.gate(nlu, eval_language.run()) == []
