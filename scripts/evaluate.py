"""`make eval`: the frozen test split, dev beside it, places and `make triage`.

Classifies the dev and frozen test splits with the trained model exactly as the
server does (bot.triage.classify, the Rasa-side worker) and reports issue 8's
figures with intervals, the cross-validation and the bake-off
(scripts/eval_triage.py); the Welsh test split and language detection
(scripts/eval_welsh.py, issue 16); scores the location resolver on the labelled
place mentions and on the frozen split of tests/directory/frozen/, with the
guidance coverage table (scripts/eval_directory.py); checks the `make triage`
contract on docs/triage-sample.jsonl and times a 2,000-line run. Writes
docs/evaluation.md and its plots under docs/img/.
``--gate`` also compares the test figures with tests/nlu/floors.json and exits
non-zero when one fell below its floor.
"""

from __future__ import annotations

import argparse
import json
import sys

from scripts import eval_directory, eval_language, eval_triage, eval_welsh
from scripts import eval_runs as runs
from scripts.eval_report import write_report
from scripts.report_common import DOCS, ROOT

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
    parser.add_argument(
        "--gate", action="store_true",
        help="exit 1 when a test figure is below tests/nlu/floors.json",
    )
    parser.add_argument(
        "--set-floors", action="store_true",
        help="write tests/nlu/floors.json just under this run's test figures",
    )
    args = parser.parse_args(argv)
    threshold, ambiguity = runs.fallback_config()

    _log("classifying the dev and frozen test splits with the trained model ...")
    splits, dev, test = eval_triage.run()
    _log(f"train {len(splits.train)}, dev {len(dev.items)}, test {len(test.items)}")
    nlu_markdown = eval_triage.section(splits, dev, test)

    _log("classifying the Welsh test split and measuring language detection ...")
    welsh, detection = eval_welsh.run(), eval_language.run()
    welsh_markdown = eval_welsh.section(welsh, detection)

    _log("scoring the location resolver ...")
    places = runs.run_places()

    _log("scoring the resolver on the frozen place split, guidance coverage ...")
    directory_markdown = eval_directory.build()

    _log("checking the `make triage` contract on docs/triage-sample.jsonl ...")
    sample = runs.make_triage(
        runs.TRIAGE_SAMPLE.read_text(encoding="utf-8").splitlines()
    )
    speed = None
    if not args.skip_speed:
        _log(f"timing a {runs.SPEED_LINES}-line `make triage` run ...")
        texts = [e.text for e in test.items]
        speed = runs.make_triage(
            [
                json.dumps({"id": i, "text": texts[i % len(texts)]})
                for i in range(runs.SPEED_LINES)
            ]
        )

    evaluation = runs.Evaluation(
        threshold=threshold,
        ambiguity=ambiguity,
        nlu_markdown=nlu_markdown,
        places=places,
        sample=sample,
        speed=speed,
    )
    REPORT.write_text(
        eval_directory.splice(write_report(evaluation), directory_markdown).rstrip(
            "\n"
        )
        + "\n\n"
        + welsh_markdown,
        encoding="utf-8",
    )
    f = test.figures
    _log(
        f"wrote {REPORT.relative_to(ROOT)}: test topic macro-F1 "
        f"{f['topic_macro_f1']:.3f}, kept out {f['off_topic_kept_out']:.3f}, "
        f"person {f['person_handed_over']:.3f}, urgent {f['urgent_recall']:.3f}; "
        f"Welsh topic macro-F1 {welsh.figures['topic_macro_f1']:.3f}, person "
        f"{welsh.figures['person_handed_over']:.3f}; language right "
        f"{detection.figures['language_long']:.3f} (5+ words), "
        f"{detection.figures['language_short']:.3f} (shorter)"
    )
    if args.set_floors:
        eval_triage.set_floors(test)
        _log(f"floors written to {eval_triage.FLOORS.relative_to(ROOT)}")
    if args.gate:
        problems = eval_triage.gate(test) + eval_welsh.gate(welsh, detection)
        for p in problems:
            _log(f"below the floor: {p}")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
