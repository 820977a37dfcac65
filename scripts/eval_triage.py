"""The NLU part of `make eval`: the frozen test split, dev beside it, the gate.

The trained model classifies every dev and test message through the same
Rasa-side worker as `make triage` (bot.triage.classify). Figures are those of
issue 8 (scripts/triage_metrics.py), with 95% intervals: Wilson for shares, a
bootstrap for macro-F1. ``gate`` compares the test figures with the floors in
tests/nlu/floors.json (set just under the measured figures) and lists what fell
below, so a regression fails `make test`.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from scripts import triage_metrics as tm  # noqa: E402
from scripts.nlu_data import ROOT, TOPICS, Labelled, Splits, load_splits  # noqa: E402
from scripts.report_common import IMG, md_table, pct  # noqa: E402

FLOORS = ROOT / "tests" / "nlu" / "floors.json"
BAKEOFF = ROOT / "docs" / "nlu" / "bakeoff.json"
CV = ROOT / "docs" / "nlu" / "cv.json"

# figure -> (label, target, higher is better)
TARGETS: dict[str, tuple[str, float, bool]] = {
    "topic_macro_f1": ("topic macro-F1 (funding / governance / volunteering)", 0.92,
                       True),
    "off_topic_kept_out": ("everyday off-topic kept out of the three topics", 0.97,
                           True),
    "person_handed_over": ("explicit requests for a person handed over", 0.96, True),
    "plain_topic_handed_over": ("plain topic questions handed over as a person "
                                "request", 0.02, False),
    "other_offered_person": ("legitimate non-topic enquiries offered a person",
                             0.90, True),
    "in_topic_answered": ("in-topic enquiries answered, not handed over", 0.92, True),
    "urgent_recall": ("people at risk flagged urgent and handed over", 0.97, True),
    "urgent_false_alarms_safety_worded": ("false alarms on safety-worded "
                                          "non-urgent messages", 0.05, False),
}


@dataclass
class SplitRun:
    items: list[Labelled]
    preds: list[dict[str, Any]]
    figures: dict[str, Any]
    seconds: float
    errors: int


def classify(items: list[Labelled]) -> tuple[list[dict[str, Any]], float, int]:
    """The worker's result for each message (a failed one counts as fallback)."""
    import time

    from bot.triage import classify as worker_classify

    t0 = time.perf_counter()
    results = worker_classify([(i, e.text) for i, e in enumerate(items)])
    seconds = time.perf_counter() - t0
    preds, errors = [], 0
    for i in range(len(items)):
        r = results.get(i) or {"error": "missing"}
        if "error" in r:
            errors += 1
            r = {"intent": "nlu_fallback", "topic": "other", "handoff": True}
        preds.append(r)
    return preds, seconds, errors


def run(splits: Splits | None = None) -> tuple[Splits, SplitRun, SplitRun]:
    splits = splits or load_splits()
    out = []
    for items in (splits.dev, splits.test):
        preds, seconds, errors = classify(items)
        out.append(SplitRun(items, preds, tm.figures(items, preds), seconds, errors))
    return splits, out[0], out[1]


def interval(name: str, r: SplitRun) -> tuple[float, float]:
    if name == "topic_macro_f1":
        return tm.bootstrap(r.items, r.preds, tm.topic_macro_f1, rounds=400)
    return tm.wilson(r.figures["right:" + name], r.figures["n:" + name])


def gate(test: SplitRun, floors_path: Path = FLOORS) -> list[str]:
    """What fell below its floor (or above its ceiling) on the test split."""
    floors = json.loads(floors_path.read_text(encoding="utf-8"))
    problems = []
    for name, limit in floors.get("at_least", {}).items():
        value = test.figures.get(name, float("nan"))
        if math.isnan(value) or value < limit:
            problems.append(f"{name} {value:.3f} < floor {limit}")
    for name, limit in floors.get("at_most", {}).items():
        value = test.figures.get(name, float("nan"))
        if math.isnan(value) or value > limit:
            problems.append(f"{name} {value:.3f} > ceiling {limit}")
    return problems


