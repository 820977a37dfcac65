"""Misspelt towns, suburbs, generic names and persons: the resolver's harder kinds.

Examples written for these tests (not taken from tests/directory/frozen/ nor from
tests/directory/dev/); each expected code was looked up in data/directory/.
"""

from __future__ import annotations

import pytest

from bot.directory.fuzzy import allowed_edits, damerau
from bot.directory.resolver import LocationResolver

# --------------------------------------------------------------------------------
# Unit: edit distance and how many edits a name allows
# --------------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("bradfrod", "bradford", 1),  # two letters swapped
        ("manchster", "manchester", 1),  # one missing
        ("dundeee", "dundee", 1),  # one doubled
        ("cardif", "cardiff", 1),
        ("peterborogh", "peterborough", 1),
        ("edinbrugh", "edinburgh", 1),
        ("wolverhamton", "wolverhampton", 1),
        ("abredeen", "aberdeen", 1),
        ("middlesborough", "middlesbrough", 1),
        ("leeds", "leeds", 0),
        ("sheffeild", "sheffield", 1),
        ("nottinghm", "nottingham", 1),
    ],
)
def test_damerau_counts_swaps_as_one_edit(a: str, b: str, distance: int) -> None:
    assert damerau(a, b, 2) == distance


@pytest.mark.unit
def test_damerau_stops_above_its_limit() -> None:
    assert damerau("birmingham", "brighton", 2) == 3
    assert damerau("a", "abcdef", 2) == 3


@pytest.mark.unit
def test_short_names_allow_no_edit_and_long_ones_two() -> None:
    assert allowed_edits("hull") == 0
    assert allowed_edits("selby") == 0  # "Shelby" is a first name
    assert allowed_edits("carlisle") == 1
    assert allowed_edits("sunderland") == 2
    assert allowed_edits("brighton and hove") == 2


# --------------------------------------------------------------------------------
# Integration: the whole gazetteer
# --------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize(
    ("text", "lad"),
    [
        # misspelt towns and cities after a place cue, or as a short answer
        ("we're based in Bradfrod", "E08000032"),
        ("hi from Sunderlnd, we run a toddler group", "E08000024"),
        ("a lunch club in Carlilse", "E06000063"),
        ("men's shed in mansfeild", "E07000174"),
        ("Bradfrod", "E08000032"),
        # suburbs: one in a city is larger than hamlets or a suburb of a town
        ("food bank in moseley", "E08000025"),
        ("we are in kings heath", "E08000025"),
        # an accented name as typed picks the place spelt that way
        ("tha sinn ann am Port Rìgh", "S12000017"),
        # "a town called X" is a place, not a person
        ("we're in a little town called Wendover", "E06000060"),
    ],
)
def test_harder_kinds_resolve(
    location_resolver: LocationResolver, text: str, lad: str
) -> None:
    result = location_resolver.resolve(text)
    assert result.best is not None, result.candidates
    assert result.best.lad_code == lad


@pytest.mark.integration
def test_a_misspelling_is_noted_and_ranks_under_an_exact_name(
    location_resolver: LocationResolver,
) -> None:
    best = location_resolver.resolve("we're based in Bradfrod").best
    assert best is not None and best.note and "as Bradford" in best.note
    exact = location_resolver.resolve("we're based in Bradford").best
    assert exact is not None and exact.score > best.score


@pytest.mark.integration
@pytest.mark.parametrize(
    "text",
    [
        # words a letter or two from a town, but words
        "we're in trouble with our accounts",
        "hi from Shelby, our treasurer",
        "we met at Holyrood Park",  # a landmark's name, not a misspelt Holywood
        "Port Rigg",  # too short to correct
        # generic names of small places, without a qualifier
        "we're in the village",
        "based in the town centre",
        "we meet in the city centre",
        # persons
        "our volunteer Lincoln helps on Mondays",
        "a man called Preston fixed the boiler",
        # lower-case names without a cue in a typed sentence
        "We repaired the hull of the boat last week",
        "Our chair bought a bakewell tart for the raffle",
    ],
)
def test_lookalikes_of_the_harder_kinds_stay_unresolved(
    location_resolver: LocationResolver, text: str
) -> None:
    result = location_resolver.resolve(text)
    assert result.candidates == (), result.candidates


@pytest.mark.unit
def test_dev_split_is_big_enough_and_uses_current_codes() -> None:
    import csv
    from pathlib import Path

    from bot.settings import DIRECTORY_DATA_DIR

    dev = Path(__file__).parent / "dev"
    with (dev / "place_mentions.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    lines = (dev / "no_place_messages.txt").read_text(encoding="utf-8").splitlines()
    with (DIRECTORY_DATA_DIR / "local_authorities.csv").open(encoding="utf-8") as f:
        current = {r["lad_code"] for r in csv.DictReader(f)}
    assert len(rows) >= 300 and len([s for s in lines if s.strip()]) >= 150
    assert {r["expected_lad_code"] for r in rows} <= current
    assert len({r["id"] for r in rows}) == len(rows)
