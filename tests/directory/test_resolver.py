"""Tests of the location resolver against the full directory (and pure text helpers).

``place_mentions.csv`` columns: ``text``, ``expected`` (a LAD code, ``AREA:<county
name>`` for a county or area, ``AMBIGUOUS`` when the assistant must ask, ``NONE``
when there is no place) and ``expecting_place`` (1 when the message answers
"where are you?").
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from bot.db.session import get_sessionmaker
from bot.directory.gazetteer import load_word_levels
from bot.directory.resolver import (
    FLAG_POSTCODE_NOT_FOUND,
    FLAG_SPLIT_DISTRICT,
    MAX_SCAN_CHARS,
    LocationResolver,
    Resolution,
    locate_report,
)
from bot.directory.textnorm import fold, name_key, tokenize

HERE = Path(__file__).parent
NO_PLACE_FILE = HERE / "no_place_messages.txt"
MENTIONS_FILE = HERE / "place_mentions.csv"


def outcome(result: Resolution) -> str:
    """Return the label a resolution earns in place_mentions.csv."""
    if result.best is None:
        return "AMBIGUOUS" if result.candidates else "NONE"
    return result.best.lad_code or f"AREA:{result.best.name}"


def no_place_messages() -> list[str]:
    """Return the messages that name no place."""
    lines = NO_PLACE_FILE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def place_mentions() -> list[dict[str, str]]:
    """Return the labelled rows of place_mentions.csv."""
    with MENTIONS_FILE.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


# --------------------------------------------------------------------------------
# Unit: text helpers and data files
# --------------------------------------------------------------------------------


@pytest.mark.unit
def test_fold_keeps_offsets_and_strips_diacritics() -> None:
    text = "Ynys Môn, Dùn Èideann – İstanbul’s"
    folded = fold(text)
    assert len(folded) == len(text)
    assert folded.startswith("ynys mon, dun eideann")


@pytest.mark.unit
def test_name_keys_ignore_case_hyphens_dots_and_apostrophes() -> None:
    assert name_key("Stoke-on-Trent") == name_key("stoke on trent")
    assert name_key("St. Ives") == name_key("Saint Ives") == "st ives"
    assert name_key("King's Lynn") == name_key("Kings Lynn")
    assert name_key("Ynys Môn") == "ynys mon"


@pytest.mark.unit
def test_tokens_point_into_the_original_text() -> None:
    text = "We're in Bath, Somerset!"
    tokens = tokenize(fold(text))
    words = [text[t.start : t.end] for t in tokens if t.norm]
    assert words == ["We're", "in", "Bath", "Somerset"]


@pytest.mark.unit
def test_ambiguous_words_file_has_levels() -> None:
    levels = load_word_levels()
    assert len(levels) >= 300
    assert levels["reading"] == 1 and levels["bath"] == 1
    assert levels["wells"] == 2 and levels["march"] == 3


@pytest.mark.unit
def test_labelled_data_files_are_big_enough() -> None:
    assert len(no_place_messages()) >= 150
    rows = place_mentions()
    assert len(rows) >= 120
    assert {"AMBIGUOUS", "NONE"} <= {r["expected"] for r in rows}


# --------------------------------------------------------------------------------
# Integration: the whole gazetteer from a migrated, imported database
# --------------------------------------------------------------------------------


@pytest.fixture
def db_session(directory_db_url: str) -> Iterator[Session]:
    session = get_sessionmaker(directory_db_url)()
    try:
        yield session
    finally:
        session.close()


def resolve(resolver: LocationResolver, text: str, **kw: bool) -> Resolution:
    return resolver.resolve(text, **kw)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("text", "lad"),
    [
        ("TR1 2AA", "E06000052"),
        ("tr12aa", "E06000052"),
        ("tr1", "E06000052"),
        ("M1", "E08000003"),
        ("SW1A 1AA", "E09000033"),
        ("BT1", "N09000003"),
        ("bt48", "N09000005"),
        ("Cornwall Council", "E06000052"),
        ("Leeds City Council", "E08000035"),
        ("Caerdydd", "W06000015"),
        ("Abertawe", "W06000011"),
        ("Ynys Môn", "W06000001"),
        ("ynys mon", "W06000001"),
        ("Belfast", "N09000003"),
        ("Newport, Gwent", "W06000022"),
        ("Newport Isle of Wight", "E06000046"),
        ("St Ives Cornwall", "E06000052"),
        ("St Ives, Cambs", "E07000011"),
        ("Richmond, North Yorkshire", "E06000065"),
        ("we're based in Reading", "E06000038"),
        ("March, Cambridgeshire", "E07000010"),
        ("Bath", "E06000022"),
        ("in Bath", "E06000022"),
        ("Wells, Somerset", "E06000066"),
        ("North Yorkshire", "E06000065"),
    ],
)
def test_named_cases_resolve(
    location_resolver: LocationResolver, text: str, lad: str
) -> None:
    result = location_resolver.resolve(text)
    assert result.best is not None, result.candidates
    assert result.best.lad_code == lad
    assert not result.ambiguous


@pytest.mark.integration
@pytest.mark.parametrize(
    ("text", "lads"),
    [
        ("Newport", {"W06000022", "E06000046"}),
        ("Richmond", {"E09000027", "E06000065"}),
        ("St Ives", {"E06000052", "E07000011"}),
    ],
)
def test_ambiguous_names_offer_every_reading(
    location_resolver: LocationResolver, text: str, lads: set[str]
) -> None:
    result = location_resolver.resolve(text)
    assert result.ambiguous and result.best is None
    assert lads <= {c.lad_code for c in result.candidates}
    # villages of the same name are dropped when towns exist
    assert all(c.place_type not in ("Village", "Hamlet") for c in result.candidates)


@pytest.mark.integration
@pytest.mark.parametrize(
    "text",
    [
        "we're reading about grants",
        "our AGM is in march",
        "Our AGM is in March",
        "a street collection",
        "the bath is broken",
        "we need more trustees",
        "can you help",
        "we want to bid",
        "I have a question about gift aid",
        "hello",
        "thanks",
        "the new chair",
        "wells of goodwill",
        "our hall",
        "the bank",
        "money",
        "bath",  # lower case, alone, but nobody asked where
    ],
)
def test_ordinary_words_are_not_places(
    location_resolver: LocationResolver, text: str
) -> None:
    result = location_resolver.resolve(text)
    assert result.candidates == () and result.best is None and not result.ambiguous


@pytest.mark.integration
def test_whole_answer_counts_when_a_place_was_asked_for(
    location_resolver: LocationResolver,
) -> None:
    assert location_resolver.resolve("bath").best is None
    best = location_resolver.resolve("bath", expecting_place=True).best
    assert best is not None and best.lad_code == "E06000022"
    best = location_resolver.resolve("reading", expecting_place=True).best
    assert best is not None and best.lad_code == "E06000038"


@pytest.mark.integration
def test_county_is_one_candidate_covering_its_districts(
    location_resolver: LocationResolver,
) -> None:
    best = location_resolver.resolve("we're a small charity in Kent").best
    assert best is not None
    assert best.kind == "county" and best.lad_code is None
    assert "E07000110" in best.lad_codes  # Maidstone
    assert len(best.lad_codes) >= 12
    # a place inside the county is more specific and wins
    best = location_resolver.resolve("Maidstone, Kent").best
    assert best is not None and best.lad_code == "E07000110"


@pytest.mark.integration
def test_full_postcode_uses_the_postcodes_table(
    location_resolver: LocationResolver,
) -> None:
    # AB12's dominant council is Aberdeen City, but this postcode is in Aberdeenshire
    best = location_resolver.resolve("our address is AB12 3GQ").best
    assert best is not None
    assert best.kind == "postcode" and best.lad_code == "S12000034"
    assert best.matched_text == "AB12 3GQ"


@pytest.mark.integration
def test_split_district_is_flagged(location_resolver: LocationResolver) -> None:
    best = location_resolver.resolve("AB12").best
    assert best is not None and best.kind == "postcode_district"
    assert best.lad_code == "S12000033"
    assert set(best.lad_codes) == {"S12000033", "S12000034"}
    assert best.needs_full_postcode and FLAG_SPLIT_DISTRICT in best.flags
    assert best.note and "full postcode" in best.note


@pytest.mark.integration
def test_unknown_full_postcode_falls_back_to_its_district(
    location_resolver: LocationResolver,
) -> None:
    best = location_resolver.resolve("BT48 6HQ").best
    assert best is not None and best.kind == "postcode_district"
    assert best.lad_code == "N09000005"
    assert FLAG_POSTCODE_NOT_FOUND in best.flags


@pytest.mark.integration
def test_span_and_display(location_resolver: LocationResolver) -> None:
    text = "Hello! We're a lunch club based in St Ives, Cornwall."
    best = location_resolver.resolve(text).best
    assert best is not None
    assert best.name == "St Ives, Cornwall"
    assert text[best.start : best.end] == best.matched_text == "St Ives"
    assert best.span == (best.start, best.end)
    assert 0.0 < best.score <= 1.0


@pytest.mark.integration
def test_long_input_is_capped(location_resolver: LocationResolver) -> None:
    text = ("we need help with our accounts " * 4000) + " we're based in Leeds"
    assert len(text) > 100_000
    result = location_resolver.resolve(text)
    assert result.truncated and result.candidates == ()
    text = "We're based in Leeds. " + "blah " * 30_000
    result = location_resolver.resolve(text)
    assert result.best is not None and result.best.lad_code == "E08000035"
    assert MAX_SCAN_CHARS < len(text)


@pytest.mark.integration
def test_false_positive_rate_is_low(location_resolver: LocationResolver) -> None:
    messages = no_place_messages()
    found = [m for m in messages if location_resolver.resolve(m).candidates]
    assert len(found) / len(messages) <= 0.02, found


@pytest.mark.integration
def test_labelled_accuracy(location_resolver: LocationResolver) -> None:
    rows = place_mentions()
    wrong = []
    for row in rows:
        result = location_resolver.resolve(
            row["text"], expecting_place=row["expecting_place"] == "1"
        )
        if outcome(result) != row["expected"]:
            wrong.append((row["text"], row["expected"], outcome(result)))
    assert 1 - len(wrong) / len(rows) >= 0.95, wrong


@pytest.mark.integration
def test_session_lookup_and_report(
    location_resolver: LocationResolver, db_session: Session
) -> None:
    result = location_resolver.resolve("TR1 2AA", session=db_session)
    assert result.best is not None and result.best.lad_code == "E06000052"
    report = locate_report(db_session, "St Ives")
    assert "E06000052" in report and "E07000011" in report
    assert "ambiguous" in report
    assert locate_report(db_session, "we need more trustees") == "no place found"


@pytest.mark.integration
def test_resolver_is_safe_to_share_between_threads(
    location_resolver: LocationResolver,
) -> None:
    texts = ["Newport, Gwent", "Leeds", "St Ives, Cambs", "TR1 2AA", "hello"] * 20
    expected = [outcome(location_resolver.resolve(t)) for t in texts]
    results: dict[int, str] = {}

    def work(i: int) -> None:
        results[i] = outcome(location_resolver.resolve(texts[i]))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i] for i in range(len(texts))] == expected


# --------------------------------------------------------------------------------
# Issue 14: each kind of mention the resolver learnt, and look-alikes it refuses
# --------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize(
    ("text", "lad"),
    [
        # postcode districts inside longer messages
        ("any grants for our choir? we're NR2", "E07000148"),
        ("volunteer drivers needed for our club, HU5", "E06000010"),
        ("any grants for our choir? we're nr2", "E07000148"),
        ("Our group is in the NR2 area", "E07000148"),
        ("it's NR2", "E07000148"),
        ("NR2-based choir looking for a treasurer", "E07000148"),
        # everyday short forms
        ("Barrow", "E06000064"),
        ("we run a lunch club in Barrow", "E06000064"),
        ("Leamington", "E07000222"),
        ("leamington spa", "E07000222"),
        ("Newcastle", "E08000021"),
        ("Newcastle, County Down", "N09000010"),
        ("Weston", "E06000024"),
        ("Malvern", "E07000235"),
        ("Frinton", "E07000076"),
        # near / outside
        ("we're a small group near Leeds", "E08000035"),
        ("on the outskirts of Swansea", "W06000011"),
        ("just outside Barrow", "E06000064"),
        # Welsh mutations
        ("yng Nghaerdydd", "W06000015"),
        ("rydyn ni'n grŵp cymunedol yng Nghaerdydd", "W06000015"),
        ("o Gaerfyrddin", "W06000010"),
        ("i Fangor", "W06000002"),
        ("ym Mhontypridd", "W06000016"),
        ("dwi'n byw ym Mangor", "W06000002"),
        ("rydym yn byw yng Ngwynedd", "W06000002"),
        ("gyda Phontypridd", "W06000016"),
        # council codes, superseded ones mapped to their successors
        ("E06000052", "E06000052"),
        ("E08000016", "E08000038"),
        ("our council code is E08000019", "E08000039"),
        ("S12000046", "S12000049"),
    ],
)
def test_issue14_kinds_resolve(
    location_resolver: LocationResolver, text: str, lad: str
) -> None:
    result = location_resolver.resolve(text)
    assert result.best is not None, result.candidates
    assert result.best.lad_code == lad


@pytest.mark.integration
@pytest.mark.parametrize(
    "text",
    [
        "we're on the M1",
        "B2B sales training for our shop",
        "a 4G dongle for the hall",
        "the A1 road is closed",
        "the M25 is busy",
        "junction 3 of the M6",
        "M1/M6 corridor",
        "vitamin B12 tablets",
        "the G20 summit",
        "our CO2 emissions",
        "i went to the shop",
        "Fangor",  # a mutated form needs the word that mutates it
        "Nghaerdydd",
        "E99999999",
    ],
)
def test_issue14_lookalikes_stay_unresolved(
    location_resolver: LocationResolver, text: str
) -> None:
    result = location_resolver.resolve(text)
    assert result.candidates == (), result.candidates


@pytest.mark.integration
def test_two_towns_of_one_size_are_both_offered(
    location_resolver: LocationResolver,
) -> None:
    result = location_resolver.resolve("Henley")
    assert result.ambiguous
    assert {"E07000179", "E07000221"} <= {c.lad_code for c in result.candidates}
    assert all(c.place_type == "Town" for c in result.candidates)
    # a council of the short name elsewhere keeps the name: Kingston upon Thames
    best = location_resolver.resolve("Kingston").best
    assert best is not None and best.lad_code == "E09000021"


@pytest.mark.integration
def test_near_says_a_neighbouring_area_is_possible(
    location_resolver: LocationResolver,
) -> None:
    best = location_resolver.resolve("we're near Hexham").best
    assert best is not None and best.lad_code == "E06000057"
    assert best.note and "near Hexham" in best.note
    best = location_resolver.resolve("we're in Hexham").best
    assert best is not None and best.note is None