def set_floors(test: SplitRun, floors_path: Path = FLOORS) -> dict[str, Any]:
    """Floors just under (ceilings just over) the measured test figures.

    The margin is 0.01 for macro-F1 and, for a share, one message or a point and
    a half, whichever is larger, so retraining noise passes and a regression
    fails.
    """
    floors = json.loads(floors_path.read_text(encoding="utf-8"))
    at_least, at_most = {}, {}
    for name, (_label, _target, higher) in TARGETS.items():
        value = test.figures[name]
        n = test.figures.get("n:" + name) or 0
        margin = 0.01 if name == "topic_macro_f1" else max(0.015, 1 / max(1, n))
        if higher:
            at_least[name] = max(0.0, math.floor((value - margin) * 1000) / 1000)
        else:
            at_most[name] = min(1.0, math.ceil((value + margin) * 1000) / 1000)
    floors.update({"at_least": at_least, "at_most": at_most})
    floors_path.write_text(json.dumps(floors, indent=1) + "\n", encoding="utf-8")
    return floors


def plot_reliability(r: SplitRun, path: Path) -> float:
    """Reliability diagram of the top intent's confidence; returns the ECE."""
    conf, correct = [], []
    for e, p in zip(r.items, r.preds, strict=True):
        ranking = p.get("intent_ranking") or []
        if not ranking:
            continue
        conf.append(float(ranking[0]["confidence"]))
        # the decision the top of the ranking stands for: risk and person
        # requests first (a call back about Gift Aid is a person request)
        gold = ("report_risk" if e.urgent else "request_human" if e.person
                else e.intent)
        correct.append(ranking[0]["name"] == gold)
    rows = tm.reliability(conf, correct)
    ece = tm.expected_calibration_error(rows)
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfectly calibrated")
    ax.plot([c for c, _, _ in rows], [a for _, a, _ in rows], "o-",
            label=f"Front Door (ECE {ece:.3f})")
    for c, a, n in rows:
        ax.annotate(str(n), (c, a), textcoords="offset points", xytext=(4, -10),
                    fontsize=7)
    ax.set_xlabel("confidence of the top intent (before fallback)")
    ax.set_ylabel("share whose decision is right")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title("Frozen test split: reliability")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return ece


def _f(x: float) -> str:
    return "n/a" if isinstance(x, float) and math.isnan(x) else f"{x:.3f}"


def _share(x: float) -> str:
    return "n/a" if math.isnan(x) else pct(x)


def _value(name: str, x: float) -> str:
    return _f(x) if name == "topic_macro_f1" else _share(x)


WE_OUR = re.compile(r"\b(?:we|we're|we've|we'd|we'll|our|ours|ourselves|us)\b",
                    re.IGNORECASE)


def we_our_share(items: list[Labelled], intents: tuple[str, ...]) -> float:
    """Share of the training examples of ``intents`` that say we/our/us."""
    chosen = [e for e in items if e.intent in intents]
    return sum(bool(WE_OUR.search(e.text)) for e in chosen) / max(1, len(chosen))


