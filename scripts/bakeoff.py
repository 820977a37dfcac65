"""The NLU bake-off: candidate pipelines side by side on the dev and test splits.

    .venv/bin/python -m scripts.bakeoff [--arms a,b,...]

Each arm is a Rasa NLU pipeline trained from data/nlu with `rasa train nlu` and
served in its own process (scripts/bakeoff_arm.py), so its latency per message,
resident memory and training time are its own. Arms are chosen on **dev**; the
test column is reported, never used to choose. Results: docs/nlu/bakeoff.json,
shown in docs/evaluation.md by `make eval`. One training at a time (the
models/.train.lock that `make model` also takes).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from scripts import triage_metrics as tm
from scripts.nlu_data import ROOT, TOPICS, Labelled, load_splits

RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
OUT = ROOT / "docs" / "nlu" / "bakeoff.json"
LOCK = ROOT / "models" / ".train.lock"


def _config_step(name: str) -> dict[str, Any]:
    """The step of config.yml's pipeline with this name (the chosen settings)."""
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    for step in config["pipeline"]:
        if step["name"].endswith(name):
            return dict(step)
    return {"name": name}


def arms() -> dict[str, dict[str, Any]]:
    """name -> (description, pipeline)."""
    fallback = _config_step("FallbackClassifier")
    triage = _config_step("TriageClassifier")
    triage["name"] = "rasa_addons.triage_classifier.TriageClassifier"
    tok = {"name": "WhitespaceTokenizer"}
    words = {"name": "CountVectorsFeaturizer"}
    chars = {"name": "CountVectorsFeaturizer", "analyzer": "char_wb",
             "min_ngram": 1, "max_ngram": 4}
    minilm = {"name": "rasa_addons.dense_featurizer.MiniLMFeaturizer"}
    static = {"name": "rasa_addons.static_featurizer.MiniLMStaticFeaturizer"}
    old = {"name": "rasa_addons.tfidf_classifier.TfidfIntentClassifier",
           "C": 30.0, "class_weight": "balanced", "char_ngram_min": 1,
           "char_ngram_max": 5}
    old_fallback = {"name": "FallbackClassifier", "threshold": 0.4,
                    "ambiguity_threshold": 0.0}
    return {
        "tfidf-v1": {"about": "today's TF-IDF + logistic regression (v1)",
                     "pipeline": [tok, old, old_fallback]},
        "rasa-cv-lr": {"about": "Rasa CountVectors (word + char_wb 1-4) + "
                                "LogisticRegressionClassifier",
                       "pipeline": [tok, words, chars,
                                    {"name": "LogisticRegressionClassifier",
                                     "max_iter": 300}, old_fallback]},
        # DIET with its two transformer layers took 80 s an epoch here (53 min
        # for 40 epochs); without them it is a feed-forward net over the same
        # sparse + dense features, which trains in minutes
        "rasa-diet-minilm": {"about": "Rasa CountVectors + MiniLM dense + "
                                      "DIETClassifier (no transformer, 30 epochs)",
                             "pipeline": [tok, words, chars, minilm,
                                          {"name": "DIETClassifier", "epochs": 30,
                                           "number_of_transformer_layers": 0,
                                           "constrain_similarities": True,
                                           "entity_recognition": False},
                                          old_fallback]},
        "triage-tfidf": {"about": "triage heads on TF-IDF only",
                         "pipeline": [tok, {**triage, "dense_weight": 0.0},
                                      fallback]},
        "triage-static": {"about": "triage heads on TF-IDF + static MiniLM "
                                   "distillation (ours)",
                          "pipeline": [tok, static, triage, fallback]},
        "triage-minilm": {"about": "triage heads on TF-IDF + MiniLM-L6 "
                                   "(contextual)",
                          "pipeline": [tok, minilm, triage, fallback]},
    }


def _prediction(p: dict[str, Any]) -> dict[str, Any]:
    intent = p.get("intent") or "nlu_fallback"
    triage = p.get("triage") or {}
    urgent = bool(triage.get("urgent")) or intent == "report_risk"
    about = intent if intent in TOPICS else triage.get("topic")
    topic = about if about in TOPICS and not urgent else "other"
    sub = (p.get("subtopics") or {}).get(topic) or ""
    return {
        "intent": intent,
        "topic": topic,
        "subtopic": sub.partition("/")[2] or None,
        "urgent": urgent,
        "handoff": intent in tm.OFFER_INTENTS or intent == "out_of_scope",
    }


def score(items: list[Labelled], parsed: list[dict[str, Any]]) -> dict[str, Any]:
    preds = [_prediction(p) for p in parsed]
    f = tm.figures(items, preds)
    ms = [p["ms"] for p in parsed]
    f["latency_ms_median"] = statistics.median(ms)
    f["latency_ms_p95"] = sorted(ms)[int(0.95 * (len(ms) - 1))]
    return f


def run_arm(name: str, spec: dict[str, Any], tmp: Path) -> dict[str, Any]:
    config = tmp / f"{name}.yml"
    config.write_text(yaml.safe_dump({
        "recipe": "default.v1", "language": "en", "assistant_id": "bakeoff",
        "pipeline": spec["pipeline"], "policies": [],
    }, sort_keys=False), encoding="utf-8")
    out = tmp / f"{name}.json"
    LOCK.parent.mkdir(exist_ok=True)
    with LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run(  # noqa: S603 (fixed argv)
            [str(RASA_PYTHON), "-m", "scripts.bakeoff_arm", str(config), str(out)],
            cwd=ROOT, check=True,
        )
    return json.loads(out.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", default="", help="comma-separated (default: all)")
    args = parser.parse_args(argv)
    chosen = arms()
    if args.arms:
        chosen = {k: v for k, v in chosen.items() if k in args.arms.split(",")}
    splits = load_splits()
    results = json.loads(OUT.read_text()) if OUT.exists() else {"arms": {}}
    with tempfile.TemporaryDirectory(prefix="fd-bakeoff-") as tmp:
        for name, spec in chosen.items():
            print(f"[bakeoff] {name}: training and parsing ...", file=sys.stderr,
                  flush=True)
            raw = run_arm(name, spec, Path(tmp))
            results["arms"][name] = {
                "about": spec["about"],
                "pipeline": [s["name"].rsplit(".", 1)[-1] for s in spec["pipeline"]],
                "train_seconds": raw["train_seconds"],
                "rss_model_mb": raw["rss_loaded_mb"] - raw["rss_before_load_mb"],
                "rss_after_mb": raw["rss_after_mb"],
                "model_mb": raw["model_mb"],
                "dev": score(splits.dev, raw["dev"]),
                "test": score(splits.test, raw["test"]),
            }
            r = results["arms"][name]
            print(f"[bakeoff] {name}: dev F1 {r['dev']['topic_macro_f1']:.3f} "
                  f"test F1 {r['test']['topic_macro_f1']:.3f} "
                  f"median {r['dev']['latency_ms_median']:.1f} ms "
                  f"train {r['train_seconds']:.0f} s", file=sys.stderr, flush=True)
            OUT.parent.mkdir(parents=True, exist_ok=True)
            results["n_dev"], results["n_test"] = len(splits.dev), len(splits.test)
            results["n_train"] = len(splits.train)
            OUT.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
