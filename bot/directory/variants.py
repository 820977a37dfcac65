"""Name variants derived from the gazetteer: everyday short forms, Welsh mutations."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from spacy.lang.en.stop_words import STOP_WORDS

from bot.directory.place_tables import GENERIC_TOKENS

if TYPE_CHECKING:
    from bot.directory.gazetteer import Entry, Gazetteer

# How big a place type is, for "the largest place of that name" (the data holds
# no populations: a city outranks a town, a town or NI settlement a village).
PLACE_SIZE = {"City": 3, "Town": 2, "settlement": 2}

# Words an official name adds that people drop: "Royal Leamington Spa" ->
# "Leamington", "Great Malvern" -> "Malvern", "Bognor Regis" -> "Bognor".
DROPPED_FIRST = ("royal", "great", "y")  # "Y Bala" -> "Bala" (the Welsh article)
DROPPED_LAST = ("spa", "regis")
# "Barrow-in-Furness", "Clacton-on-Sea", "Newcastle upon Tyne", "Weston-super-Mare":
# the part before the linking word is what people say.
LINK_WORDS = frozenset(
    "on upon in under by super le next cum en".split()
)  # fmt: skip
MIN_SHORT_CHARS = 4

# Welsh initial mutations of a radical consonant (folded, lower case). Digraphs
# first: "ll" and "rh" mutate as one sound; "ch", "ph", "th", "dd" never mutate.
SOFT = {"ll": "l", "rh": "r", "c": "g", "p": "b", "t": "d", "g": "", "b": "f",
        "d": "dd", "m": "f"}  # fmt: skip
NASAL = {"c": "ngh", "p": "mh", "t": "nh", "g": "ng", "b": "m", "d": "n"}
ASPIRATE = {"c": "ch", "p": "ph", "t": "th"}
# The words before a place name that cause each mutation ("i Fangor", "o Gaerdydd",
# "yng Nghaerdydd", "ym Mhontypridd", "a Chaerdydd", "gyda Phontypridd").
MUTATION_TRIGGERS: dict[str, frozenset[str]] = {
    "soft": frozenset(
        "i o ger am ar at dan dros drwy trwy gan heb hyd wrth tan".split()
    ),
    "nasal": frozenset("yn yng ym fy".split()),
    "aspirate": frozenset("a ac gyda efo tua na".split()),
}
# Triggers that are English words too: after them a form that lost its "g"
# ("I went") must be capitalised, and the English "I" never counts.
ENGLISH_TRIGGERS = frozenset("i o a am at an na tan dan".split())
MUTATIONS = {"soft": SOFT, "nasal": NASAL, "aspirate": ASPIRATE}
NON_MUTATING = ("ch", "ph", "th", "dd")
# A mutated form that is an everyday English word ("went" from Gwent after "I")
# is not taken as a place.
ENGLISH_WORDS = frozenset(STOP_WORDS) | GENERIC_TOKENS


@dataclass(frozen=True, slots=True)
class Mutated:
    """A mutated name key: the mutation, and the radical name it comes from."""

    mutation: str  # soft | nasal | aspirate
    radical: str  # the name key as the data spells it

    @property
    def dropped_g(self) -> bool:
        """True for the soft mutation that drops a "g" ("Gwent" -> "Went")."""
        return self.mutation == "soft" and self.radical.startswith("g")


def _link_at(words: list[str]) -> int:
    """Index of the first linking word after the first word ("on", "cum"), or 0."""
    return next((i for i, w in enumerate(words[1:], 1) if w in LINK_WORDS), 0)


def short_forms(key: str) -> set[str]:
    """Return the everyday short forms of a name key (without the key itself)."""
    words = key.split()
    variants = {tuple(words)}
    link = _link_at(words)
    if link:
        variants.add(tuple(words[:link]))
    for v in list(variants):
        ops: list[tuple[str, ...]] = []
        for first in DROPPED_FIRST:
            if len(v) > 1 and v[0] == first:
                ops.append(v[1:])
        for last in DROPPED_LAST:
            if len(v) > 1 and v[-1] == last:
                ops.append(v[:-1])
        variants.update(ops)
        if len(v) > 2 and v[0] in DROPPED_FIRST and v[-1] in DROPPED_LAST:
            variants.add(v[1:-1])
    out = {" ".join(v) for v in variants}
    out.discard(key)
    return {s for s in out if len(s.replace(" ", "")) >= MIN_SHORT_CHARS}


def _size(entry: Entry) -> int:
    return PLACE_SIZE.get(entry.place_type or "", 0) if entry.kind == "place" else 0


def add_short_forms(gaz: Gazetteer) -> dict[str, str]:
    """Index towns and cities under their short forms; return short key -> lad.

    A short form is added unless a council or area elsewhere has that name. When
    towns of that name lie in several council areas, the largest is the
    preferred reading ("Newcastle" is Newcastle upon Tyne unless a qualifier
    says otherwise); two of one size ("Henley") are both offered. Villages of
    the name give way to the town, as they do to any town.
    """
    derived: dict[str, list[Entry]] = defaultdict(list)
    for key, entries in gaz.names.items():
        big = [e for e in entries if e.kind == "place" and _size(e) >= 2]
        if not big:
            continue
        for short in short_forms(key):
            derived[short].extend(e for e in big if e not in derived[short])
    preferred: dict[str, str] = {}
    for short, new in derived.items():
        existing = gaz.names.get(short, [])
        if any(e.kind == "blocker" for e in existing):
            continue
        rivals = [e for e in existing if e.tier >= 3 and e.kind != "nation"]
        lads = {e.lad_code for e in new}
        rival_lads = {e.lad_code for e in rivals} - lads
        if any(e.kind != "place" and e.lad_code not in lads for e in rivals):
            continue  # a council or area of that name ("Kingston", "Sutton")
        if len(lads) > 1 or rival_lads:
            top = max(_size(e) for e in new)
            largest = {e.lad_code or "" for e in new if _size(e) == top}
            others = [e for e in new if e.lad_code not in largest] + [
                e for e in rivals if e.lad_code not in largest
            ]
            if len(largest) == 1 and all(_size(e) < top for e in others):
                preferred[short] = next(iter(largest))
            # else two of a size ("Henley"): both are offered and the person asked
        for e in new:
            gaz.add(short, e)
        if short not in gaz.levels and all(w in ENGLISH_WORDS for w in short.split()):
            gaz.levels[short] = 2
    _add_suburb_short_forms(gaz)
    return preferred


def _add_suburb_short_forms(gaz: Gazetteer) -> None:
    """"Chorlton" for Chorlton-cum-Hardy: the part before a link word of a city's
    suburb, unless a town, council or area has that name or it is a word."""
    derived: dict[str, list[Entry]] = defaultdict(list)
    for key, entries in gaz.names.items():
        words = key.split()
        link = _link_at(words)
        if not link:
            continue
        suburbs = [
            e
            for e in entries
            if e.place_type == "Suburban Area" and e.lad_code in gaz.city_lads
        ]
        short = " ".join(words[:link])
        if suburbs and len(short.replace(" ", "")) >= MIN_SHORT_CHARS:
            derived[short].extend(suburbs)
    for short, new in derived.items():
        existing = gaz.names.get(short, [])
        if any(e.tier >= 3 or e.kind == "blocker" for e in existing):
            continue
        if short in gaz.levels or all(w in ENGLISH_WORDS for w in short.split()):
            continue
        for e in new:
            gaz.add(short, e)


def _mutate(word: str, table: dict[str, str]) -> str | None:
    if word.startswith(NON_MUTATING):
        return None
    for radical in ("ll", "rh"):
        if word.startswith(radical):
            return table[radical] + word[2:] if radical in table else None
    first = word[:1]
    if first in table:
        return table[first] + word[1:]
    return None


def welsh_mutations(key: str) -> dict[str, str]:
    """Return the mutated forms of a name key: form -> mutation."""
    first, _, rest = key.partition(" ")
    out: dict[str, str] = {}
    for mutation, table in MUTATIONS.items():
        m = _mutate(first, table)
        if m and len(m) >= 2:
            out[" ".join(filter(None, (m, rest)))] = mutation
    return out


def _is_welsh(entry: Entry) -> bool:
    return bool(entry.lad_codes) and all(c.startswith("W") for c in entry.lad_codes)


def add_welsh_mutations(gaz: Gazetteer) -> dict[str, Mutated]:
    """Index the mutated forms of every Welsh name; return form -> Mutated.

    Only forms that are not already a name and not an English word are added;
    the resolver takes them only right after a word that causes the mutation.
    """
    out: dict[str, Mutated] = {}
    welsh: list[tuple[str, list[Entry]]] = [
        (key, [e for e in entries if _is_welsh(e)])
        for key, entries in gaz.names.items()
    ]
    for key, entries in welsh:
        if not entries:
            continue
        for form, mutation in welsh_mutations(key).items():
            if form in gaz.names or form in out or form.split()[0] in ENGLISH_WORDS:
                continue
            out[form] = Mutated(mutation, key)
            for e in entries:
                gaz.add(form, e)
            if key in gaz.levels:
                gaz.levels[form] = gaz.levels[key]
    return out


def triggers_for(mutation: str) -> Iterable[str]:
    """Return the words after which ``mutation`` happens."""
    return MUTATION_TRIGGERS[mutation]


def mutation_allowed(
    mutated: Mutated, trigger: str, trigger_text: str, capitalised: bool, mixed: bool
) -> bool:
    """Return True when ``trigger`` (folded; as typed) licenses the mutated form."""
    if trigger not in MUTATION_TRIGGERS[mutated.mutation]:
        return False
    if trigger == "i" and mixed and trigger_text == "I":
        return False  # the English pronoun
    return not (mutated.dropped_g and trigger in ENGLISH_TRIGGERS and not capitalised)
