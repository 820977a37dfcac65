"""Language detection figures for `make eval` (issue 16).

Per message: the share detected right on messages of five words or more and on
shorter ones, over the Welsh test split (tests/nlu/welsh/), its short messages
(language.jsonl) and the English frozen split (tests/nlu/frozen/). Per
conversation: how many English test messages, each the first message of a new
conversation, would switch it to Welsh (bot.language.follow).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from bot import language as lang
from scripts.nlu_data import ROOT

WELSH_DIR = ROOT / "tests" / "nlu" / "welsh"
ENGLISH_DIR = ROOT / "tests" / "nlu" / "frozen"

TARGETS = {
    "language_long": ("language right, messages of 5 words or more", 0.98),
    "language_short": ("language right, messages under 5 words", 0.90),
    "english_switched_to_welsh": (
        "English conversations switched to Welsh by mistake (at most)",
        0.005,
    ),
}


@dataclass
class LanguageRun:
    figures: dict[str, float] = field(default_factory=dict)
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    wrong: list[tuple[str, str, str]] = field(default_factory=list)


def labelled() -> list[tuple[str, str]]:
    """(text, language) for every message of the Welsh and English test splits."""
    out: list[tuple[str, str]] = []
    for path in sorted(WELSH_DIR.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                out.append((row["text"], row.get("language", "cy")))
    for path in sorted(ENGLISH_DIR.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.append((json.loads(line)["text"], "en"))
    return out


def run(items: list[tuple[str, str]] | None = None) -> LanguageRun:
    items = items if items is not None else labelled()
    result = LanguageRun()
    buckets: dict[str, list[bool]] = {"language_long": [], "language_short": []}
    switched = english = 0
    for text, gold in items:
        d = lang.detect(text)
        long = len(lang.words_of(text)) >= lang.LONG_WORDS
        ok = d.language == gold
        buckets["language_long" if long else "language_short"].append(ok)
        if not ok:
            result.wrong.append((text, gold, d.language))
        if gold == "en":
            english += 1
            switched += lang.follow(None, None, d) == "cy"
    for name, oks in buckets.items():
        result.counts[name] = (sum(oks), len(oks))
        result.figures[name] = sum(oks) / len(oks) if oks else float("nan")
    result.counts["english_switched_to_welsh"] = (switched, english)
    result.figures["english_switched_to_welsh"] = switched / english if english else 0.0
    return result


def section(r: LanguageRun) -> str:
    """The report's language section (Markdown)."""
    lines = [
        "## Language detection (issue 16)",
        "",
        "`bot.language.detect` (lingua-language-detector restricted to English and "
        "Welsh, a short-message word list first) on the Welsh test split "
        "(`tests/nlu/welsh/`) and the English frozen split; the conversation rule "
        "(`bot.language.follow`) on each English test message as a conversation's "
        "first message.",
        "",
        "| figure | value | count | target |",
        "| --- | --- | --- | --- |",
    ]
    for name, (label, target) in TARGETS.items():
        right, n = r.counts[name]
        lines.append(f"| {label} | {r.figures[name]:.3f} | {right}/{n} | {target} |")
    if r.wrong:
        lines += ["", "Detected wrongly:", ""]
        lines += [f"- `{t}` ({g} taken as {p})" for t, g, p in r.wrong[:30]]
    return "\n".join(lines) + "\n"


def main() -> None:
    r = run()
    print(section(r))


if __name__ == "__main__":
    main()
