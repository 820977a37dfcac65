"""Importing the directory: counts, idempotence, and broken files rejected whole."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.db.models import (
    DirectoryImport,
    LocalAuthority,
    Organisation,
    OrganisationArea,
    Place,
    Postcode,
    Resource,
)
from bot.db.session import get_sessionmaker
from bot.directory.importer import DataFileError, import_directory

pytestmark = pytest.mark.integration

MODELS = (LocalAuthority, Place, Postcode, Organisation, OrganisationArea, Resource)


def counts(url: str) -> dict[str, int]:
    with get_sessionmaker(url)() as s:
        out = {
            m.__tablename__: s.scalar(select(func.count()).select_from(m))
            for m in MODELS
        }
        out["imports"] = s.scalar(select(func.count()).select_from(DirectoryImport))
        return out  # type: ignore[return-value]


def run_import(url: str, data_dir: Path, force: bool = False) -> dict[str, int] | None:
    with get_sessionmaker(url)() as session, session.begin():
        return import_directory(session, data_dir, force=force)


def test_import_loads_every_file_and_counts(
    migrated_db_url: str, small_data_dir: Path
) -> None:
    result = run_import(migrated_db_url, small_data_dir)
    assert result is not None
    assert result["local_authorities"] == 361
    assert result["organisations"] == 258 + 16 + 8  # + lio259-275, closed rows
    assert result["resources"] == 30 + 141  # resources.csv + guidance_new.csv
    c = counts(migrated_db_url)
    assert c["local_authorities"] == 361
    assert c["postcodes"] == result["postcodes"] > 2000
    assert c["places"] == result["places"]


def test_importing_the_same_data_twice_changes_nothing(
    migrated_db_url: str, small_data_dir: Path
) -> None:
    run_import(migrated_db_url, small_data_dir)
    before = counts(migrated_db_url)
    assert run_import(migrated_db_url, small_data_dir) is None
    assert counts(migrated_db_url) == before
    # forcing it replaces the rows with the same rows
    run_import(migrated_db_url, small_data_dir, force=True)
    after = counts(migrated_db_url)
    assert {k: v for k, v in after.items() if k != "imports"} == {
        k: v for k, v in before.items() if k != "imports"
    }


def _break(data_dir: Path, tmp_path: Path, name: str, old: str, new: str) -> Path:
    broken = tmp_path / "broken"
    shutil.copytree(data_dir, broken)
    path = broken / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return broken


@pytest.mark.parametrize(
    ("name", "old", "new", "reason"),
    [
        ("lios.csv", "https://scvo.scot", "not a url", "website is not a URL"),
        ("lios.csv", ";E06000002;", ";E06999999;", "unknown LAD code 'E06999999'"),
        (
            "local_authorities.csv",
            "lad_name,",
            "lad_nme,",
            "header lacks column(s): lad_name",
        ),
        ("resources.csv", "England;Wales,", "England;Narnia,", "bad nations"),
        (
            "ni_places.csv",
            "Aghagallon,,settlement",
            "Aghagallon,settlement",
            "expected",
        ),
        ("resource_topics.csv", "res007,funding", "res007,fundingg", "unknown topic"),
    ],
)
def test_a_broken_file_is_rejected_with_file_line_and_reason_and_nothing_changes(
    migrated_db_url: str,
    small_data_dir: Path,
    tmp_path: Path,
    name: str,
    old: str,
    new: str,
    reason: str,
) -> None:
    run_import(migrated_db_url, small_data_dir)
    before = counts(migrated_db_url)
    broken = _break(small_data_dir, tmp_path, name, old, new)
    with pytest.raises(DataFileError) as info:
        run_import(migrated_db_url, broken)
    assert info.value.file == name
    assert reason in info.value.reason
    if name != "local_authorities.csv":
        assert info.value.line is not None and info.value.line > 1
    assert counts(migrated_db_url) == before


def test_bad_postcode_file_is_rejected_after_other_rows_would_have_loaded(
    migrated_db_url: str, small_data_dir: Path, tmp_path: Path
) -> None:
    """The postcode file is read last; an error there still rolls everything back."""
    broken = tmp_path / "broken"
    shutil.copytree(small_data_dir, broken)
    with gzip.open(broken / "postcodes.csv.gz", "at") as fh:
        fh.write("NOT A POSTCODE,E06000052\n")
    with pytest.raises(DataFileError, match="bad postcode"):
        run_import(migrated_db_url, broken)
    assert counts(migrated_db_url)["local_authorities"] == 0
    assert counts(migrated_db_url)["imports"] == 0


def test_not_utf8_and_not_gzip(
    migrated_db_url: str, small_data_dir: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(small_data_dir, broken)
    (broken / "resources.csv").write_bytes(b"id,topic\n\xff\xfe\n")
    with pytest.raises(DataFileError, match="not UTF-8|header lacks"):
        run_import(migrated_db_url, broken)
    shutil.copy(small_data_dir / "resources.csv", broken / "resources.csv")
    (broken / "postcodes.csv.gz").write_bytes(b"this is not gzip")
    with pytest.raises(DataFileError) as info:
        run_import(migrated_db_url, broken)
    assert info.value.file == "postcodes.csv.gz"


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_cli_reports_a_broken_file_in_one_line(
    migrated_db_url: str, small_data_dir: Path, tmp_path: Path
) -> None:
    broken = _break(small_data_dir, tmp_path, "lios.csv", "https://scvo.scot", "nope")
    result = _cli(
        "directory",
        "import",
        "--data-dir",
        str(broken),
        env={"DATABASE_URL": migrated_db_url},
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: bad data file lios.csv:")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("empty_db_url", ["postgresql"], indirect=True)
def test_cli_reports_an_unreachable_database_in_one_line(empty_db_url: str) -> None:
    result = _cli(
        "db", "upgrade", env={"DATABASE_URL": "postgresql://127.0.0.1:1/nope"}
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "cannot use the database" in lines[0] and "DATABASE_URL" in lines[0]
