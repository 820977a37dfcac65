"""Load the directory data files into the database in one transaction."""

from __future__ import annotations

import csv
import gzip
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from bot.db.models import (
    Conversation,
    DirectoryImport,
    Handoff,
    LadCodeChange,
    LocalAuthority,
    Nation,
    Organisation,
    OrganisationArea,
    Place,
    Postcode,
    PostcodeDistrict,
    Resource,
)
from bot.directory.edits import (
    Disagreement,
    added_organisation_ids,
    apply_overrides,
)

# The date the shared data was compiled (PROVENANCE.md: "Built on 2026-11-25").
DATA_COMPILED_ON = date(2026, 11, 25)

FILES = (
    "local_authorities.csv",
    "lad_code_history.csv",
    "postcode_districts.csv",
    "ni_postcode_districts.csv",
    "postcodes.csv.gz",
    "places.csv",
    "ni_places.csv",
    "landmarks.csv",
    "lios.csv",
    "closed_organisations.csv",
    "organisation_scope.csv",
    "resources.csv",
    "resource_topics.csv",
    "guidance_new.csv",
    "guidance_new_topics.csv",
    "lio_websites_found.csv",
)
# landmarks.csv kinds -> the place_type they are stored with (an island's or a
# park's name_alt holds several names, ";"-separated); Northern Ireland's named
# neighbourhoods (NISRA lists none) are suburbs like OS Open Names' ones
LANDMARK_TYPES = {"island": "Island", "park": "Park", "neighbourhood": "Suburban Area"}
# Guidance pages and their topic tags, file by file (resources.csv's format).
RESOURCE_FILES = (
    ("resources.csv", "resource_topics.csv"),
    ("guidance_new.csv", "guidance_new_topics.csv"),
)

LAD_RE = re.compile(r"^[ENSW]\d{8}$")
POSTCODE_RE = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}$")
OUTWARD_RE = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]?$")
URL_RE = re.compile(r"^https?://\S+$")
TOPICS = {"funding", "governance", "volunteering", "other"}
NATIONS = {n.value for n in Nation}
POSTCODE_BATCH = 50_000


class DataFileError(Exception):
    """A data file is malformed: names the file, the line and the reason."""

    def __init__(self, file: str, line: int | None, reason: str) -> None:
        self.file, self.line, self.reason = file, line, reason
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {reason}")


@dataclass
class ParsedDirectory:
    """Every row of the directory, validated and ready to insert."""

    authorities: list[dict[str, Any]] = field(default_factory=list)
    districts: list[dict[str, Any]] = field(default_factory=list)
    places: list[dict[str, Any]] = field(default_factory=list)
    organisations: list[dict[str, Any]] = field(default_factory=list)
    areas: list[dict[str, str]] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)
    code_changes: list[dict[str, str]] = field(default_factory=list)


