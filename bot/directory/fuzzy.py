"""Misspelt place names: the towns and councils a typo is an edit or two from."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from bot.directory.gazetteer import (
    LANDMARK_TYPES,
    TIER_BIG,
    TIER_VILLAGE,
    Entry,
    Gazetteer,
)
from bot.directory.place_tables import FIRST_NAMES
from bot.directory.textnorm import Token
from bot.directory.variants import ENGLISH_WORDS
from bot.settings import DIRECTORY_DATA_DIR

MIN_TYPO_CHARS = 5  # shorter words are too often other words one edit away
TWO_EDITS_FROM = 9  # names this long (letters) may be two edits away
MAX_WORDS = 3  # "newcastle upon tyn", "brighten and hove"
MAX_TYPO_TOKENS = 6  # fuzzy look-ups per message, whatever it contains
LANDMARK_AFTER = frozenset(
    "park road street lane avenue drive way square house hall centre center school "
    "church college hospital castle bridge station heath common gardens".split()
)  # a word before one of these is a name of its own ("Holyrood Park")
COMMON_WORDS_FILE = DIRECTORY_DATA_DIR / "common_words.txt"
MIN_VILLAGE_TYPO_CHARS = 7  # villages are many: only long names are corrected, once
FUZZY_PENALTY = 0.06  # a corrected name ranks under an exact one of the same size


def damerau(a: str, b: str, limit: int) -> int:
    """Return the optimal-string-alignment distance of a and b (limit+1 if above)."""
    la, lb = len(a), len(b)
    if abs(la - lb) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(lb + 1))
    for i in range(1, la + 1):
        cur = [i] + [0] * lb
        best = i
        ai = a[i - 1]
        for j in range(1, lb + 1):
            cost = 0 if ai == b[j - 1] else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ai == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
            best = min(best, v)
        if best > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[lb]


def allowed_edits(key: str) -> int:
    """Return how many edits a misspelling of ``key`` may have (by its length)."""
    letters = len(key.replace(" ", ""))
    if letters < MIN_TYPO_CHARS + 1:
        return 0  # "Hull", "Bath", "Poole": one edit makes other words
    return 2 if letters >= TWO_EDITS_FROM else 1


@dataclass(frozen=True, slots=True)
class Correction:
    """A name a run of tokens is a misspelling of, and how far it is."""

    key: str  # the gazetteer key it was corrected to
    words: int  # tokens it spans
    distance: int
    entries: tuple[Entry, ...]


class TypoIndex:
    """The big-place names (towns, cities, councils, areas) by first letter and size."""

    def __init__(self, gaz: Gazetteer, *, villages: bool = False) -> None:
        """Index towns, cities, councils and areas; or (villages) villages and
        the suburbs of cities, corrected only once and only when long."""
        # (first letter, words, length) -> names: a typo keeps its first letter
        self._by_shape: dict[
            tuple[str, int, int], list[tuple[str, frozenset[str], tuple[Entry, ...]]]
        ] = defaultdict(list)
        self.villages = villages
        for key, entries in gaz.names.items():
            if gaz.levels.get(key, 0) or self.allowed(key) == 0:
                continue  # an ordinary word is never the target of a correction
            if villages and any(e.tier == TIER_BIG for e in entries):
                continue  # the towns' index has it
            big = tuple(
                e
                for e in entries
                if (
                    (
                        e.tier == TIER_VILLAGE
                        or (
                            e.place_type == "Suburban Area"
                            and e.lad_code in gaz.city_lads
                        )
                    )
                    if villages
                    else e.tier == TIER_BIG
                )
                and e.kind in ("place", "council", "county")
                and e.place_type not in LANDMARK_TYPES  # "tesco" is no "Tresco"
            )
            if not big or any(e.kind == "blocker" for e in entries):
                continue
            words = key.count(" ") + 1
            if words > MAX_WORDS:
                continue
            shape = (key[0], words, len(key))
            self._by_shape[shape].append((key, frozenset(key), big))

    def allowed(self, key: str) -> int:
        """Edits allowed: a town's by its length; a village's one, if it is long."""
        if self.villages:
            return 1 if len(key.replace(" ", "")) >= MIN_VILLAGE_TYPO_CHARS else 0
        return allowed_edits(key)

    def correct(self, phrase: str, words: int) -> list[Correction]:
        """Return the closest big-place names ``phrase`` may be a misspelling of."""
        best: list[Correction] = []
        n = len(phrase)
        shapes = [(phrase[0], words, size) for size in range(n - 2, n + 3)]
        letters = frozenset(phrase)
        for key, key_letters, entries in (
            k for s in shapes for k in self._by_shape.get(s, ())
        ):
            limit = self.allowed(key)
            if best:
                limit = min(limit, best[0].distance)
            if len(letters ^ key_letters) > 2 * limit:
                continue  # each edit adds or removes at most two letters
            d = damerau(phrase, key, limit)
            if d == 0 or d > limit:
                continue
            if best and d > best[0].distance:
                continue
            if best and d < best[0].distance:
                best = []
            best.append(Correction(key, words, d, entries))
        return best


def typo_word(token: Token) -> bool:
    """True for a word that may be a misspelt place: long, alphabetic, not common."""
    w = token.norm
    return (
        len(w) >= MIN_TYPO_CHARS
        and w.isalpha()
        and w not in ENGLISH_WORDS
        and w not in FIRST_NAMES
    )


def load_common_words(path: Path = COMMON_WORDS_FILE) -> frozenset[str]:
    """Words people write in enquiries (common_words.txt): never a misspelt village."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip() for w in lines if w.strip() and not w.startswith("#"))
