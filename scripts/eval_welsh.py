"""The Welsh part of `make eval` (issue 16): the Welsh frozen test split through
the trained model (the same Rasa-side worker as `make triage`), and language
detection (scripts/eval_language.py).

Targets from the issue: Welsh topic macro-F1 >= 0.85, Welsh requests for a
person >= 95% handed over.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from scripts import eval_language, welsh_bakeoff
from scripts import triage_metrics as tm
from scripts.eval_triage import classify
from scripts.nlu_data import Labelled, read_jsonl

WELSH_FILES = ("topics.jsonl", "person.jsonl", "other.jsonl")
TARGETS = {
    "topic_macro_f1": ("Welsh topic macro-F1", 0.85),
    "person_handed_over": ("Welsh requests for a person handed over", 0.95),
    "in_topic_answered": ("Welsh in-topic enquiries answered", None),
    "subtopic_right": ("Welsh subtopic right", None),
    "off_topic_kept_out": ("Welsh off-topic kept out of the topics", None),
    "other_offered_person": ("Welsh other enquiries offered a person", None),
    "urgent_recall": ("Welsh people at risk flagged urgent", None),
}


@dataclass
class WelshRun:
    items: list[Labelled]
    preds: list[dict[str, Any]]
    figures: dict[str, Any]
    errors: int


def items() -> list[Labelled]:
    return [
        e for name in WELSH_FILES for e in read_jsonl(eval_language.WELSH_DIR / name)
    ]


def run() -> WelshRun:
    welsh = items()
    preds, _seconds, errors = classify(welsh)
    return WelshRun(welsh, preds, tm.figures(welsh, preds), errors)


def section(nlu: WelshRun, detection: eval_language.LanguageRun) -> str:
    """The report's Welsh section (Markdown)."""
    f = nlu.figures
    lines = [
        "## Welsh (issue 16)",
        "",
        f"The Welsh frozen test split (`tests/nlu/welsh/`, {len(nlu.items)} messages, "
        "written before the Welsh training examples and never tuned on) through the "
        "same model and worker as `make triage`.",
        "",
        "| figure | value | count | target |",
        "| --- | --- | --- | --- |",
    ]
    for name, (label, target) in TARGETS.items():
        n = f.get("n:" + name)
        count = f"{f.get('right:' + name)}/{n}" if n is not None else ""
        lines.append(
            f"| {label} | {f[name]:.3f} | {count} | {target if target else ''} |"
        )
    wrong = [
        (e.text, e.intent, p.get("intent"))
        for e, p in zip(nlu.items, nlu.preds, strict=True)
        if (p.get("topic") or "other") != e.topic
        or (e.person and p.get("intent") not in tm.PERSON_INTENTS)
    ]
    if wrong:
        lines += ["", "Misread:", ""]
        lines += [f"- `{t}` ({g} taken as {p})" for t, g, p in wrong]
    return ("\n".join(lines) + "\n\n" + bakeoff_section() + "\n"
            + eval_language.section(detection))


def bakeoff_section() -> str:
    """The one-model / second-model / no-MiniLM bake-off (scripts/welsh_bakeoff.py)."""
    head = "### One model or two: the Welsh bake-off\n\n"
    if not welsh_bakeoff.OUT.exists():
        return head + "Not run (`.venv-rasa/bin/python -m scripts.welsh_bakeoff`).\n"
    result = json.loads(welsh_bakeoff.OUT.read_text(encoding="utf-8"))
    return (
        head + "From `.venv-rasa/bin/python -m scripts.welsh_bakeoff` (lab fits of "
        "the same triage model, not a Rasa training; choices on Welsh "
        "cross-validation only; the reasoning is in docs/welsh.md).\n\n"
        + welsh_bakeoff.table(result)
    )


def gate(nlu: WelshRun, detection: eval_language.LanguageRun) -> list[str]:
    """The issue's targets that this run misses."""
    problems = []
    for name in ("topic_macro_f1", "person_handed_over"):
        target = TARGETS[name][1]
        assert target is not None
        if not nlu.figures[name] >= target:
            problems.append(f"Welsh {name} {nlu.figures[name]:.3f} < {target}")
    for name, (_label, target) in eval_language.TARGETS.items():
        value = detection.figures[name]
        bad = value > target if name == "english_switched_to_welsh" else value < target
        if bad:
            problems.append(f"{name} {value:.3f} misses {target}")
    return problems


def main() -> int:
    nlu = run()
    detection = eval_language.run()
    print(section(nlu, detection))
    problems = gate(nlu, detection)
    for p in problems:
        print("below target:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
