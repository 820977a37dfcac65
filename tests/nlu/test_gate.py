"""The CI gate on the frozen test split, and the splits' own guarantees."""

from __future__ import annotations

import hashlib
import json

import pytest

from scripts import eval_triage
from scripts import triage_metrics as tm
from scripts.nlu_data import TEST_DIR, load_splits, normalise

FLOORS = json.loads(eval_triage.FLOORS.read_text(encoding="utf-8"))


def _frozen_digest() -> str:
    h = hashlib.sha256()
    for path in sorted(TEST_DIR.glob("*.jsonl")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@pytest.mark.unit
def test_the_test_split_is_frozen() -> None:
    # Editing the frozen split to improve a score must be a visible decision:
    # change the digest in tests/nlu/floors.json in the same commit and say why.
    assert _frozen_digest() == FLOORS["frozen_sha256"]


@pytest.mark.unit
def test_no_message_is_in_two_splits() -> None:
    splits = load_splits()
    train = {normalise(e.text) for e in splits.train}
    dev = {normalise(e.text) for e in splits.dev}
    test = {normalise(e.text) for e in splits.test}
    assert not train & dev and not train & test and not dev & test
    assert len(splits.test) >= 1000 and len(splits.dev) >= 600
    kinds = {e.kind for e in splits.test}
    assert {"risk", "safety_nonurgent", "person", "other_enquiry"} <= kinds
    assert sum(e.urgent for e in splits.test) >= 80
    assert sum(e.kind == "safety_nonurgent" for e in splits.test) >= 80


@pytest.mark.e2e
def test_the_trained_model_meets_the_floors_on_the_frozen_split() -> None:
    splits = load_splits()
    preds, seconds, errors = eval_triage.classify(splits.test)
    run = eval_triage.SplitRun(splits.test, preds, tm.figures(splits.test, preds),
                               seconds, errors)
    assert errors == 0
    assert eval_triage.gate(run) == []


@pytest.mark.unit
def test_the_gate_reports_a_figure_below_its_floor(tmp_path) -> None:  # type: ignore[no-untyped-def]
    floors = tmp_path / "floors.json"
    floors.write_text(json.dumps({"at_least": {"urgent_recall": 0.97},
                                  "at_most": {"plain_topic_handed_over": 0.02}}))
    run = eval_triage.SplitRun([], [], {"urgent_recall": 0.9,
                                        "plain_topic_handed_over": 0.01}, 0, 0)
    assert eval_triage.gate(run, floors) == ["urgent_recall 0.900 < floor 0.97"]


@pytest.mark.unit
def test_floors_sit_just_under_the_measured_figures(tmp_path) -> None:  # type: ignore[no-untyped-def]
    floors = tmp_path / "floors.json"
    floors.write_text(json.dumps({"frozen_sha256": "x"}))
    figures: dict = {}
    for name in eval_triage.TARGETS:
        figures[name] = 0.5
        figures["n:" + name] = 200
    figures["topic_macro_f1"] = 0.9
    run = eval_triage.SplitRun([], [], figures, 0, 0)
    written = eval_triage.set_floors(run, floors)
    assert written["frozen_sha256"] == "x"
    assert written["at_least"]["topic_macro_f1"] == pytest.approx(0.89)
    assert written["at_least"]["urgent_recall"] == pytest.approx(0.485)
    assert written["at_most"]["plain_topic_handed_over"] == pytest.approx(0.515)
    assert eval_triage.gate(run, floors) == []
