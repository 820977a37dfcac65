"""Islands and parks, groups named after their place, historic counties, "Y Bala".

Examples written for these tests (not taken from tests/directory/frozen/ nor from
tests/directory/dev/); each expected code was looked up in data/directory/
(places.csv, landmarks.csv, local_authorities.csv).
"""

from __future__ import annotations

import csv

import pytest

from bot.directory.gazetteer import _landmark_names
from bot.directory.resolver import LocationResolver
from bot.settings import DIRECTORY_DATA_DIR


@pytest.mark.unit
def test_an_island_is_indexed_under_its_names_and_short_forms() -> None:
    names = dict(_landmark_names("Isle of Bute", "Bute Island;Eilean Bhòid"))
    assert set(names) >= {"Isle of Bute", "Bute Island", "Eilean Bhòid", "Bute"}
    assert names["Bute"] == "Isle of Bute"
    hayling = dict(_landmark_names("Hayling Island", None))
    assert set(hayling) == {"Hayling Island", "Hayling"}
    # "Isles of the Sea" is never "the sea"; "Holy Island" never "holy" (a word)
    assert "The Sea" not in dict(_landmark_names("Garvellachs", "Isles of the Sea"))


@pytest.mark.unit
def test_landmarks_file_has_a_current_council_and_a_source_for_every_row() -> None:
    with (DIRECTORY_DATA_DIR / "local_authorities.csv").open(encoding="utf-8") as f:
        current = {r["lad_code"] for r in csv.DictReader(f)}
    with (DIRECTORY_DATA_DIR / "landmarks.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 500
    assert {r["kind"] for r in rows} == {"island", "park", "neighbourhood"}
    for r in rows:
        assert r["lad_code"] in current, r
        assert "geonameid" in r["source"], r


@pytest.mark.integration
@pytest.mark.parametrize(
    ("text", "lad"),
    [
        # islands, by their names, short forms and "on"
        ("we're a community council on the Isle of Bute", "S12000035"),
        ("our hall on Arran needs volunteers", "S12000021"),
        ("Hayling Island residents association", "E07000090"),
        ("is there a volunteer centre on Rathlin", "N09000004"),
        ("we're on Skye and need a grant", "S12000017"),
        ("Lundy island volunteers", "E07000046"),
        # parks, by their own names, not the council the name sounds like
        ("friends of Sefton Park need trustees", "E08000012"),
        ("a conservation group on Hampstead Heath", "E09000007"),
        ("walking group in Richmond Park", "E09000027"),
        # Northern Ireland's neighbourhoods (GeoNames: NISRA lists none)
        ("we run a youth club in Ardoyne", "N09000003"),
        ("Shankill community group", "N09000003"),
        # a group named after its place, with no "in" before it
        ("Toxteth food bank needs volunteers", "E08000012"),
        ("Splott community centre wants a grant", "W06000015"),
        ("Peckham youth club", "E09000028"),
        # a suburb of a town, or a hamlet, after a place cue
        ("we're a lunch club in Dafen", "W06000010"),
        ("a toddler group in Walsworth", "E07000099"),
        ("we are based in Skelsmergh", "E06000064"),
        # historic counties as qualifiers
        ("our village hall in Comrie, Perthshire needs a new roof", "S12000048"),
        ("Callander, Perthshire", "S12000030"),
        ("we're a choir in Beauly, Inverness-shire", "S12000017"),
        ("Greenock, Renfrewshire", "S12000018"),
        ("Helensburgh, Dunbartonshire", "S12000035"),
        ("Currie, Midlothian", "S12000036"),
        # the Welsh article dropped: "Bala" is Y Bala
        ("we're in Bala", "W06000002"),
        # a park named after a town it is not in gives way to the town (Sheffield
        # Park is a garden in Wealden; Sheffield has a suburb of that name, and
        # its code is E08000039 since 2021); a park named after an island is not
        # on the island
        ("we look after a sheffield park", "E08000039"),
        ("we volunteer at Bute Park in Cardiff", "W06000015"),
        ("we're in County Fermanagh", "N09000006"),  # an area of one council
        ("we're a youth club in Chorlton", "E08000003"),  # Chorlton-cum-Hardy
        ("Birmigham food bank needs help", "E08000025"),  # a typo naming a group
        ("we're in Brum", "E08000025"),
        # a name used as an adjective: "a X charity", "our X group", "X here"
        ("i volunteer with a Hirwaun charity", "W06000016"),
        ("our Briston group needs insurance advice", "E07000147"),
        ("hi there, Ladock here, we need help", "E06000052"),
        # lower case after an article, with its county beside it
        ("i'm the secretary of a islip, oxfordshire tenants group", "E07000177"),
        # a place asked about by name, or named in brackets
        ("does Drymen have a cvs?", "S12000030"),
        ("our village hall committee (Boxworth) needs advice", "E07000012"),
        # a town's suburb of common words, capitalised after "in"
        ("we are a food bank in Wash Common and need trustees", "E06000037"),
        # Welsh "yn" before a name that does not mutate, Gaelic "ann an"
        ("rydyn ni yn Llandeilo", "W06000010"),
        ("tha sinn ann an Eilean Sgitheanach", "S12000017"),
    ],
)
def test_the_new_kinds_resolve(
    location_resolver: LocationResolver, text: str, lad: str
) -> None:
    result = location_resolver.resolve(text)
    assert result.best is not None, result.candidates
    assert result.best.lad_code == lad


@pytest.mark.integration
def test_a_historic_county_alone_is_an_area_to_ask_about(
    location_resolver: LocationResolver,
) -> None:
    best = location_resolver.resolve("we're in Perthshire").best
    assert best is not None and best.kind == "county"
    assert set(best.lad_codes) == {"S12000048", "S12000030"}


@pytest.mark.integration
@pytest.mark.parametrize(
    "text",
    [
        # island names that are words, and words near island names
        "i want to mull it over with the committee",
        "we had rum punch at the fundraiser",
        "the mainland is far from here",
        "my card got declined at tesco",  # not a misspelt Tresco
        "she said she would walk into the sea",  # "Isles of the Sea"
        "mae hi'n dweud bod ei thad yn sal",  # Welsh "bod", not Bòd (Bute)
        "we planted a sensory garden at the school",
        # a group named after a common word stays a word
        "our rugby club needs a new treasurer",
        "the bath community is lovely",
        # a surname that is a historic county
        "our treasurer Mrs Sutherland said no",
        # things named after towns, and names that are no place here
        "we sell bakewell tarts at the coffee morning",
        "a raffle of paisley scarves",
        "we sell Bath buns at the fair",
        "Eccles cakes and tea after the meeting",
        "Our Treasure Hunt group meets on Fridays",  # capitalised, no town nearby
        "our Facebook group is busy",
        "does Sarah have the keys",
        "our treasurer (Sarah) sent the accounts (attached)",
        "does Stanley have a DBS check",
        "the Lions club and the Rotary club",
        # a nation qualifies no lower-case word ("Sea" is a hamlet in Somerset)
        "do you need a licence for sea fishing in England",
        # words one edit from a village, and a lower-case misspelling
        "I was in Prison for years",  # one edit from Priston, but a word we write
        "We got help from Overseas",  # Overseal
        "we are based in hunwck",  # lower case: no proper noun to correct
    ],
)
def test_lookalikes_of_the_new_kinds_stay_unresolved(
    location_resolver: LocationResolver, text: str
) -> None:
    result = location_resolver.resolve(text)
    assert result.candidates == (), result.candidates


@pytest.mark.integration
@pytest.mark.parametrize(
    ("text", "lad"),
    [
        ("We are based in Hunwck", "E06000047"),  # Hunwick, County Durham
        ("our charity is in Potternewotn", "E08000035"),  # Potternewton, Leeds
    ],
)
def test_a_long_village_or_suburb_name_misspelt_once_resolves(
    location_resolver: LocationResolver, text: str, lad: str
) -> None:
    result = location_resolver.resolve(text)
    assert result.best is not None, result.candidates
    assert result.best.lad_code == lad
    assert result.best.note and "read" in result.best.note


@pytest.mark.unit
def test_common_words_come_from_our_own_nlu_examples() -> None:
    from bot.directory.fuzzy import load_common_words

    words = load_common_words()
    assert {"prison", "overseas", "volunteers"} <= words
    assert all(len(w) >= 6 and w.isalpha() for w in words)


@pytest.mark.unit
def test_common_words_file_is_up_to_date_with_the_nlu_examples() -> None:
    from scripts.build_common_words import OUT, build

    assert OUT.read_text(encoding="utf-8") == build(), (
        "run python -m scripts.build_common_words"
    )
