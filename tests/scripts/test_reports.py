"""The metric helpers behind `make eval` and `make bench`, on tiny hand-made inputs."""

from __future__ import annotations

import math

import pytest

from scripts import nlu_metrics as m
from scripts.eval_runs import TriageRun, check_contract, parse_nlu
from scripts.report_common import Target, md_table

pytestmark = pytest.mark.unit

# Six fake predictions: two per topic-ish case, one off-topic leak, one fallback.
GOLD = ["funding", "funding", "governance", "volunteering", "out_of_scope",
        "out_of_scope"]  # fmt: skip
PRED = ["funding", "governance", "governance", "nlu_fallback", "funding",
        "out_of_scope"]  # fmt: skip


def test_topic_of_maps_everything_else_to_other() -> None:
    assert m.topic_of("funding") == "funding"
    assert m.topic_of("out_of_scope") == "other"
    assert m.topic_of("nlu_fallback") == "other"
    assert m.topic_of(None) == "other"
    assert m.split_intent("funding/gift_aid") == ("funding", "gift_aid")
    assert m.split_intent("greet") == ("greet", None)


def test_macro_f1_over_the_three_topics() -> None:
    gold = [m.topic_of(g) for g in GOLD]
    pred = [m.topic_of(p) for p in PRED]
    scores = m.label_scores(gold, pred, m.TOPICS)
    # funding: 1 right of 2 predicted, 1 of 2 gold -> P=R=F1=0.5
    assert scores["funding"].f1 == pytest.approx(0.5)
    # governance: 1 right of 2 predicted, 1 of 1 gold -> P=.5 R=1 F1=2/3
    assert scores["governance"].precision == pytest.approx(0.5)
    assert scores["governance"].recall == pytest.approx(1.0)
    assert scores["governance"].f1 == pytest.approx(2 / 3)
    # volunteering: fell back, never correct -> 0
    assert scores["volunteering"].f1 == 0.0
    assert m.macro_f1(gold, pred) == pytest.approx((0.5 + 2 / 3 + 0.0) / 3)


def test_fallback_is_never_correct() -> None:
    scores = m.label_scores(["nlu_fallback"], ["nlu_fallback"], ["nlu_fallback"])
    # a gold label of nlu_fallback never occurs in the split; the helper itself
    # is label-agnostic, so the report leaves nlu_fallback out of the gold labels
    assert scores["nlu_fallback"].f1 == 1.0
    per = m.label_scores(GOLD, PRED, sorted(set(GOLD)))
    assert "nlu_fallback" not in per
    assert per["volunteering"].recall == 0.0


def test_kept_out_and_handed_over() -> None:
    pred_topics = [m.topic_of(p) for p in PRED]
    assert m.kept_out(GOLD, pred_topics) == pytest.approx(0.5)
    gold_topics = [m.topic_of(g) for g in GOLD]
    handoffs = [False, False, False, True, False, True]
    # four topic messages, one handed over (the fallback)
    assert m.handed_over(gold_topics, handoffs) == pytest.approx(0.25)
    assert math.isnan(m.kept_out(["funding"], ["funding"]))


def test_subtopic_accuracy_counts_only_right_topics() -> None:
    acc, n = m.subtopic_accuracy(
        ["funding", "funding", "governance", "other"],
        ["gift_aid", "grants", "agm", None],
        ["funding", "governance", "governance", "other"],
        ["gift_aid", "agm", "trustees", None],
    )
    assert n == 2
    assert acc == pytest.approx(0.5)


def test_with_fallback_threshold_and_ambiguity() -> None:
    ranking = [{"name": "funding", "confidence": 0.50},
               {"name": "governance", "confidence": 0.47}]  # fmt: skip
    assert m.with_fallback(ranking, 0.3, 0.0) == ("funding", 0.5)
    assert m.with_fallback(ranking, 0.6, 0.0)[0] == "nlu_fallback"
    assert m.with_fallback(ranking, 0.3, 0.05)[0] == "nlu_fallback"
    assert m.with_fallback([], 0.3, 0.0)[0] == "nlu_fallback"


def test_sweep_replays_the_threshold() -> None:
    gold = ["funding", "out_of_scope"]
    rankings = [
        [{"name": "funding", "confidence": 0.55}, {"name": "greet", "confidence": 0.1}],
        [{"name": "funding", "confidence": 0.4}, {"name": "greet", "confidence": 0.1}],
    ]
    learned = m.handoff_map(["funding", "nlu_fallback"], [False, True])
    low, high = m.sweep(gold, rankings, [0.3, 0.5], 0.0, learned)
    assert low.kept_out == 0.0 and low.handed_over == 0.0
    assert high.kept_out == 1.0 and high.handed_over == 0.0
    assert high.fallback_share == 0.5
    assert high.topic_macro_f1 == pytest.approx(1 / 3)


def test_confusion_and_percentile() -> None:
    matrix = m.confusion(GOLD, PRED, ["funding", "out_of_scope"],
                         ["funding", "governance", "out_of_scope"])  # fmt: skip
    assert matrix == [[1, 1, 0], [1, 0, 1]]
    assert m.percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    assert m.percentile([5.0], 99) == 5.0
    assert math.isnan(m.percentile([], 50))


