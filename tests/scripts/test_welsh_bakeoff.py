"""The Welsh bake-off's table (scripts/welsh_bakeoff.py) on a hand-made result."""

from __future__ import annotations

import pytest

from scripts import triage_metrics as tm
from scripts import welsh_bakeoff as wb
from scripts.nlu_data import Labelled

pytestmark = pytest.mark.unit

ITEMS = [
    Labelled("grant?", "funding", "grants"),
    Labelled("AGM?", "governance", "agm"),
    Labelled("helpers?", "volunteering", "recruiting"),
    Labelled("a person please", "request_human", person=True),
    Labelled("he is going to hurt himself", "report_risk", urgent=True),
]


def _pred(intent: str, topic: str = "other", urgent: bool = False) -> dict:
    return {"intent": intent, "topic": topic, "subtopic": None, "urgent": urgent,
            "handoff": intent in tm.OFFER_INTENTS}


RIGHT = [_pred("funding", "funding"), _pred("governance", "governance"),
         _pred("volunteering", "volunteering"), _pred("request_human"),
         _pred("report_risk", urgent=True)]
# one volunteering question sent to the wrong model and misread
ROUTED = RIGHT[:2] + [_pred("out_of_scope")] + RIGHT[3:]


def _figures(preds: list[dict]) -> dict:
    f = tm.figures(ITEMS, preds)
    f["topic_macro_f1_interval"] = [0.5, 1.0]
    return f


def _arm(label: str, routed: bool, cv: bool) -> dict:
    arm = {"label": label, "welsh_cv": _figures(RIGHT) if cv else None,
           "fit_seconds": 12.0, "rss_added_mb": 40.0, "model_file_mb": 20.0,
           "ms_per_message_median": {"cy": 3.0, "en": 3.5}}
    for key in ("dev_en", "test_en", "test_cy"):
        arm[key] = _figures(ROUTED if routed and key == "test_cy" else RIGHT)
        if routed:
            arm[key + "_oracle"] = _figures(RIGHT)
    return arm


def _result() -> dict:
    return {
        "n": {"train_en": 10, "train_cy": 5, "dev_en": 5, "test_en": 5,
              "test_cy": 5},
        "detected": {"dev_en": {"as_cy": 0, "n": 5}, "test_en": {"as_cy": 0, "n": 5},
                     "test_cy": {"as_cy": 4, "n": 5}},
        "welsh_model_choice": {"chosen": {"C": 3.0, "dense_weight": 0.5,
                                          "fallback": 0.4, "person_threshold": 0.4,
                                          "risk_threshold": 0.3}},
        "arms": {
            "shared": {**_arm("one shared model", routed=False, cv=True),
                       "fit_source": "models/frontdoor.tar.gz (Rasa training)"},
            "second": {**_arm("second model", routed=True, cv=True),
                       "fit_seconds_welsh": 1.5},
            "cy_no_minilm": _arm("no MiniLM for Welsh", routed=True, cv=False),
        },
    }


def _row(text: str, start: str) -> list[str]:
    line = next(ln for ln in text.splitlines() if ln.startswith("| " + start))
    return [c.strip() for c in line.strip("|").split("|")][1:]


def test_routing_loss_is_the_oracle_minus_the_routed_figure() -> None:
    text = wb.table(_result())
    shared, second, no_minilm = _row(text, "Welsh test: routing loss")
    assert shared == "none (no routing)"
    lost = tm.topic_macro_f1(ITEMS, RIGHT) - tm.topic_macro_f1(ITEMS, ROUTED)
    assert lost > 0
    assert second == f"{lost:+.3f} F1 (oracle 1.000)"
    assert "1/5 detected as English" in text


def test_counts_missing_cross_validation_and_training_time_are_shown() -> None:
    text = wb.table(_result())
    assert _row(text, "Welsh test: requests for a person")[0] == "1/1"
    assert _row(text, "Welsh test: people at risk")[1] == "1/1"
    assert _row(text, "Welsh CV (training")[2] == "not run"
    shared, second, _ = _row(text, "training time")
    assert "rasa train" in shared
    assert second == "12 (lab fit) (1.5 Welsh)"
    assert "C 3, dense weight 0.5" in text