def section(splits: Splits, dev: SplitRun, test: SplitRun) -> str:
    """The Markdown of the NLU part of docs/evaluation.md."""
    IMG.mkdir(parents=True, exist_ok=True)
    out: list[str] = []
    w = out.append
    kinds = Counter(e.kind for e in test.items)
    w("## How these figures were made\n")
    w("- **Three splits, no overlap.** Training examples (`data/nlu`) were written "
      "by the team in rounds by kind of failure; the dev split (tuning) and the "
      "frozen test split (these figures) were each written by a writer who saw "
      "neither the training data nor the other split, and the test split is "
      "frozen (its digest is checked by `tests/nlu/test_gate.py`).\n"
      "- **Everything chosen on dev.** The pipeline (bake-off below), C and the "
      "dense weight (`scripts/nlu_lab.py --grid`), the temperature and the "
      "fallback, person and risk thresholds (`--one`). The test split was run "
      "only to report.\n"
      "- **Shortcut removed.** \"we/our\" marked 45% of topic examples and 1% "
      "of off-topic ones; now "
      f"{pct(we_our_share(splits.train, TOPICS))} and "
      f"{pct(we_our_share(splits.train, ('out_of_scope',)))} (topic examples "
      "reworded, long off-topic ones that say we/our added).\n"
      "- **As the server classifies.** Every message goes through the trained "
      "model in the Rasa-side worker, the same code path as `make triage`.\n")
    w("## Splits\n")
    w(md_table(["split", "messages", "where", "used for"], [
        ["train", len(splits.train), "`data/nlu/*.yml`", "fitting"],
        ["dev", len(dev.items), "`tests/nlu/dev/*.jsonl` + the earlier held-out "
         "`tests/nlu/*.yml`", "choosing pipeline, C, weights and thresholds"],
        ["test (frozen)", len(test.items), "`tests/nlu/frozen/*.jsonl`",
         "these figures and the CI gate only"],
    ]))
    w("")
    w(f"Overlap removed on normalised text: {splits.dropped_test} test and "
      f"{splits.dropped_dev} dev messages that also appear in training (or, for "
      "dev, in test) are left out. The dev and test splits were written by two "
      "writers who saw neither the training data nor each other's split. Test "
      "split by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
      + ".\n")
    w("## Targets (frozen test split)\n")
    rows = []
    for name, (label, target, higher) in TARGETS.items():
        value = test.figures[name]
        lo, hi = interval(name, test)
        met = (value >= target) if higher else (value <= target)
        rows.append([
            label, _value(name, value),
            f"{_value(name, lo)} – {_value(name, hi)}",
            f"{test.figures['right:' + name]}/{test.figures['n:' + name]}"
            if name != "topic_macro_f1" else len(test.items),
            f"{'≥' if higher else '≤'} {_value(name, target)}",
            "met" if met else "**missed**",
            _value(name, dev.figures[name]),
        ])
    w(md_table(["figure", "test", "95% interval", "n", "target", "verdict", "dev"],
               rows))
    w("")
    w(f"Also: a person request inside a topic question keeps its topic "
      f"{_share(test.figures['person_topic_kept'])} "
      f"({test.figures['right:person_topic_kept']}/"
      f"{test.figures['n:person_topic_kept']}); subtopic right "
      f"{_share(test.figures['subtopic_right'])} of topic messages; false alarms "
      f"over every non-urgent test message "
      f"{_share(test.figures['urgent_false_alarms_all'])}; worker errors "
      f"{test.errors}; classifying {len(test.items)} messages took "
      f"{test.seconds:.1f} s including model load.\n")
    w("Definitions: *topic* = the topic the reply is about (for a person request "
      "inside a topic question, the topic kept for the adviser), else *other*; "
      "macro-F1 over the three topics across every test message. *Offered a "
      "person* = intent other_enquiry, request_human, report_risk or the low-"
      "confidence fallback, all of which offer or make a hand-over; the off-topic "
      "reply does not count. *Handed over* = request_human or report_risk. "
      "Intervals: Wilson for shares, a 400-round bootstrap for macro-F1.\n")
    per = tm.per_topic(test.items, test.preds)
    w(md_table(["topic", "precision", "recall", "F1", "messages"], [
        [t, _f(s["precision"]), _f(s["recall"]), _f(s["f1"]), s["support"]]
        for t, s in per.items()
    ]))
    w("")
    ece = plot_reliability(test, IMG / "eval-reliability.png")
    w(f"Calibration on the test split: expected calibration error {ece:.3f} "
      "(10 bins; the number by each point is its message count).\n")
    w("![reliability diagram](img/eval-reliability.png)\n")
    wrong = [
        (e, p) for e, p in zip(test.items, test.preds, strict=True)
        if (p.get("topic") or "other") != e.topic or bool(p.get("urgent")) != e.urgent
        or (e.person and p.get("intent") not in tm.PERSON_INTENTS)
    ]
    if wrong:
        w(f"<details><summary>Test messages with a wrong topic, urgency or person "
          f"decision ({len(wrong)})</summary>\n")
        w(md_table(["message", "kind", "true", "predicted"], [
            [e.text.replace("|", "\\|").replace("\n", " "), e.kind,
             f"{e.intent}{'/' + e.subtopic if e.subtopic else ''}"
             f"{' urgent' if e.urgent else ''}{' person' if e.person else ''}",
             f"{p.get('intent')} → {p.get('topic')}"
             f"{' urgent' if p.get('urgent') else ''}"]
            for e, p in wrong
        ]))
        w("\n</details>\n")
    latency = ROOT / "docs" / "nlu" / "latency.json"
    if latency.exists():
        lat = json.loads(latency.read_text(encoding="utf-8"))
        w(f"NLU speed in process, as the server runs it "
          f"(`scripts/nlu_latency.py`, {lat['messages']} dev messages one at a "
          f"time, TensorFlow threads {lat['tf_intra_op_threads']}, load average "
          f"{lat['load_average'][0]:.1f}): median **{lat['median_ms']:.1f} ms**, "
          f"p95 {lat['p95_ms']:.1f} ms (target: median ≤ 15 ms); the model adds "
          f"{lat['rss_model_mb']:.0f} MB to the Rasa process.\n")
    w(cv_section())
    w(bakeoff_section())
    return "\n".join(out)


