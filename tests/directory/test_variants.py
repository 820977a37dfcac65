"""Unit tests of the derived name variants: short forms and Welsh mutations."""

from __future__ import annotations

import pytest

from bot.directory.variants import (
    Mutated,
    mutation_allowed,
    short_forms,
    welsh_mutations,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("barrow in furness", {"barrow"}),
        ("royal leamington spa", {"leamington spa", "royal leamington", "leamington"}),
        ("great malvern", {"malvern"}),
        ("bognor regis", {"bognor"}),
        ("newcastle upon tyne", {"newcastle"}),
        ("weston super mare", {"weston"}),
        ("clacton on sea", {"clacton"}),
    ],
)
def test_short_forms_drop_the_words_people_drop(key: str, expected: set[str]) -> None:
    assert short_forms(key) == expected


@pytest.mark.parametrize("key", ["leeds", "milton keynes", "bury st edmunds", "rye"])
def test_names_without_droppable_words_have_no_short_form(key: str) -> None:
    assert short_forms(key) == set()


def test_short_forms_keep_at_least_four_letters() -> None:
    assert short_forms("great ayton") == {"ayton"}
    assert short_forms("ely on sea") == set()  # "ely" is too short to stand alone


@pytest.mark.parametrize(
    ("key", "form", "mutation"),
    [
        ("caerdydd", "gaerdydd", "soft"),
        ("caerdydd", "nghaerdydd", "nasal"),
        ("caerdydd", "chaerdydd", "aspirate"),
        ("bangor", "fangor", "soft"),
        ("bangor", "mangor", "nasal"),
        ("pontypridd", "mhontypridd", "nasal"),
        ("pontypridd", "bontypridd", "soft"),
        ("tregaron", "nhregaron", "nasal"),
        ("gwynedd", "wynedd", "soft"),
        ("llanelli", "lanelli", "soft"),
        ("rhyl", "ryl", "soft"),
        ("dolgellau", "nolgellau", "nasal"),
        ("merthyr tydfil", "ferthyr tydfil", "soft"),
    ],
)
def test_welsh_mutations(key: str, form: str, mutation: str) -> None:
    assert welsh_mutations(key)[form] == mutation


def test_digraphs_that_never_mutate() -> None:
    assert welsh_mutations("chepstow") == {}
    assert welsh_mutations("thornhill") == {}
    assert "lanelli" in welsh_mutations("llanelli")  # ll -> l, not l -> ...
    assert welsh_mutations("abertawe") == {}  # vowels do not mutate


def test_a_mutation_needs_its_own_trigger() -> None:
    nasal = Mutated("nasal", "caerdydd")
    soft = Mutated("soft", "bangor")
    assert mutation_allowed(nasal, "yng", "yng", True, True)
    assert not mutation_allowed(nasal, "i", "i", True, True)
    assert mutation_allowed(soft, "i", "i", True, True)
    assert not mutation_allowed(soft, "yng", "yng", True, True)


def test_english_i_and_dropped_g_are_guarded() -> None:
    gwent = Mutated("soft", "gwent")
    assert gwent.dropped_g
    assert not mutation_allowed(gwent, "i", "i", False, False)  # "i went home"
    assert mutation_allowed(gwent, "i", "i", True, True)  # "i Went" (capitalised)
    assert not mutation_allowed(Mutated("soft", "bangor"), "i", "I", True, True)
