"""The three NLU splits, read without Rasa (runs on Python 3.10 and 3.11).

- train: data/nlu/*.yml (Rasa YAML; example-level ``metadata: {person: true}``
  marks a topic question that also asks for a person);
- dev: tests/nlu/dev/*.jsonl, plus the earlier held-out files tests/nlu/*.yml
  (they chose the old thresholds, so they are tuning data now, never test data);
- test: tests/nlu/frozen/*.jsonl, written apart from the training data and frozen.

Overlap is removed on normalised text (case, spacing, punctuation): a dev or test
message that also appears in training is dropped from dev/test, and a dev message
that appears in test is dropped from dev, so no figure counts a message twice.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TRAIN_DIR = ROOT / "data" / "nlu"
DEV_DIR = ROOT / "tests" / "nlu" / "dev"
OLD_HELD_OUT_DIR = ROOT / "tests" / "nlu"
TEST_DIR = ROOT / "tests" / "nlu" / "frozen"
TOPICS = ("funding", "governance", "volunteering")

_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
_PUNCT = re.compile(r"[^\w\s]+")


@dataclass(frozen=True)
class Labelled:
    """One message with its labels; ``kind`` is the file it came from."""

    text: str
    intent: str
    subtopic: str | None = None
    person: bool = False
    urgent: bool = False
    kind: str = ""

    @property
    def topic(self) -> str:
        return self.intent if self.intent in TOPICS else "other"


def normalise(text: str) -> str:
    """Text for comparing messages: NFKC, lower case, no punctuation, one space."""
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(_PUNCT.sub(" ", text).split())


def _examples(item: dict) -> Iterable[tuple[str, dict]]:
    raw = item.get("examples")
    if isinstance(raw, str):
        for line in raw.splitlines():
            line = line.strip()
            if line.startswith("- "):
                yield line[2:].strip(), {}
    elif isinstance(raw, list):
        for entry in raw:
            if isinstance(entry, dict) and entry.get("text"):
                yield str(entry["text"]).strip(), dict(entry.get("metadata") or {})
            elif isinstance(entry, str):
                yield entry.strip(), {}


def parse_rasa_yaml(text: str, kind: str = "") -> list[Labelled]:
    """The intent examples of one Rasa NLU YAML document (entity markup removed)."""
    out: list[Labelled] = []
    doc = yaml.safe_load(text) or {}
    for item in doc.get("nlu") or []:
        if not isinstance(item, dict) or "intent" not in item:
            continue
        base, _, sub = str(item["intent"]).partition("/")
        for example, meta in _examples(item):
            example = _ANNOTATION.sub(r"\1", example)
            if example:
                out.append(
                    Labelled(
                        example,
                        base,
                        sub or None,
                        person=bool(meta.get("person")) or base == "request_human",
                        urgent=base == "report_risk",
                        kind=kind,
                    )
                )
    return out


def read_jsonl(path: Path) -> list[Labelled]:
    """A split file: one {"text", "intent", "subtopic", "person", "urgent"} a line."""
    out: list[Labelled] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out.append(
                Labelled(
                    str(row["text"]),
                    str(row["intent"]),
                    row.get("subtopic") or None,
                    person=bool(row.get("person")),
                    urgent=bool(row.get("urgent")),
                    kind=path.stem,
                )
            )
        except (ValueError, KeyError) as exc:
            raise ValueError(f"{path}:{n}: {exc}") from exc
    return out


def read_train(directory: Path = TRAIN_DIR) -> list[Labelled]:
    paths = sorted(p for p in directory.glob("*.yml") if p.name != "responses.yml")
    return [
        e for p in paths for e in parse_rasa_yaml(p.read_text(encoding="utf-8"), p.stem)
    ]


def _read_dir(directory: Path) -> list[Labelled]:
    return [e for p in sorted(directory.glob("*.jsonl")) for e in read_jsonl(p)]


def _drop(examples: Sequence[Labelled], seen: set[str]) -> list[Labelled]:
    out, mine = [], set()
    for e in examples:
        key = normalise(e.text)
        if key in seen or key in mine:
            continue
        mine.add(key)
        out.append(e)
    return out


@dataclass
class Splits:
    train: list[Labelled]
    dev: list[Labelled]
    test: list[Labelled]
    dropped_dev: int
    dropped_test: int


def load_splits() -> Splits:
    """train / dev / test with overlap removed as the module docstring says."""
    train = read_train()
    old = [
        e
        for p in sorted(OLD_HELD_OUT_DIR.glob("*.yml"))
        for e in parse_rasa_yaml(p.read_text(encoding="utf-8"), "earlier_" + p.stem)
    ]
    dev_raw = _read_dir(DEV_DIR) + old if DEV_DIR.exists() else old
    test_raw = _read_dir(TEST_DIR) if TEST_DIR.exists() else []
    seen_train = {normalise(e.text) for e in train}
    test = _drop(test_raw, seen_train)
    dev = _drop(dev_raw, seen_train | {normalise(e.text) for e in test})
    return Splits(train, dev, test, len(dev_raw) - len(dev), len(test_raw) - len(test))