def cv_section() -> str:
    if not CV.exists():
        return "## Cross-validation\n\nNot run (`scripts/nlu_lab.py --cv`).\n"
    cv = json.loads(CV.read_text(encoding="utf-8"))
    rows = [[k, f"{m:.3f}", f"{lo:.3f} – {hi:.3f}"]
            for k, (m, lo, hi) in cv["summary"].items()]
    floor = ("" if cv.get("phrase_floor") else
             " This run scored the learned heads alone, without the risk phrase "
             "floor the product adds, so its urgent recall is a lower bound.")
    return (
        "## 5-fold cross-validation (training data)\n\n"
        f"Stratified 5-fold CV of the chosen settings on `data/nlu` "
        f"(`scripts/nlu_lab.py --cv`, dense features: {cv['dense']}); mean and "
        "95% t interval over the folds. The folds hold training examples, many "
        "written for the hardest kinds (topics without their usual words, money "
        "words in other enquiries), so they are not a substitute for the test "
        "split; they show how stable the settings are across resamples."
        + floor + "\n\n"
        + md_table(["figure", "mean", "95% interval"], rows) + "\n"
    )


def bakeoff_section() -> str:
    if not BAKEOFF.exists():
        return "## Bake-off\n\nNot run (`scripts/bakeoff.py`).\n"
    b = json.loads(BAKEOFF.read_text(encoding="utf-8"))
    rows = []
    for name, a in b["arms"].items():
        d, t = a["dev"], a["test"]
        rows.append([
            f"`{name}`", a["about"], _f(d["topic_macro_f1"]), _f(t["topic_macro_f1"]),
            _share(d["off_topic_kept_out"]), _share(d["person_handed_over"]),
            _share(d["urgent_recall"]),
            f"{d['latency_ms_median']:.1f} / {d['latency_ms_p95']:.1f}",
            f"{a['rss_model_mb']:.0f}", f"{a['train_seconds']:.0f}",
        ])
    return (
        "## Bake-off\n\n"
        f"`scripts/bakeoff.py`: each pipeline trained with `rasa train nlu` on the "
        f"same {b.get('n_train', '?')} examples and served in its own process; "
        f"chosen on dev ({b.get('n_dev', '?')} messages), test "
        f"({b.get('n_test', '?')}) shown for reference only. Latency = one "
        "`parse_message` per message, in process, after warm-up; RSS = resident "
        "memory added by loading the model; training = `rasa train nlu` wall "
        "time on this 2-core machine. Install size of the dense arms: see README.\n\n"
        + md_table(["arm", "pipeline", "dev F1", "test F1", "dev kept out",
                    "dev person", "dev urgent", "ms median / p95", "RSS MB",
                    "train s"], rows) + "\n\n"
        + _choice(b["arms"])
    )


def _choice(arms: dict[str, Any]) -> str:
    """Which arm dev favours (the issue's figures, equally weighted)."""
    def score(a: dict[str, Any]) -> float:
        d = a["dev"]
        parts = [d["topic_macro_f1"], d["off_topic_kept_out"], d["person_handed_over"],
                 d["other_offered_person"], d["in_topic_answered"], d["urgent_recall"],
                 1 - d["urgent_false_alarms_safety_worded"],
                 1 - d["plain_topic_handed_over"]]
        return sum(parts) / len(parts)

    ranked = sorted(arms.items(), key=lambda kv: -score(kv[1]))
    return (
        "Ranked on dev by the mean of the eight target figures: "
        + ", ".join(f"`{n}` {score(a):.3f}" for n, a in ranked)
        + f". config.yml runs `{_configured_arm()}`.\n\n"
        "The arms ran with the MiniLM encoder on TensorFlow, on the training data "
        "of that day. Since then the encoder runs on ONNX Runtime with int8 matrix "
        "products (the same dev figures, about a tenth of the encoder's time: "
        "`docs/featurizers.md`), the training data grew by a seventh round and one "
        "threshold was re-tuned on dev; the chosen pipeline's figures today are the "
        "table at the top and the NLU speed above.\n"
    )


def _configured_arm() -> str:
    import yaml

    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    names = " ".join(step["name"] for step in config["pipeline"])
    kind = ("minilm" if "MiniLMFeaturizer" in names
            else "static" if "MiniLMStaticFeaturizer" in names else "tfidf")
    return f"triage-{kind}" if "TriageClassifier" in names else "another pipeline"
