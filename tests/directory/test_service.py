"""Directory look-ups on the full data: coverage, fallbacks, two-tier, guidance."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import LocalAuthority, Nation
from bot.directory.service import (
    areas_without_local,
    coverage,
    current_lad_code,
    organisations_for_lad,
    resources_for,
)

pytestmark = pytest.mark.integration


def test_every_local_authority_resolves_to_an_organisation(
    directory_session: Session,
) -> None:
    codes = directory_session.scalars(select(LocalAuthority.code)).all()
    assert len(codes) == 361
    for code in codes:
        area = organisations_for_lad(directory_session, lad_code=code)
        assert area is not None
        assert area.recommended, f"{code} has no organisation"
        if area.is_fallback:
            assert area.national, f"{code} falls back but has no national body"
            assert all(o.scope != "local" for o in area.recommended)


def test_coverage_per_nation_matches_the_data(directory_session: Session) -> None:
    rows = {r.nation: r for r in coverage(directory_session)}
    assert sum(r.lads for r in rows.values()) == 361
    for r in rows.values():
        assert r.with_local + r.regional_only + r.fallback_only == r.lads
    # PROVENANCE.md, with the December 2026 update: 288/296 England, 21/22 Wales,
    # 32/32 Scotland, 11/11 NI
    assert rows[Nation.ENGLAND].with_local == 288
    assert rows[Nation.WALES].with_local == 21
    assert rows[Nation.SCOTLAND].with_local == 32
    assert rows[Nation.NORTHERN_IRELAND].with_local == 11


def test_fallback_is_flagged_and_national(directory_session: Session) -> None:
    newham = organisations_for_lad(directory_session, lad_code="E09000025")
    assert newham is not None and newham.is_fallback
    names = [o.name for o in newham.national]
    assert names[0].startswith("NAVCA") and any(n.startswith("NCVO") for n in names)
    carmarthenshire = organisations_for_lad(directory_session, lad_code="W06000010")
    assert carmarthenshire is not None and carmarthenshire.is_fallback
    assert [o.name for o in carmarthenshire.national][0].startswith("WCVA")


def test_two_tier_district_gets_county_wide_organisations(
    directory_session: Session,
) -> None:
    # Ashford (Kent, E07000105): the county-wide rural community council is a candidate
    area = organisations_for_lad(directory_session, lad_code="E07000105")
    assert area is not None and area.county_name == "Kent"
    assert any("Kent" in o.name for o in area.local)


def test_unknown_lad_is_none(directory_session: Session) -> None:
    assert organisations_for_lad(directory_session, lad_code="E06999999") is None


@pytest.mark.parametrize(
    ("nation", "publisher_word"),
    [
        ("England", "Disclosure and Barring"),
        ("Scotland", "Scotland"),
        ("Northern Ireland", "AccessNI"),
    ],
)
def test_checks_guidance_follows_the_nation(
    directory_session: Session, nation: str, publisher_word: str
) -> None:
    items = resources_for(
        directory_session, topic="volunteering", subtopic="checks", nation=nation
    )
    assert 1 <= len(items) <= 3
    assert all(nation in r.nations for r in items)
    assert any(publisher_word in r.publisher for r in items)


def test_regulator_guidance_follows_the_nation(directory_session: Session) -> None:
    scotland = resources_for(
        directory_session, topic="governance", subtopic="trustees", nation="Scotland"
    )
    assert scotland and all("OSCR" in r.publisher for r in scotland)
    ni = resources_for(
        directory_session,
        topic="governance",
        subtopic="registering",
        nation="Northern Ireland",
    )
    assert ni and all("Northern Ireland" in r.nations for r in ni)
    assert any("Charity Commission for Northern Ireland" in r.publisher for r in ni)
    ew = resources_for(
        directory_session, topic="governance", subtopic="registering", nation="Wales"
    )
    assert ew and all("Wales" in r.nations for r in ew)
    assert any("England and Wales" in r.publisher for r in ew)
    assert not any(
        "OSCR" in r.publisher or "Northern Ireland" in r.publisher for r in ew
    )


def test_nine_areas_have_no_local_organisation(directory_session: Session) -> None:
    gaps = {la.name for la in areas_without_local(directory_session)}
    # PROVENANCE.md, "Remaining gaps (no local organisation row)"
    assert gaps == {
        "Windsor and Maidenhead",
        "Elmbridge",
        "Epsom and Ewell",
        "Mole Valley",
        "Woking",
        "Worcester",
        "Wyre Forest",
        "Newham",
        "Carmarthenshire",
    }


def test_new_local_rows_and_gavo_in_blaenau_gwent(directory_session: Session) -> None:
    richmond = organisations_for_lad(directory_session, lad_code="E09000027")
    assert richmond is not None
    assert "lio259" in [o.id for o in richmond.local]
    blaenau = organisations_for_lad(directory_session, lad_code="W06000019")
    assert blaenau is not None and "lio036" in [o.id for o in blaenau.local]


def test_superseded_codes_map_to_their_successors(directory_session: Session) -> None:
    assert current_lad_code(directory_session, "E08000016") == "E08000038"
    assert current_lad_code(directory_session, "e08000019") == "E08000039"
    assert current_lad_code(directory_session, "E08000038") == "E08000038"
    barnsley = organisations_for_lad(directory_session, lad_code="E08000016")
    assert barnsley is not None and barnsley.lad_code == "E08000038"
    # every code stored is current
    stored = set(directory_session.scalars(select(LocalAuthority.code)))
    assert "E08000016" not in stored and "E08000038" in stored


def test_closed_organisation_names_its_successor(directory_session: Session) -> None:
    doncaster = organisations_for_lad(directory_session, lad_code="E08000017")
    assert doncaster is not None
    assert [c.name for c, _ in doncaster.closed] == ["Doncaster CVS"]
    closed, successor = doncaster.closed[0]
    assert not closed.active and closed.closed_note
    assert successor is not None and successor.id == "lio234"
    assert "closed001" not in [o.id for o in doncaster.local]
