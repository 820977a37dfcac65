"""The in-memory gazetteer the location resolver matches: names, areas, words."""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import LadCodeChange, LocalAuthority, Place, PostcodeDistrict
from bot.directory.place_tables import (
    AREAS,
    BAD_ALT_NAMES,
    CEREMONIAL_EXTRAS,
    COUNCIL_ALIASES,
    COUNCIL_PREFIXES,
    COUNCIL_RANK,
    COUNCIL_SUFFIXES,
    COUNTRY_WORDS,
    COUNTY_ABBREVIATIONS,
    EXCLUDED_PLACES,
    GENERIC_TOKENS,
    LANDMARK_WORDS,
    NATION_NAMES,
    NOT_PLACES,
    PLACE_ALIASES,
    POSTAL_EXTRAS,
)
from bot.directory.textnorm import name_key
from bot.directory.variants import Mutated, add_short_forms, add_welsh_mutations
from bot.settings import DIRECTORY_DATA_DIR

AMBIGUOUS_WORDS_FILE = DIRECTORY_DATA_DIR / "ambiguous_words.txt"

# Base scores: City > Town > council > Village > Suburban Area > Other > Hamlet.
PLACE_RANK = {
    "City": 0.90,
    "Town": 0.86,
    "settlement": 0.84,  # NI: NISRA does not tell towns from villages
    "Village": 0.70,
    "Suburban Area": 0.62,
    "Other Settlement": 0.56,
    "Hamlet": 0.50,
    "Island": 0.84,  # landmarks.csv: named like a town ("Arran", "Isle of Bute")
    "Park": 0.80,
}
COUNTY_RANK = 0.80

# Tiers: 3 = city/town/council/county/NI settlement, 2 = village, 1 = smaller.
TIER_BIG, TIER_VILLAGE, TIER_SMALL = 3, 2, 1
PLACE_TIER = {
    "City": TIER_BIG,
    "Town": TIER_BIG,
    "settlement": TIER_BIG,
    "Village": TIER_VILLAGE,
    "Island": TIER_BIG,
    "Park": TIER_BIG,
}
LANDMARK_TYPES = frozenset({"Island", "Park"})
_ISLAND_PREFIXES = ("isle of ", "island of ", "isles of ")
_ISLAND_SUFFIXES = (" island", " isle", " islands")

# Words that make a generic name a description ("the town centre"), never a suburb.
PLACE_WORDS = frozenset({"the", "town", "city", "village", "centre", "center"})

MIN_NAME_CHARS = 3  # names shorter than this (spaces aside) are never matched


def english_part(os_county: str | None) -> str | None:
    """Return the English half of a bilingual OS county ("Sir Benfro - X")."""
    if not os_county:
        return None
    if " - " in os_county:
        return os_county.split(" - ", 1)[1].removeprefix("the ").strip() or None
    return os_county