def data_hash(data_dir: Path) -> str:
    """Return a content hash of every directory data file."""
    digest = hashlib.sha256()
    for name in FILES:
        path = data_dir / name
        if not path.exists():
            raise DataFileError(name, None, f"missing from {data_dir}")
        digest.update(name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _rows(path: Path, required: Iterable[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) from a CSV, checking the header and row widths."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as fh:  # type: ignore[operator]
            reader = csv.reader(fh)
            try:
                header = next(reader)
            except StopIteration:
                raise DataFileError(path.name, 1, "file is empty") from None
            missing = [c for c in required if c not in header]
            if missing:
                raise DataFileError(
                    path.name, 1, f"header lacks column(s): {', '.join(missing)}"
                )
            for values in reader:
                line = reader.line_num
                if not any(v.strip() for v in values):
                    continue
                if len(values) != len(header):
                    raise DataFileError(
                        path.name,
                        line,
                        f"expected {len(header)} fields, found {len(values)}",
                    )
                yield line, dict(zip(header, values, strict=True))
    except UnicodeDecodeError as exc:
        raise DataFileError(path.name, None, f"not UTF-8 ({exc.reason})") from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        if isinstance(exc, DataFileError):
            raise
        raise DataFileError(path.name, None, f"cannot read: {exc}") from None
    except csv.Error as exc:
        raise DataFileError(path.name, None, f"malformed CSV: {exc}") from None


def _float(file: str, line: int, value: str, column: str) -> float | None:
    if not value.strip():
        return None
    try:
        return float(value)
    except ValueError:
        raise DataFileError(
            file, line, f"{column} is not a number: {value!r}"
        ) from None


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(";") if v.strip()]


# Superseded council code -> its successor, read from lad_code_history.csv before
# any other file, so an old code anywhere in the data is stored as the current one.
_Successors = dict[str, str]


def _check_lad(
    file: str,
    line: int,
    code: str,
    known: set[str],
    successors: _Successors | None = None,
) -> str:
    if not LAD_RE.match(code):
        raise DataFileError(file, line, f"bad LAD code {code!r}")
    if successors:
        code = successors.get(code, code)
    if known and code not in known:
        raise DataFileError(file, line, f"unknown LAD code {code!r}")
    return code


def _code_history(data_dir: Path, out: ParsedDirectory) -> _Successors:
    name = "lad_code_history.csv"
    successors: _Successors = {}
    for line, r in _rows(
        data_dir / name, ("old_lad_code", "current_lad_code", "is_current")
    ):
        old = _check_lad(name, line, r["old_lad_code"], set())
        new = _check_lad(name, line, r["current_lad_code"], set())
        if old != new:
            successors[old] = new
            out.code_changes.append(
                {
                    "old_code": old,
                    "old_name": r.get("old_lad_name", ""),
                    "current_code": new,
                    "current_name": r.get("current_lad_name", ""),
                }
            )
    # a chain (A -> B -> C) ends at the current code
    for old in list(successors):
        seen = {old}
        while successors[old] in successors and successors[old] not in seen:
            seen.add(successors[old])
            successors[old] = successors[successors[old]]
    for row in out.code_changes:
        row["current_code"] = successors[row["old_code"]]
    return successors


def parse_directory(data_dir: Path) -> ParsedDirectory:
    """Read and validate every file; raise DataFileError on the first problem."""
    out = ParsedDirectory()
    known: set[str] = set()
    succ = _code_history(data_dir, out)

    name = "local_authorities.csv"
    for line, r in _rows(
        data_dir / name, ("lad_code", "lad_name", "la_type", "country")
    ):
        code = _check_lad(name, line, r["lad_code"], set())
        if code in succ:
            raise DataFileError(
                name, line, f"{code} is superseded by {succ[code]}: use that code"
            )
        if r["country"] not in NATIONS:
            raise DataFileError(name, line, f"unknown nation {r['country']!r}")
        if code in known:
            raise DataFileError(name, line, f"duplicate LAD code {code}")
        known.add(code)
        out.authorities.append(
            {
                "code": code,
                "name": r["lad_name"],
                "official_name": r.get("council_official_name") or None,
                "la_type": r["la_type"],
                "nation": Nation(r["country"]),
                "region_code": r.get("region_code") or None,
                "region_name": r.get("region_name") or None,
                "county_code": r.get("county_code") or None,
                "county_name": r.get("county_name") or None,
                "upper_tier_code": r.get("upper_tier_code") or None,
                "upper_tier_name": r.get("upper_tier_name") or None,
                "latitude": _float(name, line, r.get("latitude", ""), "latitude"),
                "longitude": _float(name, line, r.get("longitude", ""), "longitude"),
                "alt_names": _split(r.get("alt_names", "")),
            }
        )
    if not known:
        raise DataFileError(name, None, "no local authorities")

    seen_districts: set[str] = set()
    for name in ("postcode_districts.csv", "ni_postcode_districts.csv"):
        for line, r in _rows(
            data_dir / name,
            ("postcode_district", "postcode_area", "lad_code", "dominant_share"),
        ):
            code = r["postcode_district"].strip().upper()
            if not OUTWARD_RE.match(code):
                raise DataFileError(name, line, f"bad outward code {code!r}")
            if code in seen_districts:
                raise DataFileError(name, line, f"duplicate district {code}")
            seen_districts.add(code)
            lad = _check_lad(name, line, r["lad_code"], known, succ)
            all_lads = [
                _check_lad(name, line, c, known, succ)
                for c in _split(r.get("all_lad_codes", ""))
            ]
            all_lads = list(dict.fromkeys(all_lads))
            share = _float(name, line, r["dominant_share"], "dominant_share")
            out.districts.append(
                {
                    "code": code,
                    "area": r["postcode_area"],
                    "lad_code": lad,
                    "dominant_share": share if share is not None else 1.0,
                    "all_lad_codes": all_lads or [lad],
                    "latitude": _float(name, line, r.get("latitude", ""), "latitude"),
                    "longitude": _float(
                        name, line, r.get("longitude", ""), "longitude"
                    ),
                }
            )

    name = "places.csv"
    for line, r in _rows(
        data_dir / name, ("name", "place_type", "lad_code", "os_open_names_id")
    ):
        if not r["name"].strip():
            raise DataFileError(name, line, "empty place name")
        out.places.append(
            {
                "name": r["name"].strip(),
                "name_alt": r.get("name_alt") or None,
                "name_alt_lang": r.get("name_alt_lang") or None,
                "place_type": r["place_type"],
                "lad_code": _check_lad(name, line, r["lad_code"], known, succ),
                "county": r.get("os_county_2017") or None,
                "postcode_district": r.get("postcode_district") or None,
                "latitude": _float(name, line, r.get("latitude", ""), "latitude"),
                "longitude": _float(name, line, r.get("longitude", ""), "longitude"),
                "source_ref": r["os_open_names_id"],
            }
        )
    name = "ni_places.csv"
    for line, r in _rows(data_dir / name, ("name", "place_type", "lad_code")):
        if not r["name"].strip():
            raise DataFileError(name, line, "empty place name")
        lad = _check_lad(name, line, r["lad_code"], known, succ)
        out.places.append(
            {
                "name": r["name"].strip(),
                "name_alt": r.get("name_alt") or None,
                "name_alt_lang": None,
                "place_type": r["place_type"],
                "lad_code": lad,
                "county": None,
                "postcode_district": None,
                "latitude": None,
                "longitude": None,
                "source_ref": f"nisra:{r['name'].strip()}:{lad}",
            }
        )

    # Islands and parks (GeoNames), each with the council of its nearest place: the
    # resolver matches them like places ("on the Isle of Bute", "Sefton Park").
    name = "landmarks.csv"
    for line, r in _rows(data_dir / name, ("name", "kind", "lad_code", "source")):
        if r["kind"] not in LANDMARK_TYPES:
            raise DataFileError(name, line, f"unknown kind {r['kind']!r}")
        geonames = re.search(r"geonameid (\d+)", r["source"])
        if not r["name"].strip() or geonames is None:
            raise DataFileError(name, line, "a landmark needs a name and its geonameid")
        out.places.append(
            {
                "name": r["name"].strip(),
                "name_alt": r.get("name_alt") or None,
                "name_alt_lang": None,
                "place_type": LANDMARK_TYPES[r["kind"]],
                "lad_code": _check_lad(name, line, r["lad_code"], known, succ),
                "county": None,
                "postcode_district": None,
                "latitude": _float(name, line, r.get("latitude", ""), "latitude"),
                "longitude": _float(name, line, r.get("longitude", ""), "longitude"),
                "source_ref": f"geonames:{geonames.group(1)}",
            }
        )

    scope: dict[str, str] = {}
    name = "organisation_scope.csv"
    for line, r in _rows(data_dir / name, ("organisation_id", "scope")):
        if r["scope"] not in ("national", "regional"):
            raise DataFileError(name, line, f"unknown scope {r['scope']!r}")
        scope[r["organisation_id"]] = r["scope"]

    name = "lios.csv"
    org_ids: set[str] = set()
    for line, r in _rows(
        data_dir / name,
        ("id", "name", "website", "lad_codes", "country", "type", "confidence"),
    ):
        oid = r["id"].strip()
        if not oid or oid in org_ids:
            raise DataFileError(name, line, f"missing or duplicate id {oid!r}")
        org_ids.add(oid)
        if r["country"] not in NATIONS:
            raise DataFileError(name, line, f"unknown nation {r['country']!r}")
        website = r["website"].strip() or None
        if website and not URL_RE.match(website):
            raise DataFileError(name, line, f"website is not a URL: {website!r}")
        lads = [_check_lad(name, line, c, known, succ) for c in _split(r["lad_codes"])]
        if not lads:
            raise DataFileError(name, line, "organisation covers no LAD")
        is_national = scope.get(oid) == "national" or r["type"] == "national body"
        out.organisations.append(
            {
                "id": oid,
                "name": r["name"].strip(),
                "kind": "regional body" if scope.get(oid) == "regional" else r["type"],
                "is_national": is_national,
                "nation": Nation(r["country"]),
                "website": website,
                "email": None,
                "phone": None,
                "confidence": r["confidence"] or "unknown",
                "active": True,
                "source_url": r.get("source") or None,
                "notes": r.get("notes") or None,
                "last_verified": DATA_COMPILED_ON,
                "successor_id": None,
                "closed_note": None,
            }
        )
        out.areas.extend(
            {"organisation_id": oid, "lad_code": c} for c in dict.fromkeys(lads)
        )
    name = "closed_organisations.csv"
    closed: list[tuple[int, str]] = []
    for line, r in _rows(
        data_dir / name,
        ("id", "name", "type", "lad_codes", "country", "closed", "successor_id"),
    ):
        oid = r["id"].strip()
        if not oid or oid in org_ids:
            raise DataFileError(name, line, f"missing or duplicate id {oid!r}")
        org_ids.add(oid)
        if r["country"] not in NATIONS:
            raise DataFileError(name, line, f"unknown nation {r['country']!r}")
        lads = [_check_lad(name, line, c, known, succ) for c in _split(r["lad_codes"])]
        if not lads:
            raise DataFileError(name, line, "organisation covers no LAD")
        successor = r["successor_id"].strip() or None
        if successor:
            closed.append((line, successor))
        out.organisations.append(
            {
                "id": oid,
                "name": r["name"].strip(),
                "kind": r["type"],
                "is_national": False,
                "nation": Nation(r["country"]),
                "website": None,
                "email": None,
                "phone": None,
                "confidence": "high",
                "active": False,
                "source_url": r.get("source") or None,
                "notes": r.get("notes") or None,
                "last_verified": DATA_COMPILED_ON,
                "successor_id": successor,
                "closed_note": r["closed"].strip() or None,
            }
        )
        out.areas.extend(
            {"organisation_id": oid, "lad_code": c} for c in dict.fromkeys(lads)
        )
    for line, successor in closed:
        if successor not in org_ids:
            raise DataFileError(name, line, f"unknown successor {successor!r}")
    name = "lio_websites_found.csv"
    by_id = {o["id"]: o for o in out.organisations}
    for line, r in _rows(data_dir / name, ("organisation_id", "website", "where_seen")):
        org = by_id.get(r["organisation_id"].strip())
        if org is None:
            raise DataFileError(
                name, line, f"unknown organisation {r['organisation_id']!r}"
            )
        website = r["website"].strip()
        if not URL_RE.match(website):
            raise DataFileError(name, line, f"website is not a URL: {website!r}")
        if org["website"] is None:  # a website seen on the body's own pages
            org["website"] = website
    unknown_scope = set(scope) - org_ids
    if unknown_scope:
        raise DataFileError(
            "organisation_scope.csv",
            None,
            f"unknown organisation(s): {sorted(unknown_scope)}",
        )

    seen_resources: set[str] = set()
    for pages, topics in RESOURCE_FILES:
        tags: dict[str, tuple[str, list[str]]] = {}
        for line, r in _rows(data_dir / topics, ("resource_id", "topic", "tags")):
            if r["topic"] not in TOPICS:
                raise DataFileError(topics, line, f"unknown topic {r['topic']!r}")
            tags[r["resource_id"]] = (r["topic"], _split(r["tags"]))
        name = pages
        for line, r in _rows(
            data_dir / name,
            ("id", "topic", "subtopic", "title", "publisher", "url", "nations"),
        ):
            if not URL_RE.match(r["url"].strip()):
                raise DataFileError(name, line, f"url is not a URL: {r['url']!r}")
            nations = _split(r["nations"])
            if not nations or any(n not in NATIONS for n in nations):
                raise DataFileError(name, line, f"bad nations {r['nations']!r}")
            if r["id"] not in tags:
                raise DataFileError(name, line, f"{r['id']} has no row in {topics}")
            if r["id"] in seen_resources:
                raise DataFileError(name, line, f"duplicate resource id {r['id']}")
            seen_resources.add(r["id"])
            topic, tag_list = tags[r["id"]]
            out.resources.append(
                {
                    "id": r["id"],
                    "topic": topic,
                    "tags": tag_list,
                    "source_topic": r["topic"],
                    "source_subtopic": r["subtopic"],
                    "title": r["title"],
                    "publisher": r["publisher"],
                    "url": r["url"].strip(),
                    "nations": nations,
                    "summary": r.get("summary", ""),
                    "last_verified": DATA_COMPILED_ON,
                }
            )

    # Postcodes (1.7 million rows) are validated as they are streamed in at insert
    # time; a bad row there rolls back the caller's transaction like any other.
    return out


def _postcodes(
    data_dir: Path, known: set[str], successors: _Successors
) -> Iterator[tuple[str, str]]:
    name = "postcodes.csv.gz"
    for line, r in _rows(data_dir / name, ("postcode", "lad_code")):
        pc = r["postcode"]
        if not POSTCODE_RE.match(pc):
            raise DataFileError(name, line, f"bad postcode {pc!r}")
        yield pc, _check_lad(name, line, r["lad_code"], known, successors)


def latest_import(session: Session) -> DirectoryImport | None:
    """Return the most recent successful import, if any."""
    return session.scalars(
        select(DirectoryImport).order_by(DirectoryImport.id.desc()).limit(1)
    ).first()


ProgressFn = Callable[[str, int], None]


def _insert_postcodes(
    session: Session,
    data_dir: Path,
    known: set[str],
    advance: ProgressFn,
    successors: _Successors,
) -> int:
    """Stream the postcodes in (COPY on PostgreSQL); return how many."""
    conn = session.connection()
    count = 0
    if conn.dialect.name == "postgresql":
        raw = conn.connection.dbapi_connection
        assert raw is not None
        with raw.cursor() as cur:  # type: ignore[attr-defined]
            with cur.copy("COPY postcodes (postcode, lad_code) FROM STDIN") as copy:
                for count, row in enumerate(_postcodes(data_dir, known, successors), 1):
                    copy.write_row(row)
                    if count % POSTCODE_BATCH == 0:
                        advance("postcodes", POSTCODE_BATCH)
        return count
    batch: list[dict[str, str]] = []
    for pc, lad in _postcodes(data_dir, known, successors):
        batch.append({"postcode": pc, "lad_code": lad})
        if len(batch) == POSTCODE_BATCH:
            conn.execute(insert(Postcode), batch)
            advance("postcodes", len(batch))
            count += len(batch)
            batch = []
    if batch:
        conn.execute(insert(Postcode), batch)
        count += len(batch)
    return count


def _chunks(
    rows: list[dict[str, Any]], size: int = 5000
) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def import_directory(
    session: Session,
    data_dir: Path,
    *,
    force: bool = False,
    progress: ProgressFn | None = None,
    report: list[Disagreement] | None = None,
) -> dict[str, int] | None:
    """Replace the directory with the files' contents; None if already loaded.

    Operators' edits (bot.directory.edits) are laid over the shipped rows again
    afterwards; where the new shipped data and an edit disagree, the edit wins
    and a Disagreement is appended to ``report``. Everything happens in the
    caller's transaction: on any error the caller rolls back and the database
    is left as it was.
    """
    digest = data_hash(data_dir)
    previous = latest_import(session)
    if previous is not None and previous.data_hash == digest and not force:
        return None
    parsed = parse_directory(data_dir)
    advance = progress or (lambda _stage, _n: None)
    known = {a["code"] for a in parsed.authorities}

    conn = session.connection()
    for model in (OrganisationArea, Resource, Place, Postcode, PostcodeDistrict):
        conn.execute(delete(model))
    # Organisations are upserted, not deleted: advisers refer to them.
    # Organisations the operators added (not shipped) stay too.
    current_orgs = {o["id"] for o in parsed.organisations} | added_organisation_ids(
        session
    )
    conn.execute(delete(Organisation).where(Organisation.id.not_in(current_orgs)))
    conn.execute(delete(LocalAuthority))

    conn.execute(insert(LocalAuthority), parsed.authorities)
    advance("authorities", len(parsed.authorities))
    conn.execute(insert(PostcodeDistrict), parsed.districts)
    advance("districts", len(parsed.districts))
    for chunk in _chunks(parsed.places):
        conn.execute(insert(Place), chunk)
        advance("places", len(chunk))
    existing = set(session.scalars(select(Organisation.id)))
    for org in parsed.organisations:
        if org["id"] in existing:
            conn.execute(
                update(Organisation)
                .where(Organisation.id == org["id"])
                .values(**{k: v for k, v in org.items() if k != "id"})
            )
        else:
            conn.execute(insert(Organisation), [org])
    conn.execute(insert(OrganisationArea), parsed.areas)
    advance("organisations", len(parsed.organisations))
    conn.execute(insert(Resource), parsed.resources)
    advance("resources", len(parsed.resources))
    successors = {c["old_code"]: c["current_code"] for c in parsed.code_changes}
    postcode_count = _insert_postcodes(session, data_dir, known, advance, successors)
    conn.execute(delete(LadCodeChange))
    if parsed.code_changes:
        conn.execute(insert(LadCodeChange), parsed.code_changes)
    # Every code the product stores is current: conversations and hand-overs
    # recorded under a superseded code move to its successor.
    for old, new in successors.items():
        conn.execute(
            update(Conversation)
            .where(Conversation.lad_code == old)
            .values(lad_code=new)
        )
        conn.execute(
            update(Handoff).where(Handoff.lad_code == old).values(lad_code=new)
        )
    disagreements = apply_overrides(session, parsed.organisations, parsed.areas)
    if report is not None:
        report.extend(disagreements)

    counts = {
        "local_authorities": len(parsed.authorities),
        "postcode_districts": len(parsed.districts),
        "postcodes": postcode_count,
        "places": len(parsed.places),
        "organisations": len(parsed.organisations),
        "organisation_areas": len(parsed.areas),
        "resources": len(parsed.resources),
        "operator_edits_disagreeing": len(disagreements),
    }
    session.add(DirectoryImport(data_hash=digest, counts=counts))
    session.flush()
    return counts