def test_target_verdicts_say_by_how_much() -> None:
    assert Target(0.92).verdict(0.95) == "met"
    assert "0.020" in Target(0.92).verdict(0.90)
    assert "over" in Target(0.05, higher=False).verdict(0.07, "{:.2f}")
    assert md_table(["a", "b"], [[1, 2]]).splitlines()[2] == "| 1 | 2 |"


def test_triage_contract_check() -> None:
    lines = ['{"id": 1, "text": "gift aid"}', "{broken", '{"id": 3}']
    good = {"id": 1, "topic": "funding", "confidence": 0.9, "handoff": False,
            "urgent": False, "intent": "funding", "subtopic": "gift_aid",
            "lad_code": None, "organisations": [], "language": "en"}  # fmt: skip
    run = TriageRun(lines, [good, {"id": None, "error": "x"},
                            {"id": 3, "error": "y"}], 1.0, 0)  # fmt: skip
    assert check_contract(run) == []
    swapped = TriageRun(lines, [run.outputs[1], good, run.outputs[2]], 1.0, 0)
    assert any("id" in p for p in check_contract(swapped))
    short = TriageRun(lines, [good], 1.0, 0)
    assert any("outputs" in p for p in check_contract(short))
    no_urgent = {k: v for k, v in good.items() if k != "urgent"}
    missing = TriageRun(lines, [no_urgent, *run.outputs[1:]], 1.0, 0)
    assert "line 1: missing 'urgent'" in check_contract(missing)
    french = TriageRun(lines, [{**good, "language": "fr"}, *run.outputs[1:]], 1.0, 0)
    assert "line 1: language 'fr'" in check_contract(french)


def test_parse_nlu_splits_retrieval_intents() -> None:
    text = (
        'version: "3.1"\nnlu:\n- intent: funding/gift_aid\n  examples: |\n'
        "    - gift aid on [cakes](item)\n- intent: greet\n  examples: |\n    - hi\n"
        "- lookup: places\n  examples: |\n    - leeds\n"
    )
    assert [(e.text, e.intent, e.subtopic) for e in parse_nlu(text)] == [
        ("gift aid on cakes", "funding", "gift_aid"),
        ("hi", "greet", None),
    ]


# ------------------------------------------------------------------ make bench


def test_recorder_summary_counts_good_turns_only() -> None:
    from scripts.bench_driver import Recorder, Turn

    rec = Recorder()
    for ms in (100, 200, 300, 400):
        rec.turns.append(Turn("widget", 0.0, ms / 1000, ms / 1000))
    rec.turns.append(Turn("widget", 0.0, 15.0, 15.0, "no reply"))
    rec.turns.append(Turn("rasa", 0.0, 0.05, 0.05))
    s = rec.summary("widget", seconds=2.0)
    assert s["turns"] == 4 and s["errors"] == 1
    assert s["msg_per_s"] == pytest.approx(2.0)
    assert s["p50"] == pytest.approx(250.0)
    assert rec.summary(None, 1.0)["turns"] == 5
    assert rec.errors() == {"widget: no reply": 1}


def test_asks_place_recognises_the_location_question() -> None:
    from scripts.bench_driver import _asks_place

    assert _asks_place(["Thanks.", "Where is your group based? A postcode is fine."])
    assert not _asks_place(["Would you like to talk to a human adviser about this?"])


def test_overhead_and_peak() -> None:
    from scripts.bench_report import overhead, peak

    assert overhead(110.0, 100.0) == pytest.approx(0.10)
    assert math.isnan(overhead(1.0, 0.0))
    runs = [
        {"target": "widget", "people": 2, "overall": {"msg_per_s": 10.0}},
        {"target": "widget", "people": 4, "overall": {"msg_per_s": 14.0}},
        {"target": "rasa", "people": 4, "overall": {"msg_per_s": 20.0}},
    ]
    best = peak(runs, "widget")
    assert best is not None and best["people"] == 4
    assert peak(runs, "telegram") is None


def test_py_spy_collapsed_stacks_are_summed() -> None:
    from scripts.bench_profile import parse_collapsed, top_lines

    text = (
        "main (/x/site-packages/app.py:1);handle (/x/site-packages/app.py:5);"
        "validate (/x/site-packages/jsonschema/v.py:9) 3\n"
        "main (/x/site-packages/app.py:1);handle (/x/site-packages/app.py:5) 1\n"
        "garbage line\n"
    )
    prof = parse_collapsed(text)
    assert prof.samples == 4
    assert prof.self_time["jsonschema/v.py:validate"] == 3
    assert prof.inclusive["app.py:handle"] == 4
    # frames in (nearly) every sample are plumbing and left out
    assert top_lines(prof) == ["75.0%  jsonschema/v.py:validate"]


async def test_a_person_keeps_pace_up_to_the_deadline() -> None:
    import random
    import time

    from scripts.bench_driver import Recorder, Reply, converse

    class Echo:
        name = "fake"

        def __init__(self) -> None:
            self.sent: list[str] = []

        async def start(self) -> None:
            return None

        async def say(self, text: str) -> Reply:
            self.sent.append(text)
            return Reply(["Where is your group based?"], 0.001, 0.001)

    channel, rec = Echo(), Recorder()
    deadline = time.perf_counter() + 0.25
    await converse(channel, random.Random(1), rec, lambda: 0.2, deadline)
    # 0.2 s between messages and 0.25 s to go: two messages at most, never a burst
    assert 1 <= len(channel.sent) <= 2
    assert len(rec.turns) == len(channel.sent)
    assert all(t.error is None for t in rec.turns)
