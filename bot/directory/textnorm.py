"""Text folding and tokens shared by the gazetteer and the resolver."""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

_PUNCT_MAP = {
    "\u2019": "'",
    "\u2018": "'",
    "\u02bc": "'",
    "`": "'",
    "\u00b4": "'",
    "\u2013": "-",
    "\u2014": "-",
    "\u2010": "-",
    "\u2011": "-",
}


class _FoldTable(dict[int, str]):
    """Lazily filled str.translate table: one character in, one character out."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        out = _PUNCT_MAP.get(ch)
        if out is None:
            base = "".join(
                c
                for c in unicodedata.normalize("NFKD", ch)
                if not unicodedata.combining(c)
            ).lower()
            out = base if len(base) == 1 else ch
        if len(self) < 8192:  # bounded: odd input cannot grow it without limit
            self[code] = out
        return out


_FOLD = _FoldTable()


def fold(text: str) -> str:
    """Lower-case and strip diacritics, keeping one character per character."""
    low = text.lower()
    if len(low) != len(text):
        low = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    if low.isascii():
        return low
    return low.translate(_FOLD)


class Token(NamedTuple):
    """A word or punctuation mark: its span in the original text and its form."""

    start: int
    end: int
    norm: str  # folded, apostrophes removed; "" for punctuation
    punct: str  # the punctuation mark, "" for words


_TOKEN_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[^\w\s'\-]")
_ABBREVIATIONS = {"st", "mt", "co", "nr"}
_WORD_NORMS = {"saint": "st", "and": "and"}


def tokenize(folded: str, limit: int | None = None) -> list[Token]:
    """Split folded text into word and punctuation tokens (hyphens are spaces)."""
    tokens: list[Token] = []
    for m in _TOKEN_RE.finditer(folded):
        s = m.group()
        if s[0].isalnum():
            norm = s.replace("'", "")
            tokens.append(Token(m.start(), m.end(), _WORD_NORMS.get(norm, norm), ""))
        elif s == "&":
            tokens.append(Token(m.start(), m.end(), "and", ""))
        elif (
            s == "."
            and tokens
            and tokens[-1].norm in _ABBREVIATIONS
            and tokens[-1].end == m.start()
        ):
            continue  # "St. Ives", "Co. Down"
        else:
            tokens.append(Token(m.start(), m.end(), "", s))
        if limit is not None and len(tokens) >= limit:
            break
    return tokens


def name_key(name: str) -> str:
    """Return the lookup key of a name: folded words joined by single spaces."""
    return " ".join(t.norm for t in tokenize(fold(name)) if t.norm)
