"""The phrase floor of the risk check: data/nlu/lookups/risk_phrases.txt, read once.

Each line of the file is a regular expression; a message is risky when any of
them matches it case-insensitively on word boundaries (the same reading as the
NLU model's own copy in rasa_addons/triage_model.py). Curly apostrophes and
runs of white space are normalised first, so "there’s  a fire" reads as
"there's a fire".
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

PHRASES_FILE = (
    Path(__file__).resolve().parents[2]
    / "data"
    / "nlu"
    / "lookups"
    / "risk_phrases.txt"
)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
_SPACE = re.compile(r"\s+")


def read_patterns(text: str) -> list[str]:
    """Return the patterns in a phrase file's text (blank lines and # comments out)."""
    return [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def compile_floor(patterns: list[str]) -> re.Pattern[str]:
    """Compile ``patterns`` into one case-insensitive, word-bounded expression."""
    if not patterns:
        raise ValueError("the risk phrase file has no patterns")
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b", re.IGNORECASE)


def normalise(text: str) -> str:
    """Return ``text`` with straight apostrophes and single spaces."""
    return _SPACE.sub(" ", text.translate(_APOSTROPHES)).strip()


class PhraseFloor:
    """The compiled phrase floor."""

    def __init__(self, patterns: list[str]) -> None:
        self.patterns = patterns
        self._floor = compile_floor(patterns)

    @classmethod
    def from_file(cls, path: Path = PHRASES_FILE) -> PhraseFloor:
        """Read the phrase file at ``path``."""
        return cls(read_patterns(path.read_text(encoding="utf-8")))

    def match(self, text: str) -> str | None:
        """Return the words of ``text`` that matched, or None if none did."""
        found = self._floor.search(normalise(text))
        return found.group(0) if found else None


@lru_cache(maxsize=1)
def get_floor() -> PhraseFloor:
    """Return the phrase floor of the project's phrase file (read on first use)."""
    return PhraseFloor.from_file()


def match(text: str) -> str | None:
    """Return the risky words in ``text`` per the project's phrase file, or None."""
    return get_floor().match(text)
