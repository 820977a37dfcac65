"""The operators' edit layer: recorded, reversible, and kept across re-imports."""

from __future__ import annotations

import csv
import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.db.models import (
    Nation,
    Organisation,
    OrganisationArea,
    OrganisationEdit,
    OrganisationOverride,
)
from bot.db.session import get_sessionmaker
from bot.directory.edits import (
    Disagreement,
    EditError,
    add_organisation,
    close_organisation,
    edit_organisation,
    history,
    is_stale,
    revert_edit,
    search_organisations,
    snapshot,
)
from bot.directory.importer import import_directory
from bot.directory.service import organisations_for_lad

pytestmark = pytest.mark.integration

GAVO = "lio036"  # GAVO: Caerphilly, Monmouthshire, Newport, Blaenau Gwent


def reimport(url: str, data_dir: Path) -> list[Disagreement]:
    report: list[Disagreement] = []
    with get_sessionmaker(url)() as session, session.begin():
        assert import_directory(session, data_dir, force=True, report=report)
    return report


@pytest.fixture
def loaded(migrated_db_url: str, small_data_dir: Path) -> str:
    with get_sessionmaker(migrated_db_url)() as session, session.begin():
        import_directory(session, small_data_dir)
    return migrated_db_url


def test_an_edit_is_recorded_with_who_when_before_and_after(loaded: str) -> None:
    with get_sessionmaker(loaded)() as s, s.begin():
        before = snapshot(s, GAVO)
        edit = edit_organisation(
            s,
            organisation_id=GAVO,
            actor="operator1",
            changes={"phone": "01632 960001", "website": "https://gavo.example.org"},
        )
        assert edit is not None
        assert edit.actor == "operator1" and edit.action == "edit"
        assert edit.at is not None and edit.at.tzinfo is not None
        assert edit.before == {"phone": None, "website": before["website"]}
        assert edit.after == {
            "phone": "01632 960001",
            "website": "https://gavo.example.org",
        }
        org = s.get(Organisation, GAVO)
        assert org is not None and org.phone == "01632 960001"
        # the same values again change nothing and record nothing
        assert (
            edit_organisation(
                s,
                organisation_id=GAVO,
                actor="operator1",
                changes={"phone": "01632 960001"},
            )
            is None
        )
        assert len(history(s, organisation_id=GAVO)) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"website": "www.example.org"}, "website"),
        ({"email": "not-an-email"}, "email"),
        ({"phone": "call us"}, "phone"),
        ({"confidence": "certain"}, "confidence"),
        ({"lad_codes": ["E99999999"]}, "council areas"),
        ({"lad_codes": []}, "council areas"),
        ({"successor_id": "lio999999"}, "successor"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_values_are_refused_and_nothing_changes(
    loaded: str, changes: dict[str, object], field: str
) -> None:
    with get_sessionmaker(loaded)() as s, s.begin():
        with pytest.raises(EditError, match=field):
            edit_organisation(s, organisation_id=GAVO, actor="op", changes=changes)
        assert history(s, organisation_id=GAVO) == []


def test_old_council_codes_are_stored_as_their_successors(loaded: str) -> None:
    with get_sessionmaker(loaded)() as s, s.begin():
        edit_organisation(
            s,
            organisation_id=GAVO,
            actor="op",
            changes={"lad_codes": ["W06000022", "E08000016"]},  # Barnsley's old code
        )
        assert snapshot(s, GAVO)["lad_codes"] == ["E08000038", "W06000022"]


def test_undo_restores_the_shipped_values(loaded: str) -> None:
    with get_sessionmaker(loaded)() as s, s.begin():
        shipped = snapshot(s, GAVO)
        edit = edit_organisation(
            s,
            organisation_id=GAVO,
            actor="op",
            changes={"name": "GAVO", "lad_codes": ["W06000022"]},
        )
        assert edit is not None
        undo = revert_edit(s, edit_id=edit.id, actor="op2")
        assert undo.action == "revert" and undo.reverts_id == edit.id
        assert snapshot(s, GAVO) == shipped
        assert s.get(OrganisationEdit, edit.id).reverted_by_id == undo.id  # type: ignore[union-attr]
        override = s.get(OrganisationOverride, GAVO)
        assert override is not None and override.values == {}  # back to shipped
        with pytest.raises(EditError, match="already undone"):
            revert_edit(s, edit_id=edit.id, actor="op2")


def test_edits_survive_a_reimport_and_disagreements_are_reported(
    loaded: str, small_data_dir: Path, tmp_path: Path
) -> None:
    with get_sessionmaker(loaded)() as s, s.begin():
        edit_organisation(
            s,
            organisation_id=GAVO,
            actor="op",
            changes={
                "name": "GAVO (operators' name)",
                "phone": "01632 960001",
                "lad_codes": ["W06000018", "W06000022"],
                "last_verified": "2026-11-30",
            },
        )
        added = add_organisation(
            s,
            actor="op",
            fields={
                "name": "Newham Test Network",
                "kind": "CVS",
                "lad_codes": ["E09000025"],
                "confidence": "low",
            },
            nation=Nation.ENGLAND,
        )
        close_organisation(
            s, organisation_id="lio234", actor="op", successor_id=added, note="in 2026"
        )
    # the same shipped data again: every edit kept, nothing disagrees
    assert reimport(loaded, small_data_dir) == []
    with get_sessionmaker(loaded)() as s:
        snap = snapshot(s, GAVO)
        assert (
            snap["name"] == "GAVO (operators' name)" and snap["phone"] == "01632 960001"
        )
        assert snap["lad_codes"] == ["W06000018", "W06000022"]
        assert snap["last_verified"] == "2026-11-30"
        newham = organisations_for_lad(s, lad_code="E09000025")
        assert newham is not None and [o.id for o in newham.local] == [added]
        doncaster = s.get(Organisation, "lio234")
        assert doncaster is not None and not doncaster.active
        assert doncaster.successor_id == added
    # the shipped data changes the same field: the edit wins and the import says so
    changed = tmp_path / "data"
    shutil.copytree(small_data_dir, changed)
    lios = changed / "lios.csv"
    with lios.open(newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        if row["id"] == GAVO:
            row["name"] = "GAVO (renamed upstream)"
    with lios.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    report = reimport(loaded, changed)
    assert [(d.organisation_id, d.field) for d in report] == [(GAVO, "name")]
    assert report[0].shipped_now == "GAVO (renamed upstream)"
    assert "GAVO (operators' name)" in report[0].describe()
    with get_sessionmaker(loaded)() as s:
        assert snapshot(s, GAVO)["name"] == "GAVO (operators' name)"


def test_an_added_organisation_can_be_undone(loaded: str) -> None:
    with get_sessionmaker(loaded)() as s, s.begin():
        oid = add_organisation(
            s,
            actor="op",
            fields={
                "name": "Woking Test Hub",
                "kind": "CVS",
                "lad_codes": ["E07000217"],
                "confidence": "medium",
                "website": "https://woking-hub.example.org",
            },
            nation=Nation.ENGLAND,
        )
        assert oid.startswith("op")
        add = history(s, organisation_id=oid)[0]
        assert add.action == "add" and add.after["name"] == "Woking Test Hub"
        revert_edit(s, edit_id=add.id, actor="op")
        org = s.get(Organisation, oid)
        assert org is not None and not org.active
        codes = s.scalars(
            select(OrganisationArea.lad_code).where(
                OrganisationArea.organisation_id == oid
            )
        ).all()
        assert codes == ["E07000217"]


def test_staleness_and_search(loaded: str) -> None:
    assert is_stale(None)
    assert is_stale(date(2025, 11, 1), today=date(2026, 12, 1))
    assert not is_stale(date(2026, 1, 1), today=date(2026, 12, 1))
    with get_sessionmaker(loaded)() as s:
        assert GAVO in [o.id for o in search_organisations(s, query="gavo")]
        assert GAVO in [o.id for o in search_organisations(s, query="Blaenau Gwent")]
        assert GAVO in [o.id for o in search_organisations(s, query="W06000019")]
