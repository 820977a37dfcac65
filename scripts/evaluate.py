"""`make eval`: the held-out NLU figures, a baseline, places and `make triage`.

Runs the held-out split (tests/nlu/) through the trained model exactly as the
server classifies (bot.triage.classify, the Rasa-side worker), trains a TF-IDF +
logistic regression baseline on data/nlu in the same run, scores the location
resolver on the labelled place mentions, checks the `make triage` contract on
docs/triage-sample.jsonl and times a 2,000-line run. Writes docs/evaluation.md
and its plots under docs/img/.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from scripts import eval_runs as runs
from scripts.eval_report import headline, write_report
from scripts.report_common import DOCS, ROOT, pct

REPORT = DOCS / "evaluation.md"


def _log(message: str) -> None:
    print(f"[eval] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation and write docs/evaluation.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--skip-speed", action="store_true",
        help="skip the 2,000-line `make triage` timing",
    )
    args = parser.parse_args(argv)

    test = runs.read_nlu(sorted(runs.TEST_DIR.glob("*.yml")))
    train = runs.read_nlu(sorted(runs.TRAIN_DIR.glob("*.yml")))
    threshold, ambiguity = runs.fallback_config()
    _log(f"held-out: {len(test)} messages; training: {len(train)} examples")

    _log("classifying the held-out split with the trained model ...")
    frontdoor = runs.run_frontdoor(test)

    _log("training and running the TF-IDF + logistic regression baseline ...")
    t0 = time.perf_counter()
    baseline = runs.run_baseline(train, test)
    baseline_seconds = time.perf_counter() - t0

    _log("scoring the location resolver ...")
    places = runs.run_places()

    _log("checking the `make triage` contract on docs/triage-sample.jsonl ...")
    sample = runs.make_triage(
        runs.TRIAGE_SAMPLE.read_text(encoding="utf-8").splitlines()
    )
    speed = None
    if not args.skip_speed:
        _log(f"timing a {runs.SPEED_LINES}-line `make triage` run ...")
        texts = [e.text for e in test]
        speed = runs.make_triage(
            [
                json.dumps({"id": i, "text": texts[i % len(texts)]})
                for i in range(runs.SPEED_LINES)
            ]
        )

    evaluation = runs.Evaluation(
        test=test,
        train_size=len(train),
        threshold=threshold,
        ambiguity=ambiguity,
        frontdoor=frontdoor,
        baseline=baseline,
        baseline_seconds=baseline_seconds,
        places=places,
        sample=sample,
        speed=speed,
    )
    REPORT.write_text(write_report(evaluation), encoding="utf-8")
    head = headline(evaluation)
    _log(
        f"wrote {REPORT.relative_to(ROOT)}: topic macro-F1 "
        f"{head.topic_macro_f1:.3f}, off-topic kept out {pct(head.kept_out)}, "
        f"in-topic handed over {pct(head.handed_over)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