def clean_lad_name(name: str) -> str:
    """Return a LAD name for display ("Kingston upon Hull, City of" -> "... Hull")."""
    for suffix in (", City of", ", County of"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


@dataclass(frozen=True, slots=True)
class Entry:
    """One thing a name can mean: a place, a council, a county/area or a nation."""

    kind: str  # place | council | county | nation | blocker
    name: str  # the name as the data spells it
    other_name: str | None  # the place's other-language (or English) name
    place_type: str | None  # City, Town, ..., settlement; "council"; "county"
    lad_code: str | None
    lad_codes: tuple[str, ...]  # every LAD meant (lad_code first when set)
    area: frozenset[str]  # LADs this entry agrees with as a qualifier
    nation: str | None
    region: str | None  # shown after the name: "St Ives, Cornwall"
    rank: float
    tier: int


# Indexed under phrases that hide the names inside them (NOT_PLACES).
BLOCKER = Entry(
    kind="blocker",
    name="",
    other_name=None,
    place_type=None,
    lad_code=None,
    lad_codes=(),
    area=frozenset(),
    nation=None,
    region=None,
    rank=0.0,
    tier=TIER_BIG,
)


@dataclass(frozen=True, slots=True)
class District:
    """A postcode district (outward code) and its councils."""

    code: str
    lad_code: str
    dominant_share: float
    lad_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Lad:
    """A local authority district as the resolver shows it."""

    code: str
    name: str  # as in the data
    display: str
    nation: str
    county_name: str | None


@dataclass(slots=True)
class Gazetteer:
    """Every matchable name with its entries, plus LADs, districts and word levels."""

    names: dict[str, list[Entry]] = field(default_factory=dict)
    levels: dict[str, int] = field(default_factory=dict)  # name key -> 1, 2 or 3
    lads: dict[str, Lad] = field(default_factory=dict)
    districts: dict[str, District] = field(default_factory=dict)
    # short form -> the LAD of the largest place of that name ("newcastle")
    preferred: dict[str, str] = field(default_factory=dict)
    # Welsh mutated form -> its mutation ("nghaerdydd" -> nasal of "caerdydd")
    mutated: dict[str, Mutated] = field(default_factory=dict)
    # council code (current or superseded) -> its council entry ("E08000016")
    codes: dict[str, Entry] = field(default_factory=dict)
    # LADs that hold a city, and metropolitan and London boroughs: their suburbs
    # are large places ("Moseley", Birmingham)
    city_lads: frozenset[str] = frozenset()

    def add(self, key: str, entry: Entry) -> None:
        """Index ``entry`` under ``key`` (skipping too-short names and duplicates)."""
        if len(key.replace(" ", "")) < MIN_NAME_CHARS:
            return
        bucket = self.names.setdefault(key, [])
        if entry not in bucket:
            bucket.append(entry)


def load_word_levels(path: Path = AMBIGUOUS_WORDS_FILE) -> dict[str, int]:
    """Read ambiguous_words.txt: name key -> level 1 (plain), 2 ("!") or 3 ("!!")."""
    levels: dict[str, int] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        level = 1
        if line.endswith("!!"):
            level, line = 3, line[:-2]
        elif line.endswith("!"):
            level, line = 2, line[:-1]
        key = name_key(line)
        if key:
            levels[key] = max(level, levels.get(key, 0))
    return levels


def _lads_by_name(lads: Iterable[Lad]) -> dict[str, str]:
    return {lad.name: lad.code for lad in lads}


def _members(
    refs: Iterable[str], by_name: dict[str, str], lads: dict[str, Lad]
) -> tuple[str, ...]:
    codes: list[str] = []
    for ref in refs:
        if ref.startswith("prefix:"):
            codes += sorted(c for c in lads if c.startswith(ref[7:]))
        elif ref.startswith("county:"):
            codes += sorted(c for c, lad in lads.items() if lad.county_name == ref[7:])
        elif ref in by_name:
            codes.append(by_name[ref])
        else:
            raise ValueError(f"gazetteer table names an unknown LAD: {ref!r}")
    return tuple(dict.fromkeys(codes))


def build_gazetteer(
    session: Session, word_levels: dict[str, int] | None = None
) -> Gazetteer:
    """Read places, councils and postcode districts into a Gazetteer."""
    gaz = Gazetteer(levels=dict(word_levels or load_word_levels()))
    for la in session.execute(
        select(
            LocalAuthority.code,
            LocalAuthority.name,
            LocalAuthority.official_name,
            LocalAuthority.nation,
            LocalAuthority.county_name,
            LocalAuthority.alt_names,
        )
    ):
        gaz.lads[la.code] = Lad(
            la.code, la.name, clean_lad_name(la.name), str(la.nation), la.county_name
        )
    by_name = _lads_by_name(gaz.lads.values())
    extras = {
        name: _members(refs, by_name, gaz.lads)
        for name, refs in CEREMONIAL_EXTRAS.items()
    }
    _add_councils(session, gaz, extras)
    _add_areas(gaz, by_name, extras)
    _add_places(session, gaz)
    for d in session.execute(
        select(
            PostcodeDistrict.code,
            PostcodeDistrict.lad_code,
            PostcodeDistrict.dominant_share,
            PostcodeDistrict.all_lad_codes,
        )
    ):
        codes = tuple(dict.fromkeys([d.lad_code, *(d.all_lad_codes or [])]))
        gaz.districts[d.code] = District(d.code, d.lad_code, d.dominant_share, codes)
    for alias, place in PLACE_ALIASES.items():
        found = [e for e in gaz.names.get(name_key(place), []) if e.name == place]
        for entry in found:
            gaz.add(name_key(alias), entry)
    for phrase in NOT_PLACES:
        gaz.add(name_key(phrase), BLOCKER)
    for code, lad in gaz.lads.items():
        gaz.codes[code] = next(
            e
            for e in gaz.names[name_key(lad.display)]
            if e.kind == "council" and e.lad_code == code
        )
    for old, new in session.execute(
        select(LadCodeChange.old_code, LadCodeChange.current_code)
    ):
        if new in gaz.codes:
            gaz.codes[old] = gaz.codes[new]
    gaz.city_lads = frozenset(
        code
        for code in gaz.lads
        if code.startswith(("E08", "E09"))
        or any(
            e.place_type == "City" and e.lad_code == code
            for e in gaz.names.get(name_key(gaz.lads[code].display), ())
        )
    ) | frozenset(
        e.lad_code
        for entries in gaz.names.values()
        for e in entries
        if e.place_type == "City" and e.lad_code
    )
    _prune_parks(gaz)
    gaz.preferred = add_short_forms(gaz)
    gaz.mutated = add_welsh_mutations(gaz)
    _derive_levels(gaz)
    return gaz


def _council_entry(lad: Lad, rank: float, area: frozenset[str]) -> Entry:
    return Entry(
        kind="council",
        name=lad.display,
        other_name=None,
        place_type="council",
        lad_code=lad.code,
        lad_codes=(lad.code,),
        area=area,
        nation=lad.nation,
        region=None,
        rank=rank,
        tier=TIER_BIG,
    )


def _council_names(lad: Lad, official: str | None, alts: Iterable[str]) -> set[str]:
    short = name_key(lad.display)
    keys = {short, name_key(lad.name)}
    if official:
        keys.add(name_key(official))
    for alt in alts:
        if "\ufffd" in alt or "\u00ef" in alt:  # mojibake in the source
            continue
        key = name_key(alt)
        if key and key not in BAD_ALT_NAMES and len(key) > 3:
            keys.add(key)
    bases = {k for k in keys if "council" not in k.split()}
    for base in list(bases):
        for suffix in COUNCIL_SUFFIXES:
            keys.add(f"{base} {suffix}")
        for prefix in COUNCIL_PREFIXES:
            keys.add(f"{prefix} {base}")
    return keys


def _add_councils(
    session: Session, gaz: Gazetteer, extras: dict[str, tuple[str, ...]]
) -> None:
    rows = session.execute(
        select(
            LocalAuthority.code, LocalAuthority.official_name, LocalAuthority.alt_names
        )
    )
    for code, official, alts in rows:
        lad = gaz.lads[code]
        area = frozenset((code, *extras.get(lad.display, ())))
        entry = _council_entry(lad, COUNCIL_RANK, area)
        for key in _council_names(lad, official, alts or []):
            gaz.add(key, entry)
    by_name = _lads_by_name(gaz.lads.values())
    for alias, (lad_name, rank) in COUNCIL_ALIASES.items():
        lad = gaz.lads[by_name[lad_name]]
        area = frozenset((lad.code, *extras.get(lad.display, ())))
        gaz.add(name_key(alias), _council_entry(lad, rank, area))


def _county_entry(
    name: str, codes: tuple[str, ...], postal: tuple[str, ...] = ()
) -> Entry:
    return Entry(
        kind="county",
        name=name,
        other_name=None,
        place_type="county",
        lad_code=None,
        lad_codes=codes,
        area=frozenset(codes) | frozenset(postal),
        nation=None,
        region=None,
        rank=COUNTY_RANK,
        tier=TIER_BIG,
    )


def _add_areas(
    gaz: Gazetteer, by_name: dict[str, str], extras: dict[str, tuple[str, ...]]
) -> None:
    counties: dict[str, list[str]] = defaultdict(list)
    for lad in gaz.lads.values():
        if lad.county_name:
            counties[lad.county_name].append(lad.code)
    county_entries: dict[str, Entry] = {}
    for county, codes in sorted(counties.items()):
        members = tuple(dict.fromkeys([*sorted(codes), *extras.get(county, ())]))
        postal = _members(POSTAL_EXTRAS.get(county, ()), by_name, gaz.lads)
        entry = _county_entry(county, members, postal)
        county_entries[county] = entry
        gaz.add(name_key(county), entry)
        gaz.add(name_key(county) + " county", entry)
        gaz.add("county of " + name_key(county), entry)
    for abbr, county in COUNTY_ABBREVIATIONS.items():
        gaz.add(name_key(abbr), county_entries[county])
    for display, (aliases, refs) in AREAS.items():
        postal = _members(POSTAL_EXTRAS.get(display, ()), by_name, gaz.lads)
        members = _members(refs, by_name, gaz.lads)
        entry = _county_entry(display, members, postal)
        if len(members) == 1:  # "County Fermanagh" is Fermanagh and Omagh's area
            lad = gaz.lads[members[0]]
            area = frozenset((lad.code, *extras.get(lad.display, ()))) | set(postal)
            entry = _council_entry(lad, COUNTY_RANK, area)
        for alias in aliases:
            gaz.add(name_key(alias), entry)
    for key, nation in NATION_NAMES.items():
        nation_codes = tuple(c for c, lad in gaz.lads.items() if lad.nation == nation)
        gaz.add(
            key,
            Entry(
                kind="nation",
                name=nation,
                other_name=None,
                place_type=None,
                lad_code=None,
                lad_codes=nation_codes,
                area=frozenset(nation_codes),
                nation=nation,
                region=None,
                rank=0.0,
                tier=TIER_BIG,
            ),
        )


def _add_places(session: Session, gaz: Gazetteer) -> None:
    rows = session.execute(
        select(
            Place.name, Place.name_alt, Place.place_type, Place.lad_code, Place.county
        )
    )
    # One tuple, set and string per LAD / county / type, shared by ~45,000 entries.
    shared: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {}
    for name, alt, place_type, lad_code, county in rows:
        lad = gaz.lads.get(lad_code)
        if lad is None:
            continue
        if lad_code not in shared:
            shared[lad_code] = ((lad_code,), frozenset((lad_code,)))
        codes, area = shared[lad_code]
        place_type = sys.intern(place_type)
        if place_type in LANDMARK_TYPES:
            names = _landmark_names(name, alt)
        else:
            names = [(name, alt)] + ([(alt, name)] if alt else [])
        for shown, other in names:
            key = name_key(shown)
            if place_type in LANDMARK_TYPES and key in LANDMARK_WORDS:
                continue  # "Mainland", "Horse Island" as "horse": words, not places
            if not key or key in COUNTRY_WORDS or (key, lad_code) in EXCLUDED_PLACES:
                continue
            region = english_part(county)
            if not region or name_key(region) == key:
                region = lad.display if name_key(lad.display) != key else lad.nation
            entry = Entry(
                kind="place",
                name=shown,
                other_name=other,
                place_type=place_type,
                lad_code=codes[0],
                lad_codes=codes,
                area=area,
                nation=lad.nation,
                region=sys.intern(region),
                rank=PLACE_RANK.get(place_type, 0.5),
                tier=PLACE_TIER.get(place_type, TIER_SMALL),
            )
            gaz.add(key, entry)


def _prune_parks(gaz: Gazetteer) -> None:
    """Drop a park named after a town it is not in ("Sheffield Park", Wealden).

    "a Sheffield park" means a park in Sheffield. A park keeps its name when no
    town has that name ("Sefton Park": Sefton is a council) or a place of that
    name is in the park's own council ("Richmond Park", by Richmond in London).
    """
    for key, entries in list(gaz.names.items()):
        words = key.split()
        parks = [e for e in entries if e.place_type == "Park"]
        if not parks or len(words) < 2:
            continue
        head = gaz.names.get(" ".join(words[:-1]), ())
        towns = {
            e.lad_code
            for e in head
            if e.kind == "place" and e.place_type in ("City", "Town")
        }
        near = {e.lad_code for e in head if e.kind in ("place", "council")}
        # "Richmond Park" keeps its name: a Richmond is in its council too
        bad = [e for e in parks if towns and e.lad_code not in near]
        if bad:
            kept = [e for e in entries if e not in bad]
            if kept:
                gaz.names[key] = kept
            else:
                del gaz.names[key]


def _landmark_names(name: str, alt: str | None) -> list[tuple[str, str | None]]:
    """An island's or park's names: its own, its others (";"), and short forms.

    "Isle of Bute" is also "Bute", "Hayling Island" also "Hayling"; each name is
    shown with the landmark's own name beside it.
    """
    alts = [a.strip() for a in (alt or "").split(";") if a.strip()]
    out: list[tuple[str, str | None]] = [(name, alts[0] if alts else None)]
    out += [(a, name) for a in alts]
    seen = {name_key(n) for n, _ in out}
    for shown, _ in list(out):
        key = name_key(shown)
        short = key
        for prefix in _ISLAND_PREFIXES:
            short = short.removeprefix(prefix)
        for suffix in _ISLAND_SUFFIXES:
            short = short.removesuffix(suffix)
        if (
            short != key
            and short not in seen
            and short not in GENERIC_TOKENS
            and not short.startswith("the ")  # "Isles of the Sea"
        ):
            seen.add(short)
            out.append((short.title(), name))
    return out


def _derive_levels(gaz: Gazetteer) -> None:
    """Treat small-place names made only of common words like level-"!" words.

    Names made only of the generic words of place names ("The Village", "Church
    End", "High Street") are level "!!": a qualifier must say which is meant.
    """
    common = GENERIC_TOKENS | {k for k in gaz.levels if " " not in k}
    for key, entries in gaz.names.items():
        if key in gaz.levels or " " not in key:
            continue
        if any(e.tier == TIER_BIG for e in entries):
            continue
        words = key.split()
        suburb = not PLACE_WORDS & set(words) and any(
            e.place_type == "Suburban Area" and e.lad_code in gaz.city_lads
            for e in entries
        )
        if all(t in GENERIC_TOKENS for t in words) and not suburb:
            gaz.levels[key] = 3  # "The Village", "Church End": only with a qualifier
        elif all(t in common for t in words):
            gaz.levels[key] = 2
